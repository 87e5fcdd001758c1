import { type Packet, PacketType } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import type { FanOutHook, Message } from '../src/index.js';
import { connect, createBroker, publishes, publishPacket, subscribe } from './helpers.js';

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
});
