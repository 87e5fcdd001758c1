// Every public type is reachable from the package root and keeps its shape (checked by tsc).
import { expectTypeOf } from 'vitest';
import {
  type Delivery,
  DeliveryMerger,
  isTopicError,
  type QoS,
  type SharedFilter,
  type ShareGroupState,
  type SharePolicy,
  type Subscription,
  type SubscriptionOptions,
  SubscriptionTrie,
  type SubscriptionTrieOptions,
  type TopicError,
  type TopicErrorCode,
  topicFilterError,
} from '../src/index.js';

interface Session {
  clientId: string;
}
interface V5Options extends SubscriptionOptions {
  readonly noLocal: boolean;
}

const options: SubscriptionTrieOptions<Session> = { maxLevels: 10, isAvailable: (s) => s.clientId !== '' };
const trie = new SubscriptionTrie<Session, V5Options>(options);
expectTypeOf(trie.add('a/+', { clientId: 'c' }, { qos: 1, noLocal: true })).toEqualTypeOf<boolean>();
expectTypeOf(trie.match('a/b')).toEqualTypeOf<Subscription<Session, V5Options>[]>();
expectTypeOf(trie.match('a/b')[0]!.options.noLocal).toEqualTypeOf<boolean>();
expectTypeOf(trie.match('a/b')[0]!.shareGroup).toEqualTypeOf<string | undefined>();
// @ts-expect-error options must carry a qos
trie.add('a', { clientId: 'c' }, { noLocal: true });

const merger = new DeliveryMerger<Session, V5Options>();
expectTypeOf(merger.deliveries).toEqualTypeOf<Delivery<Session, V5Options>[]>();
expectTypeOf<Delivery<Session>['qos']>().toEqualTypeOf<QoS>();
expectTypeOf<Delivery<Session>['subscriptionIdentifiers']>().toEqualTypeOf<number[] | undefined>();

expectTypeOf(topicFilterError('a')).toEqualTypeOf<TopicError | undefined>();
expectTypeOf<TopicError['code']>().toEqualTypeOf<TopicErrorCode>();
expectTypeOf<SharedFilter>().toEqualTypeOf<{ readonly group: string; readonly topicFilter: string }>();
expectTypeOf<SharePolicy['first']>().parameters.toEqualTypeOf<
  [ShareGroupState, string, string | undefined]
>();

const unknownError: unknown = new Error('x');
if (isTopicError(unknownError)) expectTypeOf(unknownError.code).toEqualTypeOf<TopicErrorCode>();
