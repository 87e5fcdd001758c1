import { PacketType, ReasonCode } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import type { DisconnectReason, Message } from '../src/index.js';
import { ack, connect, createBroker, publishes, publishPacket, subscribe } from './helpers.js';

/** A hook that holds every acknowledgement until the test settles it. */
function holdingHook() {
  const held: Array<{ message: Message; resolve: () => void; reject: (error: Error) => void }> = [];
  const hook = (_client: unknown, message: Message): Promise<void> =>
    new Promise((resolve, reject) => held.push({ message, resolve, reject }));
  return { held, hook };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('beforePublishAck: acknowledgement after an outside confirmation', () => {
  it('holds the PUBACK until the promise resolves, and the packets behind it; routes at once', async () => {
    const { held, hook } = holdingHook();
    const { broker } = await createBroker({ hooks: { beforePublishAck: hook } });
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 't/#', 1);
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('t/1', 'a', 1, { packetId: 1 }));
    pub.send(publishPacket('t/2', 'b', 1, { packetId: 2 }));
    pub.send({ type: PacketType.Pingreq });
    await flush();
    expect(publishes(sub.take()).map((p) => p.topicName)).toEqual(['t/1']);
    expect(pub.take()).toEqual([]);
    expect(held.map((h) => h.message.topicName)).toEqual(['t/1']);
    held[0]!.resolve();
    await flush();
    // The first is acknowledged, the second now waits on its own promise; PINGREQ behind it.
    expect(pub.take()).toEqual([ack(PacketType.Puback, 1)]);
    expect(held.map((h) => h.message.topicName)).toEqual(['t/1', 't/2']);
    held[1]!.resolve();
    await flush();
    expect(pub.take()).toEqual([ack(PacketType.Puback, 2), { type: PacketType.Pingresp }]);
  });

  it('undefined acknowledges as usual; a 5.0 publish without subscribers still gets 0x10 then', async () => {
    const seen: string[] = [];
    const { broker } = await createBroker({
      hooks: {
        beforePublishAck: (_client, message) => {
          seen.push(message.topicName);
          return undefined;
        },
      },
    });
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(publishPacket('nobody', 'x', 1, { packetId: 3 }));
    expect(pub.take()).toEqual([
      {
        type: PacketType.Puback,
        packetId: 3,
        reasonCode: ReasonCode.NoMatchingSubscribers,
        properties: undefined,
      },
    ]);
    expect(seen).toEqual(['nobody']);
  });

  it('a held message is acknowledged with 0x00 even without subscribers: the hook took it', async () => {
    const { held, hook } = holdingHook();
    const { broker } = await createBroker({ hooks: { beforePublishAck: hook } });
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(publishPacket('nobody', 'x', 1, { packetId: 4 }));
    held[0]!.resolve();
    await flush();
    expect(pub.take()).toEqual([ack(PacketType.Puback, 4)]);
  });

  it("a rejection acknowledges nothing and closes the connection (5.0: DISCONNECT 0x80, reason 'publish-not-confirmed')", async () => {
    const { held, hook } = holdingHook();
    const { broker } = await createBroker({ hooks: { beforePublishAck: hook } });
    const reasons: DisconnectReason[] = [];
    broker.on('clientDisconnected', (_client, reason) => reasons.push(reason));
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(publishPacket('t', 'x', 1, { packetId: 5 }));
    held[0]!.reject(new Error('destination down'));
    await flush();
    const packets = pub.take();
    expect(packets.map((p) => p.type)).toEqual([PacketType.Disconnect]);
    expect(packets[0]).toMatchObject({
      reasonCode: ReasonCode.UnspecifiedError,
      properties: { reasonString: 'message not confirmed, so not acknowledged; send it again' },
    });
    expect(pub.transport.closed).toBe(true);
    expect(reasons).toEqual(['publish-not-confirmed']);
  });

  it('3.1.1: a throwing hook closes without PUBACK', async () => {
    const { broker } = await createBroker({
      hooks: {
        beforePublishAck: () => {
          throw new Error('bug');
        },
      },
    });
    const reasons: DisconnectReason[] = [];
    broker.on('clientDisconnected', (_client, reason) => reasons.push(reason));
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('t', 'x', 1, { packetId: 6 }));
    await flush();
    expect(pub.take()).toEqual([]);
    expect(pub.transport.closed).toBe(true);
    expect(reasons).toEqual(['publish-not-confirmed']);
  });

  it('QoS 2: a refused message re-sent on the next connection is routed again, not taken for a duplicate', async () => {
    let refuse = true;
    const { broker } = await createBroker({
      hooks: {
        beforePublishAck: () => (refuse ? Promise.reject(new Error('down')) : Promise.resolve()),
      },
    });
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 't', 2);
    const first = connect(broker, { clientId: 'pub', cleanStart: false });
    first.send(publishPacket('t', 'x', 2, { packetId: 9 }));
    await flush();
    expect(first.take()).toEqual([]);
    expect(first.transport.closed).toBe(true);
    refuse = false;
    const second = connect(broker, { clientId: 'pub', cleanStart: false });
    second.send(publishPacket('t', 'x', 2, { packetId: 9, dup: true }));
    await flush();
    expect(second.take()).toEqual([ack(PacketType.Pubrec, 9)]);
    // Routed twice (at least once): once per attempt.
    expect(publishes(sub.take())).toHaveLength(2);
    // Remembered once confirmed: a further DUP is acknowledged without routing.
    second.send(publishPacket('t', 'x', 2, { packetId: 9, dup: true }));
    await flush();
    expect(second.take()).toEqual([ack(PacketType.Pubrec, 9)]);
    expect(publishes(sub.take())).toHaveLength(0);
  });

  it('QoS 0: a rejection is only logged, the connection stays', async () => {
    const { broker } = await createBroker({
      hooks: { beforePublishAck: () => Promise.reject(new Error('down')) },
    });
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('t', 'x', 0));
    pub.send({ type: PacketType.Pingreq });
    await flush();
    expect(pub.take()).toEqual([{ type: PacketType.Pingresp }]);
    expect(pub.transport.closed).toBe(false);
  });
});
