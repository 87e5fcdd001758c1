/**
 * Which retained rows a filter can match, as a key range on `retained.topic_name`, so that the
 * database reads only that part of the index; `filterLevelsMatch` (router) then decides exactly.
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
