import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, startTestBroker, type TestBroker } from './helpers.js';
import { runId } from './mqtt-wire.js';
import { type StoreName, type StoreUnderTest, storeUnderTest } from './persistence-harness.js';

/*
 * 5.0 Session Expiry Interval against the real broker process: an offline session ends when its
 * interval has passed, live and across a restart (the deadline is in the store, SQLite and
 * PostgreSQL), and a session asking for longer gets the broker's maximum.
 */

const clients: MqttClient[] = [];
const brokers: TestBroker[] = [];
let store: StoreUnderTest | undefined;

beforeAll(() => assertBuilt());
afterEach(async () => {
  for (const c of clients) c.end(true);
  clients.length = 0;
  await Promise.all(brokers.map((b) => b.stop('SIGKILL')));
  brokers.length = 0;
  await store?.cleanup();
  store = undefined;
});
afterAll(async () => {
  await store?.cleanup();
});

async function start(args: readonly string[]): Promise<TestBroker> {
  const broker = await startTestBroker({ args });
  brokers.push(broker);
  return broker;
}

/** Connects a 5.0 client with Clean Start 0; its `message` handler is attached before CONNECT. */
async function connect(
  broker: TestBroker,
  clientId: string,
  sessionExpiryInterval: number,
): Promise<{
  client: MqttClient;
  sessionPresent: boolean;
  connack: mqtt.IConnackPacket;
  received: string[];
}> {
  const received: string[] = [];
  const client = mqtt.connect(broker.url, {
    clientId,
    protocolVersion: 5,
    clean: false,
    reconnectPeriod: 0,
    properties: { sessionExpiryInterval },
  });
  clients.push(client);
  client.on('message', (_topic, payload) => received.push(payload.toString()));
  const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  return { client, sessionPresent: connack.sessionPresent, connack, received };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each<StoreName>(['sqlite', 'postgres'])('Session Expiry Interval on %s', (name) => {
  it('a session whose interval passes while the broker is down is gone after the restart; a longer one is kept with its queue', async () => {
    store = await storeUnderTest(name);
    const run = runId();
    const first = await start(store.args);
    // 3 s: it runs out while the broker is down (the steps before the stop take well under that).
    const short = await connect(first, `${run}-short`, 3);
    await short.client.subscribeAsync(`${run}/t`, { qos: 1 });
    const long = await connect(first, `${run}-long`, 3600);
    await long.client.subscribeAsync(`${run}/t`, { qos: 1 });
    await short.client.endAsync();
    await long.client.endAsync();
    const publisher = await mqtt.connectAsync(first.url, { clientId: `${run}-pub`, reconnectPeriod: 0 });
    clients.push(publisher);
    await publisher.publishAsync(`${run}/t`, 'queued', { qos: 1 });
    expect(await first.stop('SIGTERM')).toMatchObject({ code: 0 });

    await sleep(3000);
    const second = await start(store.args);
    // Removed by open(), from the deadline in the store.
    expect(second.lines).toContainEqual(
      expect.objectContaining({ msg: 'expired sessions removed from the store', sessions: 1 }),
    );
    const shortBack = await connect(second, `${run}-short`, 60);
    expect(shortBack.sessionPresent).toBe(false);
    const longBack = await connect(second, `${run}-long`, 3600);
    expect(longBack.sessionPresent).toBe(true);
    await waitFor(() => longBack.received.length > 0, 'the queued message');
    expect(longBack.received).toEqual(['queued']);
    await sleep(300);
    expect(shortBack.received).toEqual([]);
  });

  it('a session still inside its interval at the restart is resumed, then ends on time while the broker runs', async () => {
    store = await storeUnderTest(name);
    const run = runId();
    const first = await start(store.args);
    const dev = await connect(first, `${run}-dev`, 2);
    await dev.client.subscribeAsync(`${run}/t`, { qos: 1 });
    await dev.client.endAsync();
    expect(await first.stop('SIGTERM')).toMatchObject({ code: 0 });

    const second = await start(store.args);
    const back = await connect(second, `${run}-dev`, 1);
    expect(back.sessionPresent).toBe(true);
    await back.client.endAsync();
    await sleep(1500);
    const late = await connect(second, `${run}-dev`, 1);
    expect(late.sessionPresent).toBe(false);
  });
});

describe('--max-session-expiry', () => {
  it('caps the interval a 5.0 client asks for, tells it in CONNACK, and ends the session on time', async () => {
    const broker = await start(['--store', 'memory', '--max-session-expiry', '1']);
    const run = runId();
    const dev = await connect(broker, `${run}-dev`, 3600);
    expect(dev.connack.properties?.sessionExpiryInterval).toBe(1);
    await dev.client.subscribeAsync(`${run}/t`, { qos: 1 });
    await dev.client.endAsync();
    await sleep(1400);
    const back = await connect(broker, `${run}-dev`, 3600);
    expect(back.sessionPresent).toBe(false);
  });
});
