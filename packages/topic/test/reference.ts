// A small, obviously correct model of MQTT topic matching, for the property tests: split both
// strings and compare level by level. No trie, no cleverness.

/** MQTT 3.1.1 §4.7 / MQTT 5 §4.7 matching of one (non-shared) filter against a topic name. */
export function referenceMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  // MQTT-4.7.2-1: a filter starting with a wildcard does not match a topic starting with '$'
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true; // the rest, including no level at all
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** `{ group, filter }` of `$share/{group}/{filter}`, or the filter itself with no group. */
export function referenceShare(topicFilter: string): { group: string | undefined; filter: string } {
  if (!topicFilter.startsWith('$share/')) return { group: undefined, filter: topicFilter };
  const rest = topicFilter.slice('$share/'.length);
  const slash = rest.indexOf('/');
  return { group: rest.slice(0, slash), filter: rest.slice(slash + 1) };
}

/** Validity of a topic name, written from the spec's sentences. */
export function referenceValidName(name: string): boolean {
  return (
    name.length > 0 &&
    Buffer.byteLength(name, 'utf8') <= 65535 &&
    !name.includes('\u0000') &&
    !name.includes('+') &&
    !name.includes('#')
  );
}

/** Validity of a topic filter, written from the spec's sentences. */
export function referenceValidFilter(topicFilter: string): boolean {
  if (topicFilter.length === 0 || Buffer.byteLength(topicFilter, 'utf8') > 65535) return false;
  if (topicFilter.includes('\u0000')) return false;
  let filter = topicFilter;
  if (topicFilter.startsWith('$share/')) {
    const parts = topicFilter.split('/');
    const group = parts[1]!;
    if (group === '' || group.includes('+') || group.includes('#') || parts.length < 3) return false;
    filter = parts.slice(2).join('/');
    if (filter === '') return false;
  }
  const levels = filter.split('/');
  return levels.every((level, i) => {
    if (level.includes('+') && level !== '+') return false;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return false;
    return true;
  });
}
