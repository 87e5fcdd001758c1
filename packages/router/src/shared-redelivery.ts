import type { QoS } from '@mqtt-adapt/codec';
import type { BrokerCore } from './broker-core.js';
import type { QueuedMessage, Session } from './session.js';

/**
 * MQTT 5.0 §4.8.2: a shared-subscription member whose connection closed with messages of that
 * subscription still unacknowledged has them sent to another online member of the same share
 * group, chosen by the group's policy, instead of waiting for it to come back (the spec's "MAY
 * ... as soon as it loses its connection"): QoS 1 messages in flight, and messages of any QoS
 * queued behind its window (never sent). A QoS 2 message already sent stays: its delivery is
 * completed with that client when it reconnects, and never goes to another [MQTT-4.8.2-4],
 * [MQTT-4.8.2-5]. Without another member online a message stays where it is.
 * Returns how many messages moved.
 */
export function redistributeShared(core: BrokerCore, session: Session): number {
  // Nothing in flight or queued (most closes): nothing to look at, nothing allocated.
  if (session.inflightCount === 0 && session.queueLength === 0) return 0;
  const moving: QueuedMessage[] = [];
  for (const entry of session.inflight.values()) {
    if (entry.sharedFilter !== undefined && entry.qos === 1) moving.push(entry);
  }
  let queued = 0;
  for (const entry of session.queue) {
    if (entry.sharedFilter !== undefined) {
      moving.push(entry);
      queued++;
    }
  }
  if (moving.length === 0) return 0;
  const moved = new Set<QueuedMessage>();
  for (const entry of moving) {
    const member = core.subscriptions.sharedMember(entry.message.topicName, entry.sharedFilter!);
    if (member === undefined || member.subscriber === session) continue;
    if (!core.mayRead(member.subscriber, entry.message.topicName)) continue;
    const qos = Math.min(entry.message.qos, member.options.qos) as QoS;
    // Delivered to the new member first: the message body keeps a store reference throughout.
    const id = member.options.subscriptionIdentifier;
    const ids = id === undefined ? undefined : [id];
    core.deliver(
      member.subscriber,
      entry.message,
      qos,
      entry.retain,
      undefined,
      undefined,
      ids,
      entry.sharedFilter,
    );
    core.persistence.deleteDelivery(session, entry);
    moved.add(entry);
  }
  if (moved.size === 0) return 0;
  for (const entry of session.inflight.values()) {
    if (moved.has(entry)) session.inflight.delete(entry.packetId);
  }
  if (queued > 0) session.queue.removeWhere((entry) => moved.has(entry));
  return moved.size;
}
