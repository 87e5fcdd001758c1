import type { Message } from './message.js';

/**
 * The seam for a layer that spreads messages beyond this broker (a cluster of nodes). Given as
 * `BrokerOptions.fanOut`; unset, the router pays one `undefined` check per routed message and
 * one per subscription change. Every method is called synchronously and must not throw (an
 * exception would reach the publishing client's connection).
 */
export interface FanOutHook {
  /**
   * A message was routed here: from a client, a will, or `Broker.publish`. Never called for
   * `Broker.deliverRemote`, so a message injected from another node is never forwarded again.
   * Called after local delivery, in routing order (per publisher: the order it published).
   *
   * A promise returned for a QoS 1/2 message from a client holds its acknowledgement (PUBACK,
   * PUBREC) until it resolves, as the store's flush does: e.g. until the nodes it was handed to
   * made it durable. Return the same promise for the messages of one turn, so their acks wait
   * together. It must not reject (the acknowledgement would never be sent); `undefined` (or
   * nothing): the acknowledgement does not wait for this hook.
   */
  routed(message: Message): PromiseLike<void> | undefined | void;
  /**
   * `topicFilter` got its first subscription in this broker (from a client, or a session
   * restored by `open()`). A shared filter comes as written: `$share/{group}/{filter}`.
   */
  filterAdded(topicFilter: string): void;
  /** `topicFilter` lost its last subscription in this broker (unsubscribe, session ended). */
  filterRemoved(topicFilter: string): void;
  /**
   * Optional: a share group with members here matches `message` (routed here, not a remote one).
   * `true`: one of its members here gets it; `false`: not here (the hook hands the message to
   * a member elsewhere), so that each message reaches one member of the group across brokers.
   * Called before `routed` for the same message. Unset: every broker serves its own members.
   */
  sharedHere?(sharedFilter: string, message: Message): boolean;
}
