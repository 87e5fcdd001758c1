export type { Delivery } from './deliveries.js';
export { DeliveryMerger, mergeBySubscriber } from './deliveries.js';
export type { TopicErrorCode } from './errors.js';
export { isTopicError, TopicError } from './errors.js';
export { filterLevelsMatch } from './filter-matches.js';
export type { ShareGroupState, SharePolicy } from './share-policy.js';
export { hashSharePolicy, randomSharePolicy, roundRobinSharePolicy } from './share-policy.js';
export type { SubscriptionTrieOptions } from './subscription-trie.js';
export { DEFAULT_MAX_LEVELS, SubscriptionTrie } from './subscription-trie.js';
export type { QoS, Subscription, SubscriptionOptions } from './types.js';
export type { SharedFilter } from './validate.js';
export {
  isValidTopicFilter,
  isValidTopicName,
  MAX_TOPIC_BYTES,
  parseSharedFilter,
  topicFilterError,
  topicNameError,
} from './validate.js';
