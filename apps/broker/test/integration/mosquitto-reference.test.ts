import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, targetOf } from './conformance-harness.js';
import type { TestBroker } from './helpers.js';
import {
  type ConnectOptions,
  connect,
  DISCONNECT,
  PINGREQ,
  packet,
  parsePublish,
  puback,
  publish,
  pubrec,
  pubrel,
  RawClient,
  runId,
  str,
  subscribe,
  type Target,
  Type,
  u16,
  unsubscribe,
} from './mqtt-wire.js';

// A representative subset of the conformance scenarios, run against our broker AND the
// Mosquitto reference broker on 127.0.0.1:1883. Our broker must show the spec behaviour
// (asserted); Mosquitto's behaviour is recorded, and every difference is printed at the end
// (it is not a failure: Mosquitto makes choices the spec allows, and has its own quirks).
// Client ids and topics carry a random run id, so that nothing here meets other users of
// the shared Mosquitto; whatever is retained or persistent there is removed afterwards.

const MOSQUITTO: Target = { host: '127.0.0.1', port: 1883 };
const run = runId();
let broker: TestBroker;
let ours: Target;
const raws: RawClient[] = [];
/** Retained topics and persistent client ids left on each target, cleaned up in afterAll. */
const leftovers = new Map<Target, { retained: Set<string>; sessions: Set<string> }>();

interface Deviation {
  scenario: string;
  expected: unknown;
  mosquitto: unknown;
}
const deviations: Deviation[] = [];
const agreements: string[] = [];

beforeAll(async () => {
  try {
    const probe = await RawClient.connect(MOSQUITTO, { clientId: `${run}-probe` });
    probe.write(DISCONNECT);
    probe.destroy();
  } catch (error) {
    throw new Error(
      `Mosquitto reference broker on ${MOSQUITTO.host}:${MOSQUITTO.port} is not reachable ` +
        `(${(error as Error).message}); this suite needs it: start it (CI restarts it) and run again`,
    );
  }
  broker = await startBroker();
  ours = targetOf(broker);
  leftovers.set(ours, { retained: new Set(), sessions: new Set() });
  leftovers.set(MOSQUITTO, { retained: new Set(), sessions: new Set() });
});

afterAll(async () => {
  for (const client of raws) client.destroy();
  const cleanup = leftovers.get(MOSQUITTO);
  if (cleanup) {
    const cleaner = await RawClient.connect(MOSQUITTO, { clientId: `${run}-cleaner` }).catch(() => undefined);
    if (cleaner) {
      for (const topic of cleanup.retained) cleaner.write(publish({ topic, payload: '', retain: true }));
      cleaner.write(DISCONNECT);
      await cleaner.closed().catch(() => undefined);
    }
    for (const clientId of cleanup.sessions) {
      const client = await RawClient.connect(MOSQUITTO, { clientId, clean: true }).catch(() => undefined);
      client?.write(DISCONNECT);
      await client?.closed().catch(() => undefined);
    }
  }
  await broker?.stop();
  const lines = deviations.map(
    (d) =>
      `- ${d.scenario}\n    spec/ours: ${JSON.stringify(d.expected)}\n    mosquitto: ${JSON.stringify(d.mosquitto)}`,
  );
  console.log(
    `Mosquitto reference: ${agreements.length} scenario(s) agree, ${deviations.length} differ` +
      (lines.length > 0 ? `:\n${lines.join('\n')}` : ''),
  );
});

/** What one scenario observed: JSON values only, so that the two brokers compare directly. */
type Observation = unknown;
type Scenario = (target: Target, id: (name: string) => string) => Promise<Observation>;

/**
 * Runs `scenario` against both brokers at once (each with its own ids and topics); asserts our
 * broker observed `expected`, records Mosquitto's observation.
 */
