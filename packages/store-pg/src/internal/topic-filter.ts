/**
 * The SQL side of `findRetained`: a prefilter on the literal part of a topic filter before
 * its first wildcard. Exact matching (`+`, `#`, `$` rules) is `matchesTopicFilter`.
 */
export type RetainedQuery =
  | { readonly kind: 'exact'; readonly topicName: string }
  | { readonly kind: 'prefix'; readonly pattern: string }
  /** The filter starts with a wildcard: every topic not starting with `$`. */
  | { readonly kind: 'all' };

export function retainedQuery(topicFilter: string): RetainedQuery {
  const plus = topicFilter.indexOf('+');
  const hash = topicFilter.indexOf('#');
  const first = plus === -1 ? hash : hash === -1 ? plus : Math.min(plus, hash);
  if (first === -1) return { kind: 'exact', topicName: topicFilter };
  let prefix = topicFilter.slice(0, first);
  // `a/#` also matches `a` itself (the parent level): drop the separator from the prefix.
  if (first === hash && prefix.endsWith('/')) prefix = prefix.slice(0, -1);
  if (prefix === '') return { kind: 'all' };
  return { kind: 'prefix', pattern: `${escapeLike(prefix)}%` };
}

/** `text` with LIKE's special characters escaped by `\` (the default escape character). */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, '\\$&');
}

/**
 * MQTT matching (§4.7): `+` matches exactly one level, `#` any number including the parent
 * level, and filters starting with a wildcard do not match topics starting with `$`.
 */
export function matchesTopicFilter(filterLevels: readonly string[], topicName: string): boolean {
  const first = filterLevels[0];
  if (topicName.startsWith('$') && (first === '+' || first === '#')) return false;
  const topicLevels = topicName.split('/');
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i];
    if (level === '#') return true;
    if (i >= topicLevels.length) return false;
    if (level !== '+' && level !== topicLevels[i]) return false;
  }
  return topicLevels.length === filterLevels.length;
}
