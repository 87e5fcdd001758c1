import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, targetOf } from './conformance-harness.js';
import type { TestBroker } from './helpers.js';
import {
  connect,
  DISCONNECT,
  PINGREQ,
  publish,
  RawClient,
  runId,
  subscribe,
  type Target,
  Type,
} from './mqtt-wire.js';

// CONNECT, CONNACK and keepalive (MQTT 3.1.1 §3.1, §3.2, §3.12) against the built broker,
// over raw sockets so that every byte the broker sends back is asserted.

let broker: TestBroker;
let target: Target;
const run = runId();
const open: RawClient[] = [];

beforeAll(async () => {
  broker = await startBroker(['--connect-timeout-ms', '500']);
  target = targetOf(broker);
});

afterAll(async () => {
  for (const client of open) client.destroy();
  await broker?.stop();
});

async function rawOpen(): Promise<RawClient> {
  const client = await RawClient.open(target);
  open.push(client);
  return client;
}

async function rawConnect(clientId: string, options: Parameters<typeof connect>[0] | object = {}) {
  const client = await RawClient.connect(target, { clientId, ...options });
  open.push(client);
  return client;
}

/** Sends `bytes` as the first thing on a new connection; resolves with all it got once closed. */
async function sendAndClose(bytes: Buffer): Promise<string> {
  const client = await rawOpen();
  client.write(bytes);
  await client.closed();
  return client.bytes().toString('hex');
}

describe('CONNECT rules (§3.1)', () => {
  it.each([2, 6, 255])(
    '[MQTT-3.1.2-2] protocol level %i: CONNACK 20 02 00 01, then the connection is closed',
    async (level) => {
      expect(await sendAndClose(connect({ clientId: `${run}-level`, level }))).toBe('20020001');
    },
  );

  it('[MQTT-3.1.3-8][MQTT-3.2.2-4][MQTT-3.2.2-5] empty client id with clean session 0: CONNACK 20 02 00 02, then closed', async () => {
    expect(await sendAndClose(connect({ clientId: '', clean: false }))).toBe('20020002');
  });

  it('[MQTT-3.1.3-6] empty client ids with clean session 1 are accepted, each as a distinct client', async () => {
    const first = await rawOpen();
    first.write(connect({ clientId: '' }));
    expect((await first.next()).bytes.toString('hex')).toBe('20020000');
    const second = await rawOpen();
    second.write(connect({ clientId: '' }));
    expect((await second.next()).bytes.toString('hex')).toBe('20020000');
    // Not a takeover: both still work. Each subscribes, the second publishes.
    const topic = `${run}/anonymous`;
    first.write(subscribe(1, [[topic, 0]]));
    expect((await first.next()).bytes.toString('hex')).toBe('9003000100');
    second.write(subscribe(1, [[topic, 0]]), publish({ topic, payload: 'hello' }));
    expect((await second.next()).type).toBe(Type.Suback);
    expect((await first.nextPublish()).payload.toString()).toBe('hello');
    expect((await second.nextPublish()).payload.toString()).toBe('hello');
    expect(first.isClosed || second.isClosed).toBe(false);
  });

  it.each([
    ['PINGREQ', PINGREQ],
    ['PUBLISH', publish({ topic: 'a', payload: 'x' })],
    ['SUBSCRIBE', subscribe(1, [['a', 0]])],
    ['DISCONNECT', DISCONNECT],
  ])(
    '[MQTT-3.1.0-1] a first packet %s instead of CONNECT closes the connection without a byte',
    async (_, bytes) => {
      expect(await sendAndClose(bytes)).toBe('');
    },
  );

  it('[MQTT-3.1.0-2] a second CONNECT is a protocol violation: the connection is closed', async () => {
    const client = await rawConnect(`${run}-twice`);
    client.write(connect({ clientId: `${run}-twice` }));
    await client.closed();
    expect(client.unread()).toEqual([]);
    expect(client.bytes().toString('hex')).toBe('20020000');
  });

  it.each([
    ['[MQTT-3.1.2-3] reserved flag (bit 0) set', { extraFlags: 0x01 }],
    ['[MQTT-3.1.2-13] will QoS 1 without the will flag', { extraFlags: 0x08 }],
    ['[MQTT-3.1.2-13] will QoS 2 without the will flag', { extraFlags: 0x10 }],
    ['[MQTT-3.1.2-15] will retain without the will flag', { extraFlags: 0x20 }],
    ['[MQTT-3.1.2-14] will QoS 3', { will: { topic: 'w', payload: 'x' }, extraFlags: 0x18 }],
    ['[MQTT-3.1.2-22] password without user name', { password: 'secret' }],
  ])('[MQTT-3.1.4-1] %s: closed without CONNACK', async (_, options) => {
    expect(await sendAndClose(connect({ clientId: `${run}-flags`, ...options }))).toBe('');
  });

  it('[MQTT-3.1.2-1] protocol name other than "MQTT": not processed as 3.1.1, closed without CONNACK', async () => {
    expect(await sendAndClose(connect({ clientId: `${run}-name`, protocolName: 'MQTX' }))).toBe('');
  });

  it('[MQTT-1.5.3-1] a client id that is not well-formed UTF-8: closed without CONNACK', async () => {
    const bytes = connect({ clientId: 'xx' });
    // Replace the client id "xx" (the last two bytes) by the ill-formed sequence c3 28.
    bytes[bytes.length - 2] = 0xc3;
    bytes[bytes.length - 1] = 0x28;
    expect(await sendAndClose(bytes)).toBe('');
  });

  it.each([
    ['[MQTT-3.1.3-10] will topic', { will: { topic: Buffer.from('c328', 'hex'), payload: 'x' } }],
    ['[MQTT-3.1.3-11] user name', { username: 'xx' }],
  ])('%s not well-formed UTF-8: closed without CONNACK', async (name, options) => {
    const bytes = connect({ clientId: `${run}-utf8`, ...options });
    if (name.includes('user name')) {
      bytes[bytes.length - 2] = 0xc3;
      bytes[bytes.length - 1] = 0x28;
    }
    expect(await sendAndClose(bytes)).toBe('');
  });

  it('[MQTT-3.1.4-1] a will topic with a wildcard cannot be published: closed without CONNACK', async () => {
    expect(
      await sendAndClose(connect({ clientId: `${run}-willwild`, will: { topic: `${run}/+`, payload: 'x' } })),
    ).toBe('');
  });

  it('[MQTT-3.1.3-5] accepts client ids of 1 to 23 letters and digits', async () => {
    for (const clientId of ['Z', `a${run}`.slice(0, 23).padEnd(23, '9')]) {
      const client = await rawOpen();
      client.write(connect({ clientId }));
      expect((await client.next()).bytes.toString('hex')).toBe('20020000');
      client.destroy();
    }
  });

  it('[MQTT-3.1.4-5] packets pipelined behind a refused CONNECT are not processed', async () => {
    const topic = `${run}/refused`;
    const refused = await rawOpen();
    refused.write(
      connect({ clientId: '', clean: false }),
      publish({ topic, payload: 'must not be kept', retain: true }),
    );
    await refused.closed();
    expect(refused.bytes().toString('hex')).toBe('20020002');
    // Had the PUBLISH been processed, a new subscription would get it as a retained message,
    // before the PINGRESP that follows the SUBACK.
    const checker = await rawConnect(`${run}-checker`);
    checker.write(subscribe(7, [[topic, 1]]), PINGREQ);
    expect((await checker.next()).bytes.toString('hex')).toBe('9003000701');
    expect((await checker.next()).bytes.toString('hex')).toBe('d000');
  });

  it('closes a connection that sends no CONNECT within --connect-timeout-ms (500 ms)', async () => {
    const silent = await rawOpen();
    const partial = await rawOpen();
    partial.write(connect({ clientId: `${run}-slow` }).subarray(0, 5));
    const started = performance.now();
    await Promise.all([silent.closed(3000), partial.closed(3000)]);
    for (const client of [silent, partial]) {
      const elapsed = client.closedAt! - started;
      expect(elapsed).toBeGreaterThan(350);
      expect(elapsed).toBeLessThan(1500);
      expect(client.bytes().toString('hex')).toBe('');
    }
  });
});

