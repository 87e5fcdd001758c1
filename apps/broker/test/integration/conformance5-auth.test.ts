import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ScramClient, scramClient } from '../auth/scram-client.js';
import { startBroker, targetOf } from './conformance-harness.js';
import {
  type Client5,
  Clients5,
  connectPacket,
  expectDisconnect,
  type Packet,
  PacketType,
  packet,
  pingreq,
  props,
  publishPacket,
  str,
  subscription,
  uid,
} from './conformance5-harness.js';
import { cliPath, type TestBroker } from './helpers.js';

// MQTT 5.0 enhanced authentication (§3.1.2.11.9, §3.15, §4.12) against the built broker over
// raw sockets: SCRAM-SHA-256 with a user of its SQLite store (`user add --hash scram-sha-256`),
// `--auth-failure-delay-ms 0`. The SCRAM client is ../auth/scram-client.ts (from RFC 5802).

const METHOD = 'SCRAM-SHA-256';
let broker: TestBroker;
let dataDir: string;
const clients = new Clients5(() => targetOf(broker));

/** `mqtt-adapt ARGS --data-dir <the test's>` with `input` on stdin. */
function admin(args: readonly string[], input: string): number | null {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('MQTT_ADAPT_') && name !== 'DATABASE_URL',
    ),
  );
  return spawnSync(process.execPath, [cliPath, ...args, '--data-dir', dataDir], {
    input,
    env,
    encoding: 'utf8',
    timeout: 20_000,
  }).status;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'mqtt-adapt-conformance5-auth-'));
  expect(admin(['user', 'add', 'alice', '--hash', 'scram-sha-256', '--password-stdin'], 'wonderland\n')).toBe(
    0,
  );
  expect(admin(['user', 'add', 'bob', '--password-stdin'], 'builder\n')).toBe(0);
  broker = await startBroker(['--data-dir', dataDir, '--auth-failure-delay-ms', '0']);
});

afterEach(() => clients.closeAll());

