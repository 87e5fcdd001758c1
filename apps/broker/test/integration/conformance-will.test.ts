import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, targetOf } from './conformance-harness.js';
import type { TestBroker } from './helpers.js';
import {
  type ConnectOptions,
  connect,
  DISCONNECT,
  PINGREQ,
  puback,
  pubcomp,
  publish,
  pubrec,
  RawClient,
  type ReceivedPublish,
  runId,
  subscribe,
  type Target,
  Type,
} from './mqtt-wire.js';

// Last Will (MQTT 3.1.1 §3.1.2.5-§3.1.2.7, §3.14.4): published on every close that is not a
// clean DISCONNECT, never after one. The keepalive-timeout case is in conformance-connect.

let broker: TestBroker;
let target: Target;
const run = runId();
const raws: RawClient[] = [];
let watcher: RawClient;
let publisher: RawClient;
const sentinelTopic = `${run}/will/sentinel`;

beforeAll(async () => {
  broker = await startBroker();
  target = targetOf(broker);
  watcher = await raw('watcher');
  watcher.write(subscribe(1, [[`${run}/will/#`, 2]]));
  expect((await watcher.next()).bytes.toString('hex')).toBe('9003000102');
  publisher = await raw('publisher');
});

afterAll(async () => {
  for (const client of raws) client.destroy();
  await broker?.stop();
});

async function raw(name: string, options: Partial<ConnectOptions> = {}): Promise<RawClient> {
  const client = await RawClient.connect(target, { clientId: `${run}-${name}`, ...options });
  raws.push(client);
  return client;
}

/** A connected client whose will is `payload` on `<run>/will/<name>`. */
function withWill(name: string, qos: 0 | 1 | 2 = 1, retain = false): Promise<RawClient> {
  return raw(name, { will: { topic: `${run}/will/${name}`, payload: `will of ${name}`, qos, retain } });
}

/** The watcher's next PUBLISH, acknowledged; its fields for comparison. */
async function nextMessage(): Promise<{ topic: string; payload: string; qos: number; retain: boolean }> {
  const message: ReceivedPublish = await watcher.nextPublish();
  if (message.qos === 1) watcher.write(puback(message.packetId!));
  if (message.qos === 2) {
    watcher.write(pubrec(message.packetId!));
    expect((await watcher.next()).type).toBe(Type.Pubrel);
    watcher.write(pubcomp(message.packetId!));
  }
  return {
    topic: message.topic,
    payload: message.payload.toString(),
    qos: message.qos,
    retain: message.retain,
  };
}

/** Publishes a sentinel and returns the watcher's messages before it (wills included). */
async function messagesBeforeSentinel(): Promise<Array<{ topic: string; payload: string }>> {
  publisher.write(publish({ topic: sentinelTopic, payload: 'sentinel' }));
  const out: Array<{ topic: string; payload: string }> = [];
  for (;;) {
    const message = await nextMessage();
    if (message.topic === sentinelTopic) return out;
    out.push({ topic: message.topic, payload: message.payload });
  }
}

const willOf = (name: string, qos = 1) => ({
  topic: `${run}/will/${name}`,
  payload: `will of ${name}`,
  qos,
  retain: false,
});

describe('the will is published when the connection ends without DISCONNECT (§3.1.2.5)', () => {
  it('[MQTT-3.1.2-8][MQTT-3.1.2-16] socket destroyed (RST): published at its QoS, not retained', async () => {
    const client = await withWill('destroyed');
    client.socket.resetAndDestroy();
    expect(await nextMessage()).toEqual(willOf('destroyed'));
  });

  it('[MQTT-3.1.2-8] socket half-closed (FIN) without DISCONNECT: published', async () => {
    const client = await withWill('fin', 2);
    client.socket.end();
    expect(await nextMessage()).toEqual(willOf('fin', 2));
  });

  it('[MQTT-3.1.2-8][MQTT-4.8.0-1] protocol violation (PUBLISH to a wildcard topic): connection closed, will published', async () => {
    const client = await withWill('violation');
    client.write(publish({ topic: `${run}/will/+`, payload: 'x' }));
    await client.closed();
    expect(client.unread()).toEqual([]);
    expect(await nextMessage()).toEqual(willOf('violation'));
  });

  it('[MQTT-3.1.2-8][MQTT-3.1.0-2] a second CONNECT: connection closed, will published', async () => {
    const client = await withWill('second-connect');
    client.write(connect({ clientId: `${run}-second-connect` }));
    await client.closed();
    expect(await nextMessage()).toEqual(willOf('second-connect'));
  });

  it('[MQTT-3.1.2-8] malformed packet (remaining length of 5 bytes): connection closed, will published', async () => {
    const client = await withWill('malformed', 0);
    client.write(Buffer.from('30ffffffff7f', 'hex'));
    await client.closed();
    expect(await nextMessage()).toEqual(willOf('malformed', 0));
  });

  it('[MQTT-3.1.4-2][MQTT-3.1.2-10] takeover: the first connection is closed and its will published, once', async () => {
    const first = await withWill('takeover');
    const second = await raw('takeover'); // same client id, no will
    await first.closed();
    expect(await nextMessage()).toEqual(willOf('takeover'));
    // The will went with the first connection: the second one ending publishes nothing.
    second.socket.resetAndDestroy();
    expect(await messagesBeforeSentinel()).toEqual([]);
  });
});

describe('no will (§3.1.2.5, §3.14.4)', () => {
  it('[MQTT-3.1.2-10][MQTT-3.14.4-3] never after a clean DISCONNECT', async () => {
    const client = await withWill('disconnect');
    client.write(DISCONNECT);
    await client.closed();
    expect(client.bytes().toString('hex')).toBe('20020000');
    expect(await messagesBeforeSentinel()).toEqual([]);
  });

  it('[MQTT-3.1.2-12] a connection without a will publishes nothing when it dies', async () => {
    const client = await raw('no-will');
    client.socket.resetAndDestroy();
    await client.closed();
    expect(await messagesBeforeSentinel()).toEqual([]);
  });
});

describe('retained will (§3.1.2.7)', () => {
  it('[MQTT-3.1.2-17] will retain 1: published and kept as the retained message', async () => {
    const client = await withWill('retained', 1, true);
    client.socket.resetAndDestroy();
    expect(await nextMessage()).toEqual(willOf('retained')); // RETAIN 0 to existing subscribers
    const late = await raw('retained-late');
    late.write(subscribe(2, [[`${run}/will/retained`, 2]]));
    expect((await late.next()).bytes.toString('hex')).toBe('9003000202');
    const retained = await late.nextPublish();
    expect([retained.topic, retained.payload.toString(), retained.qos, retained.retain]).toEqual([
      `${run}/will/retained`,
      'will of retained',
      1,
      true,
    ]);
  });

  it('[MQTT-3.1.2-16] will retain 0: not kept', async () => {
    const client = await withWill('not-retained', 1, false);
    client.socket.resetAndDestroy();
    expect(await nextMessage()).toEqual(willOf('not-retained'));
    const late = await raw('not-retained-late');
    late.write(subscribe(2, [[`${run}/will/not-retained`, 2]]), PINGREQ);
    expect((await late.take(2)).map((frame) => frame.bytes.toString('hex'))).toEqual(['9003000202', 'd000']);
  });
});
