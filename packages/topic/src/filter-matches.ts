/**
 * True if `topicName` matches a topic filter given as its levels (`filter.split('/')`, split
 * once by the caller when checking many topics): `+` matches one level (an empty one too), `#`
 * the rest including the parent level, and a filter starting with a wildcard does not match
 * topics starting with `$` [MQTT-4.7.2-1]. One filter against one topic; for many filters use
 * `SubscriptionTrie`. Used by stores to match retained messages.
 */
export function filterLevelsMatch(filterLevels: readonly string[], topicName: string): boolean {
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
