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
   */
  routed(message: Message): void;
  /**
   * `topicFilter` got its first subscription in this broker (from a client, or a session
   * restored by `open()`). A shared filter comes as written: `$share/{group}/{filter}`.
   */
  filterAdded(topicFilter: string): void;
  /** `topicFilter` lost its last subscription in this broker (unsubscribe, session ended). */
  filterRemoved(topicFilter: string): void;
}