async function compare(name: string, expected: Observation, scenario: Scenario): Promise<void> {
  const idFor = (target: Target) => (suffix: string) =>
    `${run}-${target === ours ? 'ours' : 'mosq'}-${suffix}`;
  const [ourResult, mosquittoResult] = await Promise.all([
    scenario(ours, idFor(ours)),
    scenario(MOSQUITTO, idFor(MOSQUITTO)).catch((error: Error) => `error: ${error.message.split(';')[0]}`),
  ]);
  if (isDeepStrictEqual(mosquittoResult, expected)) agreements.push(name);
  else deviations.push({ scenario: name, expected, mosquitto: mosquittoResult });
  expect(ourResult).toEqual(expected);
}

async function open(target: Target): Promise<RawClient> {
  const client = await RawClient.open(target);
  raws.push(client);
  return client;
}

async function connected(target: Target, options: ConnectOptions): Promise<RawClient> {
  const client = await RawClient.connect(target, options);
  raws.push(client);
  if (options.clean === false) leftovers.get(target)!.sessions.add(options.clientId);
  return client;
}

/** `closed <hex>` once the broker closed the connection, `open <hex>` if it did not within `ms`. */
async function outcome(client: RawClient, ms = 1500): Promise<string> {
  const closed = await client.closed(ms).then(
    () => true,
    () => false,
  );
  return `${closed ? 'closed' : 'open'} ${client.bytes().toString('hex')}`.trim();
}

/** Sends `bytes` on a fresh connection as its first packet(s). */
async function firstPackets(target: Target, bytes: Buffer, waitMs = 1500): Promise<string> {
  const client = await open(target);
  client.write(bytes);
  return outcome(client, waitMs);
}

/** Connects, sends `bytes`, and reports what followed the CONNACK. */
async function afterConnect(target: Target, id: string, bytes: Buffer): Promise<string> {
  const client = await connected(target, { clientId: id });
  client.write(bytes);
  const result = await outcome(client);
  return result.replace(/^(closed|open) 20020000/, '$1 connack');
}

async function subscribed(target: Target, id: string, filters: Array<[string, number]>): Promise<RawClient> {
  const client = await connected(target, { clientId: id });
  client.write(subscribe(1, filters));
  const suback = await client.next();
  if (suback.type !== Type.Suback) throw new Error(`expected SUBACK, got ${suback.bytes.toString('hex')}`);
  return client;
}

/**
 * Publishes `marker` (QoS 0) on `sentinelTopic` from `by`, and returns every PUBLISH `client`
 * received before it, as `<payload> q<qos>[ retain]`; earlier markers ('sentinel…') are skipped.
 */
async function untilSentinel(
  client: RawClient,
  by: RawClient,
  sentinelTopic: string,
  marker = 'sentinel',
): Promise<string[]> {
  by.write(publish({ topic: sentinelTopic, payload: marker }));
  const out: string[] = [];
  for (;;) {
    const frame = await client.next();
    if (frame.type !== Type.Publish) continue;
    const message = parsePublish(frame);
    if (message.qos === 1) client.write(puback(message.packetId!));
    if (message.qos === 2) client.write(pubrec(message.packetId!));
    const payload = message.payload.toString();
    if (message.topic === sentinelTopic && payload === marker) return out;
    if (!payload.startsWith('sentinel'))
      out.push(`${payload} q${message.qos}${message.retain ? ' retain' : ''}`);
  }
}

