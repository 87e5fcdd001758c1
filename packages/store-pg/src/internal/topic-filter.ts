/**
 * The SQL side of `findRetained`: a prefilter on the literal part of a topic filter before
 * its first wildcard. Exact matching (`+`, `#`, `$` rules) is the router's `filterLevelsMatch`.
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
