import { type Packet, PacketType } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import { type FanOutHook, MemoryStore, type Message } from '../src/index.js';
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

/** A fan-out hook that records what the router hands it. */
class Recorder implements FanOutHook {
  readonly messages: Message[] = [];
  readonly calls: string[] = [];

  routed(message: Message): void {
    this.messages.push(message);
  }
  filterAdded(topicFilter: string): void {
    this.calls.push(`+${topicFilter}`);
  }
  filterRemoved(topicFilter: string): void {
    this.calls.push(`-${topicFilter}`);
  }
}

function unsubscribePacket(topicFilter: string, packetId: number): Packet {
  return { type: PacketType.Unsubscribe, packetId, topicFilters: [topicFilter], properties: undefined };
}

describe('fanOut hook (cluster seam)', () => {
  it('hears every routed message once, after local delivery, and never a remote one', async () => {
    const fanOut = new Recorder();
    const { broker } = await createBroker({ fanOut });
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 'a/#', 1);
    const pub = connect(broker, { clientId: 'pub' });
    pub.send(publishPacket('a/1', 'local', 1, { packetId: 1 }));
    broker.publish({ topicName: 'a/2', payload: 'app' });
    const matched = broker.deliverRemote({ topicName: 'a/3', payload: 'remote', qos: 1 });
    expect(matched).toBe(1);
    expect(fanOut.messages.map((m) => [m.topicName, m.payload.toString(), m.qos])).toEqual([
      ['a/1', 'local', 1],
      ['a/2', 'app', 0],
    ]);
    expect(publishes(sub.take()).map((p) => p.payload.toString())).toEqual(['local', 'app', 'remote']);
  });

  it('a remote retained message updates the retained index but is not written to the store', async () => {
    const fanOut = new Recorder();
    const { broker } = await createBroker({ fanOut });
    broker.deliverRemote({ topicName: 'r/t', payload: 'kept', qos: 1, retain: true });
    expect(broker.stats.retainedMessages).toBe(1);
    expect(await broker.store.findRetained('r/#')).toEqual([]);
    const sub = connect(broker, { clientId: 'late' });
    subscribe(sub, 'r/#', 1);
    const [retained] = publishes(sub.take());
    expect(retained).toMatchObject({ topicName: 'r/t', retain: true });
  });

  it('tells the first subscription of a filter and the last one gone, not the ones between', async () => {
    const fanOut = new Recorder();
    const { broker } = await createBroker({ fanOut });
    const one = connect(broker, { clientId: 'one' });
    const two = connect(broker, { clientId: 'two' });
    subscribe(one, 'x/+');
    subscribe(two, 'x/+');
    subscribe(one, 'x/+'); // the same subscription again: replaced, not counted twice
    subscribe(two, '$share/g/y');
    expect(fanOut.calls).toEqual(['+x/+', '+$share/g/y']);
    one.send(unsubscribePacket('x/+', 9));
    expect(fanOut.calls).toEqual(['+x/+', '+$share/g/y']);
    two.send({ type: PacketType.Disconnect, reasonCode: 0, properties: undefined });
    // A clean session ends with its connection: its filters go.
    expect(fanOut.calls).toEqual(['+x/+', '+$share/g/y', '-x/+', '-$share/g/y']);
  });

  it('without a hook nothing is counted (the default path)', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub' });
    subscribe(sub, 'a');
    expect(broker.deliverRemote({ topicName: 'a', payload: 'p' })).toBe(1);
    expect(publishes(sub.take())).toHaveLength(1);
  });

  it("a promise from routed holds the publisher's acks, in order, until it resolves", async () => {
    let release!: () => void;
    const confirmed = new Promise<void>((resolve) => {
      release = resolve;
    });
    const held: Message[] = [];
    const fanOut: FanOutHook = {
      routed: (message) => {
        if (message.topicName !== 'held') return undefined;
        held.push(message);
        return confirmed;
      },
      filterAdded: () => undefined,
      filterRemoved: () => undefined,
    };
    const { broker } = await createBroker({ fanOut });
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(publishPacket('held', 'a', 1, { packetId: 1 }));
    pub.send(publishPacket('held', 'b', 2, { packetId: 2 }));
    pub.send(publishPacket('free', 'c', 1, { packetId: 3 })); // queued behind the held ones
    await new Promise((resolve) => setImmediate(resolve));
    expect(pub.take()).toEqual([]);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    const acks = pub.take();
    expect(acks.map((p) => [p.type, 'packetId' in p ? p.packetId : 0])).toEqual([
      [PacketType.Puback, 1],
      [PacketType.Pubrec, 2],
      [PacketType.Puback, 3],
    ]);
    // Held for other nodes: matched there, so success; the free one matched nobody (0x10).
    expect(acks.map((p) => ('reasonCode' in p ? p.reasonCode : -1))).toEqual([0, 0, 0x10]);
    expect(held).toHaveLength(2);
  });

  it('deliverRemote with only: the other matching sessions are skipped', async () => {
    const { broker } = await createBroker({ fanOut: new Recorder() });
    const one = connect(broker, { clientId: 'one' });
    const two = connect(broker, { clientId: 'two' });
    subscribe(one, 'o/#', 1);
    subscribe(two, 'o/#', 1);
    expect(
      broker.deliverRemote({ topicName: 'o/x', payload: 'p', qos: 1 }, { only: (id) => id === 'two' }),
    ).toBe(2);
    expect(publishes(one.take())).toEqual([]);
    expect(publishes(two.take()).map((p) => p.payload.toString())).toEqual(['p']);
  });

  it('adoptSession installs a stored session offline: it queues, then its client finds it', async () => {
    const store = new MemoryStore();
    const first = await createBroker({ store });
    const sub = connect(first.broker, {
      clientId: 'sub',
      version: 5,
      cleanStart: false,
      properties: { sessionExpiryInterval: 3600 },
    });
    subscribe(sub, 'q/#', 1);
    sub.send({ type: PacketType.Disconnect, reasonCode: 0, properties: undefined });
    first.broker.publish({ topicName: 'q/1', payload: 'before', qos: 1 });
    const snapshot = (await store.open()).sessions.find((s) => s.session.clientId === 'sub')!;

    const fanOut = new Recorder();
    const { broker } = await createBroker({ fanOut });
    expect(broker.adoptSession(snapshot)).toBe(true);
    expect(broker.adoptSession(snapshot)).toBe(false); // held here now
    expect(fanOut.calls).toEqual(['+q/#']);
    broker.deliverRemote({ topicName: 'q/2', payload: 'after', qos: 1 });
    expect(broker.connectedClientIds()).toEqual([]);
    const back = openClient(broker, 5);
    back.send(
      connectPacket({
        clientId: 'sub',
        version: 5,
        cleanStart: false,
        properties: { sessionExpiryInterval: 3600 },
      }),
    );
    await new Promise((resolve) => setImmediate(resolve)); // CONNACK of a stored session waits for the store
    expect(broker.connectedClientIds()).toEqual(['sub']);
    const [connack, ...rest] = back.take();
    expect(connack).toMatchObject({ type: PacketType.Connack, sessionPresent: true });
    expect(publishes(rest).map((p) => p.payload.toString())).toEqual(['before', 'after']);
  });

  it('share groups across brokers: sharedHere decides for local publishes; remote ones reach only the named groups', async () => {
    const asked: string[] = [];
    let here = false;
    const fanOut: FanOutHook = {
      routed: () => undefined,
      filterAdded: () => undefined,
      filterRemoved: () => undefined,
      sharedHere: (sharedFilter, message) => {
        asked.push(`${sharedFilter} ${message.topicName}`);
        return here;
      },
    };
    const { broker } = await createBroker({ fanOut });
    const member = connect(broker, { clientId: 'member', version: 5 });
    const plain = connect(broker, { clientId: 'plain', version: 5 });
    subscribe(member, '$share/g/s/#', 1);
    subscribe(plain, 's/#', 1);
    broker.publish({ topicName: 's/1', payload: 'elsewhere', qos: 1 });
    here = true;
    broker.publish({ topicName: 's/2', payload: 'here', qos: 1 });
    expect(asked).toEqual(['$share/g/s/# s/1', '$share/g/s/# s/2']);
    expect(publishes(member.take()).map((p) => p.payload.toString())).toEqual(['here']);
    expect(publishes(plain.take()).map((p) => p.payload.toString())).toEqual(['elsewhere', 'here']);

    broker.deliverRemote({ topicName: 's/3', payload: 'not named', qos: 1 });
    broker.deliverRemote(
      { topicName: 's/4', payload: 'named', qos: 1 },
      { sharedFilters: new Set(['$share/g/s/#']) },
    );
    broker.deliverRemote(
      { topicName: 's/5', payload: 'group only', qos: 1 },
      { only: () => false, sharedFilters: new Set(['$share/g/s/#']) },
    );
    expect(asked).toHaveLength(2); // remote messages never ask
    expect(publishes(member.take()).map((p) => p.payload.toString())).toEqual(['named', 'group only']);
    expect(publishes(plain.take()).map((p) => p.payload.toString())).toEqual(['not named', 'named']);
  });

  it('sharedSettled: a named group is settled when its member acknowledges, lost with no member or a member gone', async () => {
    const outcomes: string[] = [];
    const settled = (filter: string, outcome: string) => outcomes.push(`${filter} ${outcome}`);
    const group = new Set(['$share/g/s/#']);
    const { broker } = await createBroker({ fanOut: new Recorder() });
    // No member online: lost at once.
    broker.deliverRemote(
      { topicName: 's/0', payload: 'none', qos: 1 },
      { sharedFilters: group, sharedSettled: settled },
    );
    expect(outcomes).toEqual(['$share/g/s/# lost']);
    outcomes.length = 0;

    const one = connect(broker, { clientId: 'one', version: 5 });
    subscribe(one, '$share/g/s/#', 1);
    broker.deliverRemote(
      { topicName: 's/1', payload: 'acked', qos: 1 },
      { sharedFilters: group, sharedSettled: settled },
    );
    const [first] = publishes(one.take());
    expect(outcomes).toEqual([]); // waits for the member
    one.send(ack(PacketType.Puback, first!.packetId!));
    expect(outcomes).toEqual(['$share/g/s/# delivered']);
    outcomes.length = 0;

    // The member goes with it unacknowledged: a second member takes it over, and settles it.
    const two = connect(broker, { clientId: 'two', version: 5 });
    subscribe(two, '$share/g/s/#', 1);
    broker.deliverRemote(
      { topicName: 's/2', payload: 'moved', qos: 1 },
      { sharedFilters: group, sharedSettled: settled },
    );
    broker.deliverRemote(
      { topicName: 's/3', payload: 'moved too', qos: 1 },
      { sharedFilters: group, sharedSettled: settled },
    );
    const atOne = publishes(one.take()).map((p) => p.payload.toString());
    two.take();
    one.connection.transportClosed();
    expect(outcomes).toEqual([]); // moved to the other member: still waiting
    expect(atOne).toHaveLength(1); // round robin: one message each
    const moved = publishes(two.take());
    expect(moved.map((p) => p.payload.toString())).toEqual(atOne);
    two.send(ack(PacketType.Puback, moved[0]!.packetId!));
    expect(outcomes).toEqual(['$share/g/s/# delivered']);
    outcomes.length = 0;
    two.connection.transportClosed();
    // Its own message is still unacknowledged, its session does not live on and no member is
    // left: lost here (the sender picks another broker).
    expect(outcomes).toEqual(['$share/g/s/# lost']);
    outcomes.length = 0;

    // A member whose session lives on keeps what it held.
    const kept = connect(broker, {
      clientId: 'kept',
      version: 5,
      cleanStart: false,
      properties: { sessionExpiryInterval: 60 },
    });
    subscribe(kept, '$share/g/s/#', 1);
    broker.deliverRemote(
      { topicName: 's/4', payload: 'kept', qos: 1 },
      { sharedFilters: group, sharedSettled: settled },
    );
    kept.connection.transportClosed();
    expect(outcomes).toEqual(['$share/g/s/# delivered']);
  });
});
