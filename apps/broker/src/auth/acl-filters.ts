/*
 * Relations between two topic filters, given as levels (`filter.split('/')`), for ACL rules:
 * which rule is the more specific, whether a rule covers a whole subscription, and whether
 * they share any topic. `$` topics follow the matching rule: a filter starting with a wildcard
 * matches none of them [MQTT-4.7.2-1].
 */

/**
 * Higher is more specific: literal levels count most, then `+` levels (narrower than `#`),
 * then a filter without `#`. `a/b/c` > `a/+/c` > `a/b/#` > `a/#` > `#`.
 */
export function specificity(levels: readonly string[]): number {
  let literal = 0;
  let plus = 0;
  let hash = 0;
  for (const level of levels) {
    if (level === '#') hash = 1;
    else if (level === '+') plus++;
    else literal++;
  }
  return literal * 65_536 + plus * 2 + (1 - hash);
}

function startsWithWildcard(levels: readonly string[]): boolean {
  return levels[0] === '+' || levels[0] === '#';
}

function startsWithDollar(levels: readonly string[]): boolean {
  return levels[0] !== undefined && levels[0].charCodeAt(0) === 0x24;
}

/** True if every topic `filter` matches is matched by `rule`. */
export function covers(rule: readonly string[], filter: readonly string[]): boolean {
  if (startsWithWildcard(rule) && startsWithDollar(filter)) return false;
  for (let i = 0; i < rule.length; i++) {
    const r = rule[i]!;
    if (r === '#') return true;
    const f = filter[i];
    if (f === undefined || f === '#') return false;
    if (r === '+') continue;
    if (f === '+' || f !== r) return false;
  }
  return rule.length === filter.length;
}

/** True if some topic is matched by both filters. */
export function intersects(a: readonly string[], b: readonly string[]): boolean {
  if ((startsWithWildcard(a) && startsWithDollar(b)) || (startsWithWildcard(b) && startsWithDollar(a)))
    return false;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === '#' || y === '#') return true;
    if (x !== '+' && y !== '+' && x !== y) return false;
  }
  if (a.length === b.length) return true;
  // `a/#` also matches `a`: the longer one may end right after the shorter with `#`.
  const longer = a.length > b.length ? a : b;
  return longer[length] === '#' && longer.length === length + 1;
}
