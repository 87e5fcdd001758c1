import { afterEach, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from './helpers.js';
import { runId, type Target } from './mqtt-wire.js';
import {
  deliveryProblems,
  messagesOf,
  Publisher,
  type StoreName,
  type StoreUnderTest,
  Subscriber,
  storeUnderTest,
  type TestMessage,
} from './persistence-harness.js';

/*
 * The durability contract (ARCHITECTURE.md): with a durable store, whatever the broker
 * acknowledged survives `kill -9`. Against the built broker process, for sqlite and postgres:
 * a persistent subscriber (Clean Session 0, QoS 1 and QoS 2 subscriptions) goes offline, a
 * publisher sends QoS 1 and QoS 2 messages and counts the acks (PUBACK; PUBREC for QoS 2),
 * the broker is SIGKILLed and restarted on the same store, and the subscriber must get every
 * acknowledged message back, in order, QoS 2 exactly once, with its session and subscriptions.
 */

const STORES: readonly StoreName[] = ['sqlite', 'postgres'];
/** Messages of each QoS: the queue of the offline session holds them all. */
const ALL_ACKED_COUNT = 300;
const MID_BURST_COUNT = 1000;
const COMMON_ARGS = ['--max-queued-messages', '10000'];

describe.each(STORES)('%s store: nothing acknowledged is lost to kill -9', (storeName) => {
  let store: StoreUnderTest | undefined;
  const brokers: TestBroker[] = [];

  afterEach(async () => {
    await Promise.all(brokers.map((broker) => broker.stop('SIGKILL')));
    brokers.length = 0;
    await store?.cleanup();
    store = undefined;
  });

  async function start(): Promise<TestBroker> {
    const broker = await startTestBroker({ args: [...store!.args, ...COMMON_ARGS], readyTimeoutMs: 15_000 });
    brokers.push(broker);
    const listening = broker.lines.find((line) => line.msg === 'listening');
    expect(listening?.store).toBe(storeName);
    return broker;
  }

  /** A persistent subscriber of `<prefix>/q1/#` at QoS 1 and `<prefix>/q2/#` at QoS 2, now offline. */
  async function subscribeOffline(target: Target, clientId: string, prefix: string): Promise<void> {
    const subscriber = await Subscriber.connect(target, clientId);
    expect(subscriber.sessionPresent).toBe(false);
    expect(
      await subscriber.subscribe([
        [`${prefix}/q1/#`, 1],
        [`${prefix}/q2/#`, 2],
      ]),
    ).toEqual([1, 2]);
    subscriber.disconnect();
    await subscriber.raw.closed();
  }

  async function kill(broker: TestBroker): Promise<void> {
    expect(await broker.stop('SIGKILL')).toMatchObject({ signal: 'SIGKILL' });
  }

  it('a) every message acknowledged before the kill is delivered after the restart, with the session, its subscriptions and the retained messages', async () => {
    store = await storeUnderTest(storeName);
    const run = runId();
    const prefix = `persist/${run}`;
    const first = await start();
    await subscribeOffline(first, `${run}-sub`, prefix);

    const retained: TestMessage[] = [
      { key: 'r:1:0', topic: `${prefix}/retained/one`, qos: 1, retain: true },
      { key: 'r:2:0', topic: `${prefix}/retained/two`, qos: 2, retain: true },
      { key: 'r:1:1', topic: `${prefix}/retained/gone`, qos: 1, retain: true },
      { key: 'r:1:2', topic: `${prefix}/retained/gone`, qos: 1, retain: true, payload: '' },
    ];
    const messages = messagesOf('a', prefix, ALL_ACKED_COUNT);
    const publisher = await Publisher.connect(first, `${run}-pub`);
    await publisher.run([...retained, ...messages], 100);
    expect(publisher.problems).toEqual([]);
    expect(publisher.isDone).toBe(true);
    expect(publisher.acked).toHaveLength(retained.length + messages.length);
    await kill(first);

    const second = await start();
    const subscriber = await Subscriber.connect(second, `${run}-sub`);
    expect(subscriber.sessionPresent).toBe(true);
    const keys = messages.map((message) => message.key);
    await subscriber.received(keys);
    expect(deliveryProblems(keys, subscriber.deliveries)).toEqual([]);
    expect(subscriber.deliveries).toHaveLength(keys.length);

    // The subscriptions came back with the session: a new message still reaches it.
    const later = await Publisher.connect(second, `${run}-pub2`);
    const next: TestMessage = {
      key: `a:1:${ALL_ACKED_COUNT}`,
      topic: `${prefix}/q1/a`,
      qos: 1,
      retain: false,
    };
    await later.run([next], 1);
    await subscriber.received([...keys, next.key]);
    expect(deliveryProblems([...keys, next.key], subscriber.deliveries)).toEqual([]);

    // Retained messages came back; the one cleared before the kill stayed cleared.
    const reader = await Subscriber.connect(second, `${run}-reader`, { clean: true });
    await reader.subscribe([[`${prefix}/retained/#`, 2]]);
    await reader.received(['r:1:0', 'r:2:0']);
    expect(
      reader.deliveries
        .map((delivery) => [delivery.topic, delivery.key, delivery.qos, delivery.retain])
        .sort(),
    ).toEqual([
      [`${prefix}/retained/one`, 'r:1:0', 1, true],
      [`${prefix}/retained/two`, 'r:2:0', 2, true],
    ]);

    subscriber.disconnect();
    later.disconnect();
    reader.disconnect();
    expect(await second.stop('SIGTERM')).toMatchObject({ code: 0 });
  }, 60_000);

  it('b) killed in the middle of a pipelined burst, every message whose ack the publisher received is delivered', async () => {
    store = await storeUnderTest(storeName);
    const run = runId();
    const prefix = `persist/${run}`;
    const first = await start();
    await subscribeOffline(first, `${run}-sub`, prefix);

    const messages = messagesOf('b', prefix, MID_BURST_COUNT);
    const half = messages.length / 2;
    const publisher = await Publisher.connect(first, `${run}-pub`);
    let killedAt: number | undefined;
    await publisher.run(messages, 200, (p) => {
      if (killedAt !== undefined || p.acked.length < half) return;
      killedAt = p.acked.length;
      p.stop();
      first.child.kill('SIGKILL');
    });
    expect(await first.exited).toMatchObject({ signal: 'SIGKILL' });
    expect(publisher.problems).toEqual([]);
    // Acks already on their way when the signal landed count too: the broker sent them.
    const acked = [...publisher.acked];
    expect(killedAt).toBeGreaterThanOrEqual(half);
    // The kill did land mid-burst: some messages were never acknowledged.
    expect(acked.length).toBeLessThan(messages.length);

    const second = await start();
    const subscriber = await Subscriber.connect(second, `${run}-sub`);
    expect(subscriber.sessionPresent).toBe(true);
    await subscriber.received(acked);
    // Messages the broker stored but could not acknowledge may come too; none may be missing.
    expect(deliveryProblems(acked, subscriber.deliveries)).toEqual([]);
    subscriber.disconnect();
    expect(await second.stop('SIGTERM')).toMatchObject({ code: 0 });
  }, 60_000);
});