afterAll(async () => {
  await broker?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function auth(reasonCode: number, data?: Buffer, method = METHOD): Packet {
  return {
    type: PacketType.Auth,
    reasonCode,
    properties:
      data === undefined
        ? { authenticationMethod: method }
        : { authenticationMethod: method, authenticationData: data },
  };
}

function dataOf(p: Packet): Buffer {
  const data = p.type === PacketType.Auth ? p.properties?.authenticationData : undefined;
  if (data === undefined) throw new Error(`no Authentication Data in ${JSON.stringify(p)}`);
  return data;
}

/** A CONNECT naming SCRAM-SHA-256 for alice, answered by the server-first AUTH 0x18. */
async function startScram(
  extra: { maximumPacketSize?: number } = {},
): Promise<{ client: Client5; scram: ScramClient; serverFirst: Packet }> {
  const scram = scramClient('alice', 'wonderland');
  const client = await clients.open();
  client.send(
    connectPacket({
      clientId: uid('scram'),
      properties: { authenticationMethod: METHOD, authenticationData: scram.first, ...extra },
    }),
  );
  const serverFirst = await client.next();
  expect(serverFirst).toMatchObject({ type: PacketType.Auth, reasonCode: 0x18 });
  return { client, scram, serverFirst };
}

/** A SCRAM login to CONNACK 0x00; returns the client and every packet of the exchange. */
async function scramLogin(extra: { maximumPacketSize?: number } = {}) {
  const { client, scram, serverFirst } = await startScram(extra);
  client.send(auth(0x18, scram.final(dataOf(serverFirst))));
  const connack = await client.expect(PacketType.Connack);
  expect(connack.reasonCode).toBe(0);
  return { client, exchange: [serverFirst, connack] as Packet[] };
}

/** A re-authentication (AUTH 0x19 … AUTH 0x00) on a connected SCRAM client; returns the broker's AUTH packets. */
async function reauthenticate(client: Client5): Promise<Packet[]> {
  const scram = scramClient('alice', 'wonderland');
  client.send(auth(0x19, scram.first));
  const serverFirst = await client.expect(PacketType.Auth);
  client.send(auth(0x18, scram.final(dataOf(serverFirst))));
  const done = await client.expect(PacketType.Auth);
  expect(scram.verifyServer(done.properties?.authenticationData)).toBe(true);
  return [serverFirst, done];
}

describe('AUTH packets and the exchange before CONNACK', () => {
  it('[MQTT-3.1.2-30] a packet other than AUTH or DISCONNECT before CONNACK: CONNACK 0x82, closed, not processed', async () => {
    const topic = `${uid()}/early`;
    const watcher = await clients.subscriber(
      { clientId: uid('watch'), username: 'bob', password: Buffer.from('builder') },
      [subscription(topic, { qos: 1 })],
    );
    const early: Array<[string, Packet]> = [
      ['PUBLISH', publishPacket(topic, 'too early', { qos: 1, packetId: 1 })],
      [
        'SUBSCRIBE',
        {
          type: PacketType.Subscribe,
          packetId: 1,
          subscriptions: [subscription(topic)],
          properties: undefined,
        },
      ],
      ['PINGREQ', pingreq],
    ];
    for (const [name, first] of early) {
      const { client } = await startScram();
      client.send(first);
      const packets = await client.packetsUntilClosed();
      expect(packets, name).toEqual([
        expect.objectContaining({ type: PacketType.Connack, reasonCode: 0x82 }),
      ]);
    }
    expect((await watcher.collectFor(200)).filter((p) => p.type === PacketType.Publish)).toEqual([]);
  });

  it('[MQTT-3.15.1-1] an AUTH with a reserved flag set is malformed: closed before CONNACK (at most a CONNACK 0x81), DISCONNECT 0x81 after', async () => {
    // AUTH, flags 0001, reason code 0x18, Authentication Method.
    const badAuth = packet(0xf1, Buffer.from([0x18]), props([0x15, str(METHOD)]));
    const { client } = await startScram();
    client.write(badAuth);
    const packets = await client.packetsUntilClosed();
    expect(packets.length).toBeLessThanOrEqual(1);
    for (const p of packets) expect(p).toMatchObject({ type: PacketType.Connack, reasonCode: 0x81 });

    const { client: connected } = await scramLogin();
    connected.write(badAuth);
    await expectDisconnect(connected, [0x81]);
  });

  it('[MQTT-3.15.2-1] the broker sends only Authenticate Reason Codes (0x18 before CONNACK and in a re-authentication, 0x00 at its end); other codes from the client are refused', async () => {
    const { client, exchange } = await scramLogin();
    const sent = [...exchange.filter((p) => p.type === PacketType.Auth), ...(await reauthenticate(client))];
    expect(sent.map((p) => p.type === PacketType.Auth && p.reasonCode)).toEqual([0x18, 0x18, 0x00]);
    // An AUTH 0x87 (not an Authenticate Reason Code) in the middle of the exchange, and after it.
    const { client: midway } = await startScram();
    midway.send(auth(0x87));
    const packets = await midway.packetsUntilClosed();
    expect(packets).toEqual([expect.objectContaining({ type: PacketType.Connack })]);
    expect([0x81, 0x82]).toContain((packets[0] as { reasonCode: number }).reasonCode);
    client.send(auth(0x87));
    await expectDisconnect(client, [0x81, 0x82]);
  });

  it('[MQTT-3.15.2-2][MQTT-3.15.2-3] the broker AUTH carries no Reason String and no User Property, and fits the Maximum Packet Size (256)', async () => {
    const maximumPacketSize = 256;
    const { client, exchange } = await scramLogin({ maximumPacketSize });
    const reauth = await reauthenticate(client);
    const frames = client.raw.frames.filter((f) => f.type === PacketType.Auth);
    expect(frames).toHaveLength(3);
    for (const frame of frames) expect(frame.bytes.length).toBeLessThanOrEqual(maximumPacketSize);
    for (const p of [exchange[0]!, ...reauth]) {
      expect(p.type === PacketType.Auth && p.properties?.reasonString).toBeFalsy();
      expect(p.type === PacketType.Auth && p.properties?.userProperties).toBeFalsy();
    }
  });
});

describe('without enhanced authentication (§4.12)', () => {
  it('[MQTT-4.12.0-6] a CONNECT without an Authentication Method gets no AUTH and a CONNACK without one', async () => {
    const topic = `${uid()}/plain`;
    const plain = await clients.subscriber(
      { clientId: uid('plain'), username: 'bob', password: Buffer.from('builder') },
      [subscription(topic, { qos: 1 })],
    );
    expect(plain.connack.properties?.authenticationMethod).toBeUndefined();
    expect(plain.connack.properties?.authenticationData).toBeUndefined();
    // A password login of the SCRAM user is no enhanced authentication either.
    const alice = await clients.connect({
      clientId: uid('alice'),
      username: 'alice',
      password: Buffer.from('wonderland'),
    });
    expect(alice.connack.properties?.authenticationMethod).toBeUndefined();
    plain.send(publishPacket(topic, 'x', { qos: 1, packetId: 2 }), pingreq);
    alice.send(pingreq);
    const after = [...(await plain.collectFor(300)), ...(await alice.collectFor(100))];
    expect(after.map((p) => p.type).sort()).toEqual(
      [PacketType.Publish, PacketType.Puback, PacketType.Pingresp, PacketType.Pingresp].sort(),
    );
    const frames = [...plain.raw.frames, ...alice.raw.frames];
    expect(frames.filter((f) => f.type === PacketType.Auth)).toEqual([]);
  });
});

describe('the Maximum Packet Size of the client during the exchange', () => {
  it('[MQTT-3.1.2-24] no AUTH larger than the Maximum Packet Size: the server-first AUTH (about 107 bytes) to a limit of 64', async () => {
    const maximumPacketSize = 64;
    const scram = scramClient('alice', 'wonderland');
    const client = await clients.open();
    client.send(
      connectPacket({
        clientId: uid('scram'),
        properties: { authenticationMethod: METHOD, authenticationData: scram.first, maximumPacketSize },
      }),
    );
    // Refused or closed, or anything within the limit; never an AUTH (or other packet) above it.
    await client.collectFor(500);
    expect(client.raw.frames.map((f) => [f.type, f.bytes.length])).toEqual(
      client.raw.frames.map((f) => [f.type, Math.min(f.bytes.length, maximumPacketSize)]),
    );
  });
});
