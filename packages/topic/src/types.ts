/** MQTT Quality of Service level. */
export type QoS = 0 | 1 | 2;

/**
 * Per-subscription options the trie stores and returns untouched. Only `qos` is required; the
 * MQTT 5 fields are read by `DeliveryMerger` (a codec `Subscription` fits as is).
 */
export interface SubscriptionOptions {
  readonly qos: QoS;
  /** MQTT 5: do not deliver the subscriber's own publishes (`DeliveryMerger` applies it). */
  readonly noLocal?: boolean;
  /** MQTT 5: keep the RETAIN flag as published. */
  readonly retainAsPublished?: boolean;
  /** MQTT 5: 0 send retained on subscribe, 1 only if new, 2 never (the trie ignores it). */
  readonly retainHandling?: 0 | 1 | 2;
  /** MQTT 5: the Subscription Identifier of the SUBSCRIBE that made this subscription. */
  readonly subscriptionIdentifier?: number;
}

/**
 * One subscription as stored in the trie and returned by `match`. The same object is returned
 * by every match (no copy per match), so treat it as read-only; `options` is replaced in place
 * when the subscriber subscribes to the same filter again.
 */
export interface Subscription<S, O extends SubscriptionOptions = SubscriptionOptions> {
  readonly subscriber: S;
  /** The filter as subscribed, including any `$share/{group}/` prefix. */
  readonly topicFilter: string;
  /** The ShareName for a shared subscription, `undefined` otherwise. */
  readonly shareGroup: string | undefined;
  readonly options: O;
}
