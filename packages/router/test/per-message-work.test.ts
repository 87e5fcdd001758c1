import { AsyncResource, createHook } from 'node:async_hooks';
import { encode, type Packet, PacketType } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/index.js';
import {
  connect,
  connectPacket,
  createBroker,
  openClient,
  publishPacket,
  subscribe,
  type TestClient,
} from './helpers.js';

// A regression guard for the hot path that cannot be fooled by a fast or a slow machine: it
// counts work per message, never time. Async resources (promises, ticks, immediates, timers)
// created and transport writes made per routed message, with a fixed workload. A change that
// adds a promise or a tick per message, or splits one write per subscriber in two, fails here
// on any machine. Bounds are today's counts; lower them when the path gets cheaper.

const MESSAGES = 400;
const SUBSCRIBERS = 10;

/**
 * Counts async resources by type created by `run` and what it set off: only those whose trigger
 * is `run`'s own async scope or a resource already counted, so the test runner's own work
 * (its RPC and timers, which under load may fall inside the window) is never counted.
 */
async function countAsyncWork(run: () => Promise<void> | void): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const scope = new AsyncResource('per-message-work');
  const ours = new Set<number>([scope.asyncId()]);
  const hook = createHook({
    init(id, type, triggerId) {
      if (!ours.has(triggerId)) return;
      ours.add(id);
      counts.set(type, (counts.get(type) ?? 0) + 1);
    },
  });
  hook.enable();
  try {
    await scope.runInAsyncScope(run);
  } finally {
    hook.disable();
    scope.emitDestroy();
  }
  return counts;
}

function total(counts: Map<string, number>): number {
  let sum = 0;
  for (const n of counts.values()) sum += n;
  return sum;
}

/** Many PUBLISH packets as one inbound chunk, as a fast publisher's socket read delivers them. */
function chunkOf(packets: Packet[]): Buffer {
  return Buffer.concat(packets.map((packet) => encode(packet, 4)));
}

function writesOf(clients: TestClient[]): number {
  let writes = 0;
  for (const client of clients) writes += client.transport.written.length;
  return writes;
}

/**
 * A memory store that says it is durable and commits once per turn, as the SQLite store does:
 * acks wait for its flush, and every flush of one turn is the same promise.
 */
class TurnCommitMemoryStore extends MemoryStore {
  override readonly durable = true as unknown as false;
  commits = 0;
  private commit: Promise<void> | undefined = undefined;
  override flush(): undefined {
    if (this.commit === undefined) {
      this.commits++;
      this.commit = new Promise<void>((resolve) =>
        setImmediate(() => {
          this.commit = undefined;
          resolve();
        }),
      );
    }
    return this.commit as unknown as undefined;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** What `countAsyncWork` counts for `settle()` alone: subtracted from every figure. */
async function settleCost(): Promise<number> {
  return total(
    await countAsyncWork(async () => {
      await settle();
    }),
  );
}

describe('work per routed message (counts, not time)', () => {
  it(`QoS 0 to ${SUBSCRIBERS} subscribers: no async resource per message, one transport write per delivery`, async () => {
    const { broker } = await createBroker();
    const subscribers = Array.from({ length: SUBSCRIBERS }, (_, i) => {
      const client = connect(broker, { clientId: `sub-${i}` });
      subscribe(client, 'work/+/t', 0);
      client.take();
      return client;
    });
    const publisher = connect(broker, { clientId: 'pub' });
    const chunk = chunkOf(
      Array.from({ length: MESSAGES }, (_, i) => publishPacket(`work/${i % 7}/t`, 'x'.repeat(32), 0)),
    );
    publisher.connection.feed(chunk); // warm-up: first-use allocations are not per message
    await settle();
    for (const client of subscribers) client.take();
    const writesBefore = writesOf(subscribers);

    const counts = await countAsyncWork(async () => {
      publisher.connection.feed(chunk);
      await settle();
    });
    const delivered = subscribers.reduce((n, client) => n + client.take().length, 0);
    expect(delivered).toBe(MESSAGES * SUBSCRIBERS);
    // Nothing asynchronous per message: QoS 0 routing is synchronous end to end.
    // (A promise or two of difference in how V8 counts the awaits is not per message.)
    expect(total(counts) - (await settleCost()), JSON.stringify([...counts])).toBeLessThanOrEqual(2);
    // One write per delivery (the transport joins a turn's writes into one syscall).
    expect(writesOf(subscribers) - writesBefore).toBe(MESSAGES * SUBSCRIBERS);
  });

  it('QoS 1 into persistent sessions on a durable store: async work per message stays bounded', async () => {
    const store = new TurnCommitMemoryStore();
    const { broker } = await createBroker({ store });
    const subscribers: TestClient[] = [];
    for (let i = 0; i < 2; i++) {
      const client = openClient(broker);
      client.send(connectPacket({ clientId: `psub-${i}`, cleanStart: false }));
      await settle();
      client.send({
        type: PacketType.Subscribe,
        packetId: 1,
        subscriptions: [
          { topicFilter: 'durable/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        ],
        properties: undefined,
      });
      await settle();
      client.take();
      subscribers.push(client);
    }
    const publisher = connect(broker, { clientId: 'ppub' });
    let batches = 0;
    const batch = () => {
      const firstId = batches++ * MESSAGES + 1;
      return chunkOf(
        Array.from({ length: MESSAGES }, (_, i) =>
          publishPacket('durable/t', 'y'.repeat(32), 1, { packetId: firstId + i }),
        ),
      );
    };
    const ackAll = () => {
      for (const client of subscribers) {
        const acks = client
          .take()
          .filter((packet) => packet.type === PacketType.Publish)
          .map((packet) =>
            encode(
              { type: PacketType.Puback, packetId: packet.packetId!, reasonCode: 0, properties: undefined },
              4,
            ),
          );
        if (acks.length > 0) client.connection.feed(Buffer.concat(acks));
      }
    };
    publisher.connection.feed(batch()); // warm-up
    await settle();
    ackAll();
    await settle();
    publisher.take();

    const counts = await countAsyncWork(async () => {
      publisher.connection.feed(batch());
      await settle();
      ackAll();
      await settle();
    });
    const pubacks = publisher.take().filter((packet) => packet.type === PacketType.Puback).length;
    expect(pubacks).toBe(MESSAGES);
    // Acks of one chunk wait for one store flush together: async work per chunk, not per message
    // (16 here for 400 PUBLISH, 800 deliveries and 800 PUBACKs; about 1,200 when each ack waited alone).
    expect(total(counts) - 2 * (await settleCost()), JSON.stringify([...counts])).toBeLessThanOrEqual(40);
    expect(store.commits, `${store.commits} commits`).toBeLessThanOrEqual(6);
  });
});
