import { PacketType, type PublishPacket } from '@mqtt-adapt/codec';
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
  type TestClient,
} from './helpers.js';

/** Member `a` with a session that outlives its connection. */
const persistentA = {
  clientId: 'a',
  version: 5,
  cleanStart: false,
  properties: { sessionExpiryInterval: 60 },
} as const;

/** Two members of `$share/g/jobs/#`; `a` takes the first message, as round robin starts with it. */
async function group(options = {}) {
  const { broker, clock } = await createBroker({ maxInflightMessages: 2, ...options });
  const a = connect(broker, { clientId: 'a', version: 5 });
  subscribe(a, '$share/g/jobs/#', 1);
  const b = connect(broker, { clientId: 'b', version: 5 });
  subscribe(b, '$share/g/jobs/#', 1);
  const pub = connect(broker, { clientId: 'pub', version: 5 });
  return { broker, clock, a, b, pub };
}

/** Acknowledges `pending` and whatever follows until the client gets nothing more; returns the payloads that followed. */
function drain(client: TestClient, pending: PublishPacket[]): string[] {
  const got: string[] = [];
  let batch = pending;
  for (;;) {
    for (const p of batch) client.send(ack(PacketType.Puback, p.packetId!));
    batch = publishes(client.take());
    if (batch.length === 0) return got;
    got.push(...payloads(batch));
  }
}

function payloads(packets: ReturnType<typeof publishes>): string[] {
  return packets.map((p) => p.payload.toString());
}

describe('shared subscriptions: a member that leaves hands its unacknowledged messages on (§4.8.2)', () => {
  it('in-flight and queued QoS 1 messages of a member that disconnects go to another member', async () => {
    const { broker, a, b, pub } = await group();
    // Six messages: round robin gives a three (two in flight, one queued behind its window).
    for (let i = 1; i <= 6; i++) pub.send(publishPacket('jobs/x', `m${i}`, 1, { packetId: i }));
    const toA = publishes(a.take());
    const toB = publishes(b.take());
    expect(toA).toHaveLength(2);
    expect(toB).toHaveLength(2);
    const bGot = [...payloads(toB), ...drain(b, toB)];
    expect(bGot).toHaveLength(3);
    a.connection.transportClosed(new Error('reset'));
    // What a never acknowledged (2 in flight + 1 queued) reaches b, through b's window of 2.
    const handedOn = drain(b, []);
    expect(handedOn).toHaveLength(3);
    // b ends up with all six, once each.
    expect([...bGot, ...handedOn].sort()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    expect(handedOn).toEqual(expect.arrayContaining(payloads(toA)));
    expect(broker.stats.messagesDropped).toBe(0);
  });

  it('a persistent member keeps its messages when no other member is online', async () => {
    const { broker } = await createBroker();
    const a = connect(broker, persistentA);
    subscribe(a, '$share/g/jobs/#', 1);
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(publishPacket('jobs/x', 'only', 1));
    expect(payloads(publishes(a.take()))).toEqual(['only']);
    a.connection.transportClosed(new Error('reset'));
    const back = openClient(broker, 5);
    back.send(connectPacket(persistentA));
    // The re-sent PUBLISH follows the CONNACK.
    const [again] = publishes(back.take());
    expect(again).toMatchObject({ dup: true });
    expect(again?.payload.toString()).toBe('only');
  });

  it('[MQTT-4.8.2-4] [MQTT-4.8.2-5] a QoS 2 message already sent stays with its member, PUBREC or not', async () => {
    const { broker } = await createBroker();
    const a = connect(broker, persistentA);
    subscribe(a, '$share/g/jobs/#', 2);
    const b = connect(broker, { clientId: 'b', version: 5 });
    subscribe(b, '$share/g/jobs/#', 2);
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    // Round robin: a gets the 1st and 3rd, b the 2nd.
    for (let i = 1; i <= 3; i++) pub.send(publishPacket('jobs/x', `q2-${i}`, 2, { packetId: i }));
    const [first, third] = publishes(a.take());
    expect([first?.payload.toString(), third?.payload.toString()]).toEqual(['q2-1', 'q2-3']);
    a.send(ack(PacketType.Pubrec, first!.packetId!)); // the 1st is received, the 3rd is not
    a.take();
    b.take();
    a.connection.transportClosed(new Error('reset'));
    expect(publishes(b.take())).toEqual([]);
    const back = openClient(broker, 5);
    back.send(connectPacket(persistentA));
    const resent = back.take();
    // The PUBREL of the 1st and the PUBLISH (DUP) of the 3rd go to a again [MQTT-4.4.0-1].
    expect(resent.map((packet) => packet.type)).toEqual([
      PacketType.Connack,
      PacketType.Pubrel,
      PacketType.Publish,
    ]);
    expect(publishes(resent)[0]).toMatchObject({ dup: true, packetId: third!.packetId });
    expect(broker.stats.messagesDropped).toBe(0);
  });

  it('non-shared messages of a leaving session stay with it', async () => {
    const { broker } = await createBroker();
    const a = connect(broker, persistentA);
    subscribe(a, 'jobs/#', 1);
    const b = connect(broker, { clientId: 'b', version: 5 });
    subscribe(b, '$share/g/jobs/#', 1);
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(publishPacket('jobs/x', 'mine', 1));
    a.take();
    const bFirst = payloads(publishes(b.take()));
    expect(bFirst).toEqual(['mine']);
    a.connection.transportClosed(new Error('reset'));
    expect(publishes(b.take())).toEqual([]);
  });
});
