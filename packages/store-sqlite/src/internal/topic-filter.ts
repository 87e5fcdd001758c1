/**
 * Which retained rows a filter can match, as a key range on `retained.topic_name`, so that the
 * database reads only that part of the index; `topicMatches` then decides exactly.
 * - no wildcard: the one topic;
 * - wildcard at the first level: every row;
 * - otherwise the literal levels before the first wildcard, `a/b`: `[a/b, a/b0)` holds `a/b`
 *   (the parent `a/b/#` matches) and every `a/b/...`, since `0` follows `/` in byte order.
 */
export type RetainedScan =
  | { readonly kind: 'exact'; readonly topicName: string }
  | { readonly kind: 'all' }
  | { readonly kind: 'range'; readonly from: string; readonly to: string };

export function retainedScan(filterLevels: readonly string[]): RetainedScan {
  const wildcard = filterLevels.findIndex((level) => level === '+' || level === '#');
  if (wildcard === -1) return { kind: 'exact', topicName: filterLevels.join('/') };
  if (wildcard === 0) return { kind: 'all' };
  const from = filterLevels.slice(0, wildcard).join('/');
  return { kind: 'range', from, to: `${from}0` };
}

/**
 * True if `topicName` matches the filter (split on `/`): `+` matches one level (an empty one
 * too), `#` the rest including the parent level, and a filter starting with a wildcard does
 * not match topics starting with `$` (MQTT 5.0 §4.7.2).
 */
export function topicMatches(filterLevels: readonly string[], topicName: string): boolean {
  const first = filterLevels[0];
  if (topicName.charCodeAt(0) === 0x24 /* $ */ && (first === '+' || first === '#')) return false;
  const topicLevels = topicName.split('/');
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i];
    if (level === '#') return true;
    if (i >= topicLevels.length) return false;
    if (level !== '+' && level !== topicLevels[i]) return false;
  }
  return topicLevels.length === filterLevels.length;
}