describe('CONNACK session present (§3.2.2)', () => {
  it('[MQTT-3.2.2-1][MQTT-3.2.2-2][MQTT-3.2.2-3][MQTT-3.1.2-6] session present tells whether a stored session was resumed', async () => {
    const clientId = `${run}-sp`;
    const connack = async (clean: boolean): Promise<string> => {
      const client = await rawOpen();
      client.write(connect({ clientId, clean }));
      const answer = (await client.next()).bytes.toString('hex');
      client.write(DISCONNECT);
      await client.closed();
      return answer;
    };
    expect(await connack(false)).toBe('20020000'); // new persistent session
    expect(await connack(false)).toBe('20020100'); // resumed
    expect(await connack(true)).toBe('20020000'); // clean session 1: discarded, SP 0
    expect(await connack(false)).toBe('20020000'); // the clean session left nothing behind
  });
});

describe('keepalive (§3.1.2.10, §3.12)', () => {
  it('[MQTT-3.12.4-1] answers PINGREQ with PINGRESP d0 00', async () => {
    const client = await rawConnect(`${run}-ping`);
    client.write(PINGREQ);
    expect((await client.next()).bytes.toString('hex')).toBe('d000');
    client.write(PINGREQ, PINGREQ);
    expect((await client.take(2)).map((frame) => frame.bytes.toString('hex'))).toEqual(['d000', 'd000']);
  });

  it('[MQTT-3.1.2-24] keepalive 1 s and silence: closed after 1.5 s (within 1.5-2.5 s), and the will is published', async () => {
    const willTopic = `${run}/keepalive/will`;
    const watcher = await rawConnect(`${run}-ka-watcher`);
    watcher.write(subscribe(1, [[willTopic, 1]]));
    expect((await watcher.next()).type).toBe(Type.Suback);
    const silent = await rawOpen();
    silent.write(
      connect({
        clientId: `${run}-ka`,
        keepaliveSeconds: 1,
        will: { topic: willTopic, payload: 'gone', qos: 1 },
      }),
    );
    await silent.next();
    const connackAt = performance.now();
    await silent.closed(4000);
    const elapsed = silent.closedAt! - connackAt;
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThanOrEqual(2500);
    const will = await watcher.nextPublish();
    expect({ topic: will.topic, payload: will.payload.toString(), qos: will.qos }).toEqual({
      topic: willTopic,
      payload: 'gone',
      qos: 1,
    });
  });

  it('any packet within the keepalive period keeps the connection open', async () => {
    const client = await rawConnect(`${run}-ka-alive`, { keepaliveSeconds: 1 });
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 700));
      client.write(PINGREQ);
      expect((await client.next()).bytes.toString('hex')).toBe('d000');
    }
    expect(client.isClosed).toBe(false);
  });
});