describe('Mosquitto reference: CONNECT', () => {
  it('[MQTT-3.1.2-2] unsupported protocol level', () =>
    compare('[MQTT-3.1.2-2] protocol level 6', 'closed 20020001', (target, id) =>
      firstPackets(target, connect({ clientId: id('level'), level: 6 })),
    ));

  it('[MQTT-3.1.3-8] empty client id with clean session 0', () =>
    compare('[MQTT-3.1.3-8] empty client id, clean session 0', 'closed 20020002', (target) =>
      firstPackets(target, connect({ clientId: '', clean: false })),
    ));

  it('[MQTT-3.1.3-6] empty client id with clean session 1', () =>
    compare('[MQTT-3.1.3-6] empty client id, clean session 1', 'open 20020000', (target) =>
      firstPackets(target, connect({ clientId: '' }), 500),
    ));

  it('[MQTT-3.1.0-1] first packet not CONNECT', () =>
    compare('[MQTT-3.1.0-1] PINGREQ before CONNECT', 'closed', (target) => firstPackets(target, PINGREQ)));

  it('[MQTT-3.1.0-2] second CONNECT', () =>
    compare('[MQTT-3.1.0-2] second CONNECT', 'closed connack', (target, id) =>
      afterConnect(target, id('twice'), connect({ clientId: id('twice') })),
    ));

  it('[MQTT-3.1.2-3] reserved connect flag', () =>
    compare('[MQTT-3.1.2-3] reserved connect flag set', 'closed', (target, id) =>
      firstPackets(target, connect({ clientId: id('reserved'), extraFlags: 0x01 })),
    ));

  it('[MQTT-3.1.2-13] will QoS without the will flag', () =>
    compare('[MQTT-3.1.2-13] will QoS 1 without will flag', 'closed', (target, id) =>
      firstPackets(target, connect({ clientId: id('willqos'), extraFlags: 0x08 })),
    ));

  it('[MQTT-3.2.2-2] session present on resume', () =>
    compare(
      '[MQTT-3.2.2-1..3] session present: new, resumed, clean, after clean',
      ['00', '01', '00', '00'],
      async (target, id) => {
        const out: string[] = [];
        for (const clean of [false, false, true, false]) {
          const client = await open(target);
          client.write(connect({ clientId: id('sp'), clean }));
          out.push((await client.next()).bytes.subarray(2, 3).toString('hex'));
          client.write(DISCONNECT);
          await client.closed();
        }
        leftovers.get(target)!.sessions.add(id('sp'));
        return out;
      },
    ));

  it('[MQTT-3.1.2-24] keepalive timeout', () =>
    compare(
      '[MQTT-3.1.2-24] keepalive 1 s, silence: closed within 1.5-2.5 s',
      'closed in 1.5-2.5 s',
      async (target, id) => {
        const client = await open(target);
        client.write(connect({ clientId: id('ka'), keepaliveSeconds: 1 }));
        await client.next();
        const since = performance.now();
        await client.closed(4000);
        const elapsed = client.closedAt! - since;
        return elapsed >= 1400 && elapsed <= 2500
          ? 'closed in 1.5-2.5 s'
          : `closed after ${Math.round(elapsed)} ms`;
      },
    ));
});

describe('Mosquitto reference: QoS flows', () => {
  it('[MQTT-4.3.2-2][MQTT-4.3.3-2] acknowledgements', () =>
    compare(
      '[MQTT-4.3.2-2][MQTT-4.3.3-2] PUBACK, PUBREC, PUBCOMP',
      ['40020011', '50020012', '70020012'],
      async (target, id) => {
        const client = await connected(target, { clientId: id('acks') });
        client.write(publish({ topic: `${id('acks')}/t`, payload: 'x', qos: 1, packetId: 0x11 }));
        client.write(publish({ topic: `${id('acks')}/t`, payload: 'x', qos: 2, packetId: 0x12 }));
        const [a, b] = await client.take(2);
        client.write(pubrel(0x12));
        const c = await client.next();
        return [a!, b!, c].map((frame) => frame.bytes.toString('hex'));
      },
    ));

  it('[MQTT-4.3.3-2] QoS 2 re-sent with DUP before PUBREL is forwarded once', () =>
    compare('[MQTT-4.3.3-2] QoS 2 DUP re-send forwarded once', ['once q0'], async (target, id) => {
      const topic = `${id('dup')}/t`;
      const watcher = await subscribed(target, id('dup-sub'), [[topic, 0]]);
      const client = await connected(target, { clientId: id('dup-pub') });
      client.write(publish({ topic, payload: 'once', qos: 2, packetId: 5 }));
      await client.next();
      client.write(publish({ topic, payload: 'once', qos: 2, packetId: 5, dup: true }));
      await client.next();
      client.write(pubrel(5));
      await client.next();
      return untilSentinel(watcher, client, topic);
    }));

  it('[MQTT-3.3.5-1] overlapping subscriptions', () =>
    compare(
      '[MQTT-3.3.5-1] overlapping subscriptions: one copy at the highest QoS',
      ['m q2'],
      async (target, id) => {
        const prefix = id('ov');
        const watcher = await connected(target, { clientId: id('ov-sub') });
        watcher.write(
          subscribe(1, [
            [`${prefix}/#`, 0],
            [`${prefix}/+`, 2],
            [`${prefix}/end`, 0],
          ]),
        );
        await watcher.next();
        const client = await connected(target, { clientId: id('ov-pub') });
        client.write(publish({ topic: `${prefix}/x`, payload: 'm', qos: 2, packetId: 1 }));
        await client.next();
        client.write(pubrel(1));
        await client.next();
        return untilSentinel(watcher, client, `${prefix}/end`);
      },
    ));
});

