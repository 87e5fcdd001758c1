import { PacketType } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import {
  ack,
  connect,
  connectPacket,
  createBroker,
  openClient,
  publishes,
  publishPacket,
  subscribe,
} from './helpers.js';

const expiring = (
  topicName: string,
  payload: string,
  seconds: number,
  options: { packetId?: number; retain?: boolean } = {},
) => ({
  ...publishPacket(topicName, payload, 1, options),
  properties: { messageExpiryInterval: seconds },
});

describe('5.0 Message Expiry Interval (§3.3.2.3.3)', () => {
  it('delivered live with its interval; forwarded later with what remains', async () => {
    const { broker, clock } = await createBroker({ maxInflightMessages: 1 });
    const sub = connect(broker, { clientId: 'sub', version: 5 });
    subscribe(sub, 't', 1);
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(expiring('t', 'first', 60, { packetId: 1 }));
    pub.send(expiring('t', 'second', 60, { packetId: 2 }));
    const [first] = publishes(sub.take());
    expect(first?.properties?.messageExpiryInterval).toBe(60);
    clock.advance(20_500);
    sub.send(ack(PacketType.Puback, first!.packetId!));
    const [second] = publishes(sub.take());
    expect(second?.payload.toString()).toBe('second');
    // [MQTT-3.3.2-6]: the interval sent is the time left, 39.5 s rounded up.
    expect(second?.properties?.messageExpiryInterval).toBe(40);
  });

  it('never delivered once expired: queued behind the window, or waiting for an offline session [MQTT-3.3.2-5]', async () => {
    const { broker, clock } = await createBroker({ maxInflightMessages: 1 });
    const sub = connect(broker, {
      clientId: 'sub',
      version: 5,
      cleanStart: false,
      properties: { sessionExpiryInterval: 3600 },
    });
    subscribe(sub, 't', 1);
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(expiring('t', 'kept', 3600, { packetId: 1 }));
    pub.send(expiring('t', 'short', 5, { packetId: 2 }));
    pub.send(expiring('t', 'long', 3600, { packetId: 3 }));
    const [inflight] = publishes(sub.take());
    clock.advance(6000);
    sub.send(ack(PacketType.Puback, inflight!.packetId!));
    const [next] = publishes(sub.take());
    expect(next?.payload.toString()).toBe('long');
    sub.send(ack(PacketType.Puback, next!.packetId!));
    expect(broker.stats.messagesDropped).toBe(1);
    // Offline: expires in the session's queue.
    sub.send({ type: PacketType.Disconnect, reasonCode: 0, properties: undefined });
    pub.send(expiring('t', 'gone', 10, { packetId: 4 }));
    pub.send(publishPacket('t', 'no expiry', 1, { packetId: 5 }));
    clock.advance(11_000);
    const back = openClient(broker, 5);
    back.send(
      connectPacket({
        clientId: 'sub',
        version: 5,
        cleanStart: false,
        properties: { sessionExpiryInterval: 3600 },
      }),
    );
    expect(publishes(back.take()).map((p) => p.payload.toString())).toEqual(['no expiry']);
  });

  it('an expired retained message is not sent on subscribe and is removed', async () => {
    const { broker, clock } = await createBroker();
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(expiring('r', 'short-lived', 30, { packetId: 1, retain: true }));
    const early = connect(broker, { clientId: 'early', version: 5 });
    subscribe(early, 'r', 1);
    expect(publishes(early.take()).map((p) => p.properties?.messageExpiryInterval)).toEqual([30]);
    clock.advance(31_000);
    const late = connect(broker, { clientId: 'late', version: 5 });
    subscribe(late, 'r', 1);
    expect(publishes(late.take())).toEqual([]);
    expect(broker.stats.retainedMessages).toBe(0);
  });
});
