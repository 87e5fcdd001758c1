import type { QoS } from '@mqtt-adapt/codec';
import type { DeliveryMerger } from '@mqtt-adapt/topic';
import type { DeliverRemoteOptions } from './broker.js';
import type { BrokerCore } from './broker-core.js';
import type { Connection } from './connection.js';
import type { DeliveryEncoder } from './delivery-encoder.js';
import type { RoutedMessage } from './message.js';
import type { Session, SubscriptionOptions } from './session.js';

const NO_FILTERS: ReadonlySet<string> = new Set();

/**
 * `BrokerCore.route`'s delivery loop in cluster mode (a `FanOutHook` with `sharedHere`, or a
 * message from another broker): which broker serves each share group (remote: the sender
 * named it; local: the hook decides), re-sends limited to some sessions (`only`), and the
 * settling of the share deliveries a sender waits for (`sharedSettled`).
 */
export function deliverClustered(
  core: BrokerCore,
  merger: DeliveryMerger<Session, SubscriptionOptions>,
  message: RoutedMessage,
  encoder: DeliveryEncoder,
  source: Connection | undefined,
  remote: boolean,
  remoteOptions: DeliverRemoteOptions | undefined,
): void {
  const count = merger.length;
  const deliveries = merger.deliveries;
  const checkRead = core.hooks.authorizeRead !== undefined;
  const only = remoteOptions?.only;
  const remoteShared = remote ? (remoteOptions?.sharedFilters ?? NO_FILTERS) : undefined;
  const fanOut = core.fanOut;
  const sharedHere = remote ? undefined : fanOut?.sharedHere;
  // A sender waits to hear of each group it named: the ones served here are noted.
  const settle = message.sharedSettled;
  const served: string[] | undefined = settle === undefined ? undefined : [];
  let i = 0;
  while (i < count) {
    try {
      for (; i < count; i++) {
        const delivery = deliveries[i]!;
        const shared = delivery.shareGroup === undefined ? undefined : delivery.subscription.topicFilter;
        if (shared === undefined) {
          if (only !== undefined && !only(delivery.subscriber.clientId)) continue;
        } else if (remoteShared !== undefined) {
          if (!remoteShared.has(shared)) continue;
          served?.push(shared);
        } else if (sharedHere !== undefined && !sharedHere.call(fanOut, shared, message)) continue;
        if (checkRead && !core.mayRead(delivery.subscriber, message.topicName)) {
          // Denied by policy, as on one broker: no other member is tried.
          if (shared !== undefined) settle?.(shared, 'delivered');
          continue;
        }
        const qos = Math.min(message.qos, delivery.qos) as QoS;
        // Forwarded copies carry RETAIN 0 [MQTT-3.3.1-9] unless 5.0 Retain As Published asks otherwise.
        const retain = delivery.retainAsPublished ? message.retain : false;
        const ids = delivery.subscriptionIdentifiers;
        core.deliver(delivery.subscriber, message, qos, retain, encoder, source, ids, shared);
        // QoS 0 is written (or dropped) now: nothing more to wait for.
        if (shared !== undefined && qos === 0) settle?.(shared, 'delivered');
      }
    } catch (error) {
      core.deliveryFailed(deliveries[i]!.subscriber, error);
      i++;
    }
  }
  // Named groups with no member online here: the sender picks another broker.
  if (served !== undefined && remoteShared !== undefined)
    for (const filter of remoteShared) if (!served.includes(filter)) settle!(filter, 'lost');
}