describe('Mosquitto reference: SUBSCRIBE, retained, $ topics', () => {
  it('[MQTT-3.8.4-5] SUBACK with an invalid filter beside valid ones', () =>
    compare(
      '[MQTT-3.8.4-5] SUBACK codes for [ok q0, a/#/b q1, ok q2]',
      'open 9005000a008002',
      async (target, id) => {
        const client = await connected(target, { clientId: id('suback') });
        client.write(
          subscribe(10, [
            [`${id('s')}/a`, 0],
            ['a/#/b', 1],
            [`${id('s')}/+`, 2],
          ]),
        );
        return (await outcome(client, 500)).replace(/ 20020000/, ' ');
      },
    ));

  it('[MQTT-4.7.3-1] empty topic filter', () =>
    compare('[MQTT-4.7.3-1] SUBACK for an empty filter', 'open 9003000180', async (target, id) => {
      const client = await connected(target, { clientId: id('empty') });
      client.write(subscribe(1, [['', 0]]));
      return (await outcome(client, 500)).replace(/ 20020000/, ' ');
    }));

  it('[MQTT-3.3.1-5..11] retained lifecycle', () =>
    compare(
      '[MQTT-3.3.1-5..11] retained: RETAIN 0 to existing, RETAIN 1 on subscribe, replaced, deleted',
      { existing: ['r1 q1', 'r2 q0', ' q0'], onSubscribe: [['r1 q1 retain'], ['r2 q0 retain'], []] },
      async (target, id) => {
        const topic = `${id('ret')}/t`;
        leftovers.get(target)!.retained.add(topic);
        const existing = await subscribed(target, id('ret-existing'), [[topic, 1]]);
        const client = await connected(target, { clientId: id('ret-pub') });
        const onSubscribe: string[][] = [];
        const steps: Array<[string, 0 | 1]> = [
          ['r1', 1],
          ['r2', 0],
          ['', 0],
        ];
        for (const [i, [payload, qos]] of steps.entries()) {
          client.write(publish({ topic, payload, qos, packetId: i + 1, retain: true }), PINGREQ);
          while ((await client.next()).type !== Type.Pingresp);
          const late = await subscribed(target, id(`ret-late-${i}`), [[topic, 1]]);
          onSubscribe.push(await untilSentinel(late, client, topic));
        }
        return { existing: await untilSentinel(existing, client, topic, 'final'), onSubscribe };
      },
    ));

  it('[MQTT-3.10.4-4][MQTT-3.10.4-5] UNSUBACK', () =>
    compare('[MQTT-3.10.4-5] UNSUBACK for a filter never subscribed', 'b0020007', async (target, id) => {
      const client = await connected(target, { clientId: id('unsub') });
      client.write(unsubscribe(7, [`${id('never')}/x`]));
      return (await client.next()).bytes.toString('hex');
    }));

  it('a client publishing to a $ topic', () =>
    compare(
      'publish to $x/... by a client: dropped (acknowledged)',
      { puback: '40020004', delivered: [] },
      async (target, id) => {
        const topic = `$x/${id('dollar')}`;
        const watcher = await subscribed(target, id('dollar-sub'), [
          [`$x/${id('dollar')}`, 1],
          [`${id('dollar')}/end`, 0],
        ]);
        const client = await connected(target, { clientId: id('dollar-pub') });
        client.write(publish({ topic, payload: 'x', qos: 1, packetId: 4 }));
        const puback = (await client.next()).bytes.toString('hex');
        return { puback, delivered: await untilSentinel(watcher, client, `${id('dollar')}/end`) };
      },
    ));
});

