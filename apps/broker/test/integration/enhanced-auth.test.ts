import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decoder, encode, type Packet, PacketType } from '@mqtt-adapt/codec';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScramClient, scramClient } from '../auth/scram-client.js';
import { assertBuilt, cliPath, openSocket, startTestBroker, type TestBroker } from './helpers.js';

/*
 * MQTT 5.0 enhanced authentication against the built broker: SCRAM-SHA-256 with the users of
 * its SQLite store, through MQTT.js (`handleAuth`) and through a raw socket for re-authentication
 * and protocol errors. The SCRAM client is written from RFC 5802 in ../auth/scram-client.ts.
 */

const METHOD = 'SCRAM-SHA-256';
let broker: TestBroker;
let dataDir: string;
const clients: MqttClient[] = [];

/** `mqtt-adapt ARGS` against the test's data directory, with `input` on stdin. */
function admin(
  args: readonly string[],
  input = '',
): { status: number | null; stdout: string; stderr: string } {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('MQTT_ADAPT_') && name !== 'DATABASE_URL',
    ),
  );
  const run = spawnSync(process.execPath, [cliPath, ...args, '--data-dir', dataDir], {
    input,
    env,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Connects with MQTT.js doing SCRAM in `handleAuth`; resolves with the client or the CONNACK code. */
async function scramConnect(
  clientId: string,
  scram: ScramClient,
): Promise<{ client: MqttClient; connack: mqtt.IConnackPacket } | number> {
  const client = mqtt.connect(broker.url, {
    clientId,
    protocolVersion: 5,
    reconnectPeriod: 0,
    properties: { authenticationMethod: METHOD, authenticationData: scram.first },
  });
  clients.push(client);
  client.handleAuth = (packet, callback) => {
    const serverFirst = packet.properties?.authenticationData;
    if (serverFirst === undefined) return callback(new Error('no server-first-message'));
    callback(undefined, {
      cmd: 'auth',
      reasonCode: 0x18,
      properties: { authenticationMethod: METHOD, authenticationData: scram.final(serverFirst) },
    });
  };
  return new Promise((resolve, reject) => {
    client.once('connect', (connack) => resolve({ client, connack }));
    client.once('error', (error) => {
      const code = (error as { code?: unknown }).code;
      client.end(true);
      if (typeof code === 'number') resolve(code);
      else reject(error);
    });
  });
}

/** A raw 5.0 connection that decodes what the broker sends. */
interface RawClient {
  socket: Socket;
  send(packet: Packet): void;
  /** The next packet, or 'closed' once the broker closed the connection. */
  next(timeoutMs?: number): Promise<Packet | 'closed'>;
}

async function rawClient(): Promise<RawClient> {
  const socket = await openSocket(broker.port);
  const queue: Array<Packet | 'closed'> = [];
  let wake: (() => void) | undefined;
  const push = (item: Packet | 'closed') => {
    queue.push(item);
    wake?.();
  };
  const decoder = new Decoder({
    protocolVersion: 5,
    onPacket: push,
    onError: (error) => {
      throw error;
    },
  });
  socket.on('data', (chunk: Buffer) => decoder.feed(chunk));
  socket.on('error', () => socket.destroy());
  socket.once('close', () => push('closed'));
  return {
    socket,
    send: (packet) => socket.write(encode(packet, 5)),
    async next(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (queue.length === 0) {
        if (Date.now() > deadline) throw new Error(`nothing from the broker within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
      return queue.shift()!;
    },
  };
}

function auth(reasonCode: number, data: Buffer | undefined, method = METHOD): Packet {
  return {
    type: PacketType.Auth,
    reasonCode,
    properties:
      data === undefined
        ? { authenticationMethod: method }
        : { authenticationMethod: method, authenticationData: data },
  };
}

function connectWith(clientId: string, method: string, data: Buffer, keepaliveSeconds = 60): Packet {
  return {
    type: PacketType.Connect,
    protocolName: 'MQTT',
    protocolVersion: 5,
    cleanStart: true,
    keepaliveSeconds,
    clientId,
    will: undefined,
    username: undefined,
    password: undefined,
    properties: { authenticationMethod: method, authenticationData: data },
  };
}

/** Raw SCRAM up to CONNACK; returns the CONNACK. */
async function rawScramLogin(
  raw: RawClient,
  clientId: string,
  scram: ScramClient,
): Promise<Packet | 'closed'> {
  raw.send(connectWith(clientId, METHOD, scram.first));
  const serverFirst = await raw.next();
  if (serverFirst === 'closed' || serverFirst.type !== PacketType.Auth) return serverFirst;
  expect(serverFirst).toMatchObject({ reasonCode: 0x18, properties: { authenticationMethod: METHOD } });
  raw.send(auth(0x18, scram.final(serverFirst.properties!.authenticationData!)));
  return raw.next();
}

beforeAll(async () => {
  assertBuilt();
  dataDir = mkdtempSync(join(tmpdir(), 'mqtt-adapt-enhanced-auth-'));
  expect(
    admin(['user', 'add', 'alice', '--hash', 'scram-sha-256', '--password-stdin'], 'wonderland\n'),
  ).toMatchObject({ status: 0, stdout: 'added user "alice"\n' });
  expect(admin(['user', 'add', 'bob', '--password-stdin'], 'builder\n').status).toBe(0);
  broker = await startTestBroker({
    args: ['--data-dir', dataDir, '--auth-failure-delay-ms', '0', '--connect-timeout-ms', '1500'],
  });
});

afterAll(async () => {
  for (const client of clients) client.end(true);
  await broker?.stop('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('mqtt-adapt user add --hash', () => {
  it('stores SCRAM-SHA-256 credentials; an unknown scheme is a usage error (exit 2)', () => {
    expect(admin(['user', 'list']).stdout).toBe('alice\tscram-sha-256\nbob\tscrypt\n');
    const wrong = admin(['user', 'add', 'carol', '--hash', 'md5', '--password-stdin'], 'x\n');
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toMatch(/--hash md5 is not a hash scheme/);
  });
});

describe('SCRAM-SHA-256 enhanced authentication', () => {
  it('MQTT.js logs in with SCRAM: CONNACK 0x00 carries the method and a server signature the client verifies', async () => {
    const scram = scramClient('alice', 'wonderland');
    const result = await scramConnect('scram-ok', scram);
    if (typeof result === 'number') throw new Error(`refused with 0x${result.toString(16)}`);
    expect(result.connack.reasonCode).toBe(0);
    expect(result.connack.properties?.authenticationMethod).toBe(METHOD);
    expect(scram.verifyServer(result.connack.properties?.authenticationData)).toBe(true);
    // The connection works as alice's.
    await result.client.subscribeAsync('scram/t', { qos: 1 });
    const got = new Promise<string>((resolve) =>
      result.client.once('message', (_t, payload) => resolve(payload.toString())),
    );
    await result.client.publishAsync('scram/t', 'hi', { qos: 1 });
    expect(await got).toBe('hi');
  });

  it('a wrong password, an unknown user and a scrypt user all get CONNACK 0x86', async () => {
    expect(await scramConnect('scram-bad', scramClient('alice', 'wrong'))).toBe(0x86);
    expect(await scramConnect('scram-nobody', scramClient('nobody', 'x'))).toBe(0x86);
    expect(await scramConnect('scram-bob', scramClient('bob', 'builder'))).toBe(0x86);
  });

  it('the SCRAM user also logs in with a plain CONNECT password; the scrypt user only that way', async () => {
    for (const [username, password] of [
      ['alice', 'wonderland'],
      ['bob', 'builder'],
    ]) {
      const client = await mqtt.connectAsync(broker.url, {
        clientId: `plain-${username}`,
        protocolVersion: 5,
        reconnectPeriod: 0,
        username,
        password,
      });
      clients.push(client);
      expect(client.connected).toBe(true);
    }
  });

  it('an unknown method gets CONNACK 0x8C; channel binding (p=) CONNACK 0x87', async () => {
    const raw = await rawClient();
    raw.send(connectWith('raw-unknown', 'SCRAM-SHA-1', Buffer.from('n,,n=alice,r=abc')));
    expect(await raw.next()).toMatchObject({ type: PacketType.Connack, reasonCode: 0x8c });
    expect(await raw.next()).toBe('closed');
    const bound = await rawClient();
    bound.send(connectWith('raw-cb', METHOD, Buffer.from('p=tls-server-end-point,,n=alice,r=abc')));
    expect(await bound.next()).toMatchObject({ type: PacketType.Connack, reasonCode: 0x87 });
    expect(await bound.next()).toBe('closed');
  });

  it('re-authentication over a raw socket: AUTH 0x19 ... AUTH 0x00 with the signature; a wrong password then DISCONNECT 0x87', async () => {
    const raw = await rawClient();
    const login = await rawScramLogin(raw, 'raw-reauth', scramClient('alice', 'wonderland'));
    expect(login).toMatchObject({ type: PacketType.Connack, reasonCode: 0 });
    const again = scramClient('alice', 'wonderland');
    raw.send(auth(0x19, again.first));
    const serverFirst = await raw.next();
    expect(serverFirst).toMatchObject({ type: PacketType.Auth, reasonCode: 0x18 });
    // The connection keeps working during the exchange.
    raw.send({ type: PacketType.Pingreq });
    expect(await raw.next()).toEqual({ type: PacketType.Pingresp });
    raw.send(
      auth(
        0x18,
        again.final(
          (serverFirst as { properties: { authenticationData: Buffer } }).properties.authenticationData,
        ),
      ),
    );
    const done = await raw.next();
    expect(done).toMatchObject({
      type: PacketType.Auth,
      reasonCode: 0,
      properties: { authenticationMethod: METHOD },
    });
    expect(
      again.verifyServer(
        (done as { properties?: { authenticationData?: Buffer } }).properties?.authenticationData,
      ),
    ).toBe(true);

    const wrong = scramClient('alice', 'not-it');
    raw.send(auth(0x19, wrong.first));
    const challenge = await raw.next();
    raw.send(
      auth(
        0x18,
        wrong.final(
          (challenge as { properties: { authenticationData: Buffer } }).properties.authenticationData,
        ),
      ),
    );
    expect(await raw.next()).toMatchObject({ type: PacketType.Disconnect, reasonCode: 0x87 });
    expect(await raw.next()).toBe('closed');
  });

  it('protocol errors: another method in the AUTH gets CONNACK 0x82; AUTH without a method in CONNECT DISCONNECT 0x82', async () => {
    const raw = await rawClient();
    raw.send(connectWith('raw-mixed', METHOD, scramClient('alice', 'x').first));
    expect(await raw.next()).toMatchObject({ type: PacketType.Auth, reasonCode: 0x18 });
    raw.send(auth(0x18, Buffer.from('c=biws'), 'PLAIN'));
    expect(await raw.next()).toMatchObject({ type: PacketType.Connack, reasonCode: 0x82 });
    expect(await raw.next()).toBe('closed');

    const plain = await mqtt.connectAsync(broker.url, {
      clientId: 'plain-auth',
      protocolVersion: 5,
      reconnectPeriod: 0,
      username: 'bob',
      password: 'builder',
    });
    clients.push(plain);
    const disconnected = new Promise<number | undefined>((resolve) =>
      plain.once('disconnect', (packet) => resolve(packet.reasonCode)),
    );
    // MQTT.js has no re-authentication call: the packet is written as it is.
    (plain as unknown as { _sendPacket(packet: object): void })._sendPacket({
      cmd: 'auth',
      reasonCode: 0x19,
      properties: { authenticationMethod: METHOD, authenticationData: Buffer.from('n,,n=bob,r=x') },
    });
    expect(await disconnected).toBe(0x82);
  });

  it('a client that stops in the middle of the exchange is closed at --connect-timeout-ms, without CONNACK', async () => {
    const raw = await rawClient();
    const startedAt = Date.now();
    raw.send(connectWith('raw-parked', METHOD, scramClient('alice', 'wonderland').first));
    expect(await raw.next()).toMatchObject({ type: PacketType.Auth, reasonCode: 0x18 });
    expect(await raw.next(5000)).toBe('closed');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1000);
  });
});