describe('Mosquitto reference: wills', () => {
  const willScenario =
    (how: (client: RawClient, target: Target, clientId: string) => void | Promise<void>): Scenario =>
    async (target, id) => {
      const topic = `${id('will')}/w`;
      const watcher = await subscribed(target, id('will-sub'), [
        [topic, 1],
        [`${topic}/end`, 0],
      ]);
      const client = await connected(target, {
        clientId: id('will'),
        will: { topic, payload: 'will', qos: 1 },
      });
      await how(client, target, id('will'));
      await client.closed();
      const by = await connected(target, { clientId: id('will-sentinel') });
      // The will may be published a moment after the close: give it 300 ms before the sentinel.
      await new Promise((resolve) => setTimeout(resolve, 300));
      return untilSentinel(watcher, by, `${topic}/end`);
    };

  it('[MQTT-3.1.2-8] socket destroyed', () =>
    compare(
      '[MQTT-3.1.2-8] will on socket destroyed',
      ['will q1'],
      willScenario((c) => {
        c.socket.resetAndDestroy();
      }),
    ));

  it('[MQTT-3.1.2-8] protocol violation', () =>
    compare(
      '[MQTT-3.1.2-8] will on protocol violation (wildcard PUBLISH)',
      ['will q1'],
      willScenario((c) => c.write(publish({ topic: 'a/+', payload: 'x' }))),
    ));

  it('[MQTT-3.1.2-10] clean DISCONNECT', () =>
    compare(
      '[MQTT-3.1.2-10] no will after DISCONNECT',
      [],
      willScenario((c) => c.write(DISCONNECT)),
    ));

  it('[MQTT-3.1.4-2] takeover', () =>
    compare(
      '[MQTT-3.1.4-2] takeover closes the first connection and publishes its will',
      ['will q1'],
      willScenario(async (_, target, clientId) => {
        await connected(target, { clientId });
      }),
    ));
});

describe('Mosquitto reference: malformed input', () => {
  const malformed: Array<[string, Buffer]> = [
    ['remaining length of 5 bytes', Buffer.from('30ffffffff7f', 'hex')],
    [
      '[MQTT-1.5.3-1] ill-formed UTF-8 topic (c3 28)',
      publish({ topic: Buffer.from('c328', 'hex'), payload: 'x' }),
    ],
    ['[MQTT-1.5.3-2] U+0000 in a topic', publish({ topic: Buffer.from('610062', 'hex'), payload: 'x' })],
    ['[MQTT-3.3.2-2] wildcard in a PUBLISH topic', publish({ topic: 'a/#', payload: 'x' })],
    ['[MQTT-3.8.1-1] SUBSCRIBE flags 0000', packet(0x80, u16(1), str('a'), Buffer.from([0]))],
    ['[MQTT-3.6.1-1] PUBREL flags 0000', Buffer.from('60020001', 'hex')],
    ['[MQTT-3.3.1-4] PUBLISH QoS 3', publish({ topic: 'a', payload: 'x', qos: 3, packetId: 1 })],
    ['[MQTT-2.3.1-1] PUBLISH QoS 1 packet id 0', publish({ topic: 'a', payload: 'x', qos: 1, packetId: 0 })],
    ['[MQTT-3.8.3-4] SUBSCRIBE QoS 3', subscribe(1, [['a', 3]])],
    ['[MQTT-3.14.1-1] DISCONNECT flags 0001', Buffer.from('e100', 'hex')],
  ];
  it.each(malformed)('%s', (name, bytes) =>
    compare(`malformed: ${name}`, 'closed connack', (target, id) => afterConnect(target, id('bad'), bytes)),
  );
});
