import { type AuthPacket, type Packet, PacketType } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import type { BrokerOptions, ClientInfo, EnhancedAuthAnswer, EnhancedAuthMethod } from '../src/index.js';
import {
  connect,
  connectPacket,
  createBroker,
  openClient,
  publishPacket,
  type TestClient,
} from './helpers.js';

/*
 * MQTT 5.0 enhanced authentication (§4.12, §3.15) with a fake challenge/response method: the
 * server sends `challenge-N`, the client must answer `answer-N`, for `rounds` rounds.
 */

const METHOD = 'FAKE-CHALLENGE';

interface FakeOptions {
  rounds?: number;
  /** Every answer through a promise that settles a macrotask later. */
  async?: boolean;
  /** The user name the method reports on success. */
  username?: string;
}

function fakeMethod(options: FakeOptions = {}): EnhancedAuthMethod<number> & { calls: string[] } {
  const rounds = options.rounds ?? 2;
  const calls: string[] = [];
  const answer = (value: EnhancedAuthAnswer<number>) =>
    options.async === true
      ? new Promise<EnhancedAuthAnswer<number>>((resolve) => setImmediate(() => resolve(value)))
      : value;
  return {
    calls,
    start(request) {
      calls.push(`start ${request.authenticationData?.toString()} reauth=${request.reauthenticate}`);
      if (request.authenticationData?.toString() !== 'hello') {
        return answer({ result: 'failure', reasonCode: 0x87, reason: 'say hello' });
      }
      return answer({ result: 'continue', data: Buffer.from('challenge-1'), state: 1 });
    },
    step(state, data) {
      calls.push(`step ${state} ${data?.toString()}`);
      if (data?.toString() !== `answer-${state}`) {
        return answer({ result: 'failure', reasonCode: 0x86, reason: 'wrong answer' });
      }
      if (state === rounds) {
        return answer({ result: 'success', data: Buffer.from('welcome'), username: options.username });
      }
      return answer({ result: 'continue', data: Buffer.from(`challenge-${state + 1}`), state: state + 1 });
    },
  };
}

/** An AUTH from the client; `method` null leaves the Authentication Method out. */
function auth(reasonCode: number, data?: string, method: string | null = METHOD): AuthPacket {
  return {
    type: PacketType.Auth,
    reasonCode,
    properties: {
      ...(method === null ? {} : { authenticationMethod: method }),
      ...(data === undefined ? {} : { authenticationData: Buffer.from(data) }),
    },
  };
}

/** Opens a 5.0 client and sends a CONNECT naming `method` with `data`. */
function startConnect(
  broker: Parameters<typeof openClient>[0],
  options: {
    clientId?: string;
    data?: string;
    method?: string;
    username?: string;
    keepaliveSeconds?: number;
  } = {},
): TestClient {
  const client = openClient(broker, 5);
  client.send({
    ...connectPacket({
      clientId: options.clientId ?? 'c',
      version: 5,
      username: options.username,
      keepaliveSeconds: options.keepaliveSeconds,
    }),
    properties: {
      authenticationMethod: options.method ?? METHOD,
      authenticationData: Buffer.from(options.data ?? 'hello'),
    },
  });
  return client;
}

function authSummary(packet: Packet | undefined): unknown {
  if (packet?.type !== PacketType.Auth) return packet;
  return {
    type: 'AUTH',
    reasonCode: packet.reasonCode,
    method: packet.properties?.authenticationMethod,
    data: packet.properties?.authenticationData?.toString(),
  };
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function brokerWith(method: EnhancedAuthMethod<number>, options: BrokerOptions = {}) {
  return createBroker({ ...options, hooks: { authMethods: { [METHOD]: method }, ...options.hooks } });
}

/** Runs the two-round exchange of `fakeMethod()` to its CONNACK. */
async function authenticate(client: TestClient, settle: () => Promise<void> = tick): Promise<Packet[]> {
  await settle();
  client.take();
  client.send(auth(0x18, 'answer-1'));
  await settle();
  client.take();
  client.send(auth(0x18, 'answer-2'));
  await settle();
  return client.take();
}

describe('enhanced authentication: the exchange before CONNACK (MQTT 5.0 §4.12)', () => {
  it('[MQTT-4.12.0-2] [MQTT-4.12.0-5] AUTH 0x18 with the method and data, rounds until CONNACK 0x00 with the method and final data', async () => {
    const method = fakeMethod({ username: 'from-method' });
    const { broker } = await brokerWith(method);
    const connected: ClientInfo[] = [];
    broker.on('clientConnected', (client) => connected.push(client));
    const client = startConnect(broker, { username: 'from-connect' });
    expect(client.take().map(authSummary)).toEqual([
      { type: 'AUTH', reasonCode: 0x18, method: METHOD, data: 'challenge-1' },
    ]);
    client.send(auth(0x18, 'answer-1'));
    expect(client.take().map(authSummary)).toEqual([
      { type: 'AUTH', reasonCode: 0x18, method: METHOD, data: 'challenge-2' },
    ]);
    expect(broker.stats.sessions).toBe(0);
    client.send(auth(0x18, 'answer-2'));
    const [connack, ...rest] = client.take();
    expect(rest).toEqual([]);
    expect(connack).toMatchObject({
      type: PacketType.Connack,
      reasonCode: 0,
      properties: { authenticationMethod: METHOD, authenticationData: Buffer.from('welcome') },
    });
    expect(method.calls).toEqual(['start hello reauth=false', 'step 1 answer-1', 'step 2 answer-2']);
    // The method's user name is the connection's.
    expect(connected.map((info) => info.username)).toEqual(['from-method']);
    client.send(publishPacket('t', 'x', 1));
    expect(client.take()).toEqual([expect.objectContaining({ type: PacketType.Puback, packetId: 1 })]);
  });

  it('an async method: each answer waits, the client is answered in order', async () => {
    const method = fakeMethod({ async: true });
    const { broker } = await brokerWith(method);
    const client = startConnect(broker);
    expect(client.take()).toEqual([]);
    const connack = await authenticate(client);
    expect(connack).toEqual([
      expect.objectContaining({
        type: PacketType.Connack,
        reasonCode: 0,
        properties: expect.objectContaining({ authenticationMethod: METHOD }),
      }),
    ]);
    expect(method.calls).toEqual(['start hello reauth=false', 'step 1 answer-1', 'step 2 answer-2']);
  });

  it('[MQTT-4.12.0-4] a refusal is the CONNACK with the method reason code and reason string, then close', async () => {
    const { broker } = await brokerWith(fakeMethod({ async: true }));
    const client = startConnect(broker);
    await tick();
    client.take();
    client.send(auth(0x18, 'wrong'));
    await tick();
    expect(client.take()).toEqual([
      {
        type: PacketType.Connack,
        sessionPresent: false,
        reasonCode: 0x86,
        properties: { reasonString: 'wrong answer' },
      },
    ]);
    expect(client.transport.closed).toBe(true);
    expect(broker.stats.sessions).toBe(0);
  });

  it('a method that never answers: CONNACK 0x88 after authenticateTimeoutMs', async () => {
    const { broker, clock } = await createBroker({
      authenticateTimeoutMs: 2000,
      hooks: {
        authMethods: { [METHOD]: { start: () => new Promise(() => {}), step: () => new Promise(() => {}) } },
      },
    });
    const client = startConnect(broker);
    clock.advance(1999);
    await tick();
    expect(client.take()).toEqual([]);
    clock.advance(1);
    await tick();
    expect(client.take()).toEqual([expect.objectContaining({ type: PacketType.Connack, reasonCode: 0x88 })]);
    expect(client.transport.closed).toBe(true);
  });

  it('a method that throws: CONNACK 0x88', async () => {
    const { broker } = await createBroker({
      hooks: {
        authMethods: {
          [METHOD]: {
            start: () => {
              throw new Error('kdc down');
            },
            step: () => ({ result: 'failure', reasonCode: 0x87 }),
          },
        },
      },
    });
    const client = startConnect(broker);
    expect(client.take()).toEqual([expect.objectContaining({ type: PacketType.Connack, reasonCode: 0x88 })]);
    expect(client.transport.closed).toBe(true);
  });

  it('a client that stops answering is closed at connectTimeoutMs, without CONNACK', async () => {
    const { broker, clock } = await brokerWith(fakeMethod(), { connectTimeoutMs: 5000 });
    const client = startConnect(broker);
    expect(client.take().map(authSummary)).toEqual([
      { type: 'AUTH', reasonCode: 0x18, method: METHOD, data: 'challenge-1' },
    ]);
    clock.advance(4999);
    expect(client.transport.closed).toBe(false);
    clock.advance(1);
    expect(client.transport.closed).toBe(true);
    expect(client.take()).toEqual([]);
  });

  it('[MQTT-4.12.0-1] a method the broker does not offer gets CONNACK 0x8C, also a name on Object.prototype', async () => {
    const method = fakeMethod();
    const { broker } = await brokerWith(method);
    for (const name of ['SCRAM-SHA-1', 'toString', '__proto__']) {
      const client = startConnect(broker, { method: name });
      expect(client.take()).toEqual([
        expect.objectContaining({ type: PacketType.Connack, reasonCode: 0x8c }),
      ]);
      expect(client.transport.closed).toBe(true);
    }
    expect(method.calls).toEqual([]);
  });

  it('[MQTT-4.12.0-5] an AUTH with another method, or none, before CONNACK: CONNACK 0x82, closed', async () => {
    const { broker } = await brokerWith(fakeMethod());
    for (const wrong of [auth(0x18, 'answer-1', 'OTHER'), auth(0x18, 'answer-1', null)]) {
      const client = startConnect(broker);
      client.take();
      client.send(wrong);
      expect(client.take()).toEqual([
        expect.objectContaining({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0x82 }),
      ]);
      expect(client.transport.closed).toBe(true);
    }
  });

  it('[MQTT-3.1.2-30] a packet other than AUTH or DISCONNECT before CONNACK: CONNACK 0x82, closed', async () => {
    const { broker } = await brokerWith(fakeMethod());
    const packets: Packet[] = [publishPacket('t', 'x', 0), { type: PacketType.Pingreq }];
    for (const packet of packets) {
      const client = startConnect(broker);
      client.take();
      client.send(packet);
      expect(client.take()).toEqual([
        expect.objectContaining({ type: PacketType.Connack, reasonCode: 0x82 }),
      ]);
      expect(client.transport.closed).toBe(true);
    }
    expect(broker.stats.sessions).toBe(0);
  });

  it('[MQTT-4.12.0-3] an AUTH reason code other than 0x18 during the exchange: CONNACK 0x82', async () => {
    const { broker } = await brokerWith(fakeMethod());
    for (const code of [0x19, 0x00]) {
      const client = startConnect(broker);
      client.take();
      client.send(auth(code, 'answer-1'));
      expect(client.take()).toEqual([
        expect.objectContaining({ type: PacketType.Connack, reasonCode: 0x82 }),
      ]);
    }
  });

  it('a DISCONNECT during the exchange ends it: closed, no CONNACK, the method not asked again', async () => {
    const method = fakeMethod();
    const { broker } = await brokerWith(method);
    const client = startConnect(broker);
    client.take();
    client.send({ type: PacketType.Disconnect, reasonCode: 0, properties: undefined });
    expect(client.transport.closed).toBe(true);
    expect(client.take()).toEqual([]);
    expect(method.calls).toEqual(['start hello reauth=false']);
  });

  it('the authenticate hook does not run for a CONNECT authenticated by a method', async () => {
    const { broker } = await createBroker({
      hooks: { authenticate: () => false, authMethods: { [METHOD]: fakeMethod() } },
    });
    const client = startConnect(broker);
    const [connack] = await authenticate(client);
    expect(connack).toMatchObject({ type: PacketType.Connack, reasonCode: 0 });
  });
});

describe('re-authentication (MQTT 5.0 §4.12.1)', () => {
  async function connected(options: FakeOptions & { keepaliveSeconds?: number } = {}) {
    const method = fakeMethod(options);
    const created = await brokerWith(method);
    const client = startConnect(created.broker, { keepaliveSeconds: options.keepaliveSeconds });
    const [connack] = await authenticate(client);
    expect(connack).toMatchObject({ type: PacketType.Connack, reasonCode: 0 });
    method.calls.length = 0;
    return { ...created, client, method };
  }

  it('[MQTT-4.12.1-1] AUTH 0x19 runs a new exchange, ended by AUTH 0x00; the connection keeps working meanwhile', async () => {
    const { client, method } = await connected({ async: true });
    client.send(auth(0x19, 'hello'));
    await tick();
    expect(client.take().map(authSummary)).toEqual([
      { type: 'AUTH', reasonCode: 0x18, method: METHOD, data: 'challenge-1' },
    ]);
    client.send(publishPacket('t', 'during', 1, { packetId: 7 }));
    expect(client.take()).toEqual([expect.objectContaining({ type: PacketType.Puback, packetId: 7 })]);
    client.send(auth(0x18, 'answer-1'));
    // While the method works, the client's packets still pass.
    client.send({ type: PacketType.Pingreq });
    expect(client.take()).toEqual([{ type: PacketType.Pingresp }]);
    await tick();
    expect(client.take().map(authSummary)).toEqual([
      { type: 'AUTH', reasonCode: 0x18, method: METHOD, data: 'challenge-2' },
    ]);
    client.send(auth(0x18, 'answer-2'));
    await tick();
    expect(client.take().map(authSummary)).toEqual([
      { type: 'AUTH', reasonCode: 0x00, method: METHOD, data: 'welcome' },
    ]);
    expect(method.calls).toEqual(['start hello reauth=true', 'step 1 answer-1', 'step 2 answer-2']);
    expect(client.transport.closed).toBe(false);
    // And again.
    client.send(auth(0x19, 'hello'));
    await tick();
    expect(client.take().map(authSummary)).toEqual([
      { type: 'AUTH', reasonCode: 0x18, method: METHOD, data: 'challenge-1' },
    ]);
  });

  it('[MQTT-4.12.1-2] a failed re-authentication: DISCONNECT (0x86 is no DISCONNECT code: 0x87) and close', async () => {
    const { client } = await connected();
    client.send(auth(0x19, 'hello'));
    client.take();
    client.send(auth(0x18, 'wrong'));
    expect(client.take()).toEqual([
      { type: PacketType.Disconnect, reasonCode: 0x87, properties: { reasonString: 'wrong answer' } },
    ]);
    expect(client.transport.closed).toBe(true);
  });

  it('a re-authentication refused by start keeps its reason code when DISCONNECT has it (0x87)', async () => {
    const { client } = await connected();
    client.send(auth(0x19, 'goodbye'));
    expect(client.take()).toEqual([
      { type: PacketType.Disconnect, reasonCode: 0x87, properties: { reasonString: 'say hello' } },
    ]);
    expect(client.transport.closed).toBe(true);
  });

  it('a re-authentication as another user than the connection is refused with DISCONNECT 0x87', async () => {
    let user = 'alice';
    const method = fakeMethod();
    const step = method.step.bind(method);
    method.step = (state, data, request) => {
      const answer = step(state, data, request) as EnhancedAuthAnswer<number>;
      return answer.result === 'success' ? { ...answer, username: user } : answer;
    };
    const { broker } = await brokerWith(method);
    const client = startConnect(broker);
    expect((await authenticate(client))[0]).toMatchObject({ type: PacketType.Connack, reasonCode: 0 });
    user = 'mallory';
    client.send(auth(0x19, 'hello'));
    client.send(auth(0x18, 'answer-1'));
    client.send(auth(0x18, 'answer-2'));
    expect(client.take().map(authSummary).at(-1)).toEqual({
      type: PacketType.Disconnect,
      reasonCode: 0x87,
      properties: { reasonString: 're-authenticated as another user' },
    });
    expect(client.transport.closed).toBe(true);
  });

  it('a re-authentication whose method never answers: DISCONNECT 0x80 after authenticateTimeoutMs', async () => {
    const method = fakeMethod();
    const { broker, clock } = await brokerWith(method, { authenticateTimeoutMs: 1000 });
    const client = startConnect(broker);
    await authenticate(client);
    method.start = () => new Promise(() => {});
    client.send(auth(0x19, 'hello'));
    clock.advance(999);
    await tick();
    expect(client.transport.closed).toBe(false);
    clock.advance(1);
    await tick();
    expect(client.take()).toEqual([
      expect.objectContaining({ type: PacketType.Disconnect, reasonCode: 0x80 }),
    ]);
    expect(client.transport.closed).toBe(true);
  });

  it('keepalive still applies while a re-authentication waits for the client', async () => {
    const { client, clock } = await connected({ keepaliveSeconds: 10 });
    client.send(auth(0x19, 'hello'));
    client.take();
    clock.advance(14_999);
    expect(client.transport.closed).toBe(false);
    clock.advance(1);
    expect(client.transport.closed).toBe(true);
    expect(client.take()).toEqual([
      expect.objectContaining({ type: PacketType.Disconnect, reasonCode: 0x8d }),
    ]);
  });

  it('[MQTT-4.12.1-1] AUTH 0x19 with another method: DISCONNECT 0x82', async () => {
    const { client, method } = await connected();
    client.send(auth(0x19, 'hello', 'OTHER'));
    expect(client.take()).toEqual([
      expect.objectContaining({ type: PacketType.Disconnect, reasonCode: 0x82 }),
    ]);
    expect(client.transport.closed).toBe(true);
    expect(method.calls).toEqual([]);
  });

  it('an AUTH 0x18 with no exchange running, or an AUTH 0x19 during one: DISCONNECT 0x82', async () => {
    const first = await connected();
    first.client.send(auth(0x18, 'answer-1'));
    expect(first.client.take()).toEqual([
      expect.objectContaining({ type: PacketType.Disconnect, reasonCode: 0x82 }),
    ]);
    const second = await connected();
    second.client.send(auth(0x19, 'hello'));
    second.client.take();
    second.client.send(auth(0x19, 'hello'));
    expect(second.client.take()).toEqual([
      expect.objectContaining({ type: PacketType.Disconnect, reasonCode: 0x82 }),
    ]);
  });

  it('[MQTT-4.12.0-7] AUTH on a connection whose CONNECT named no method: DISCONNECT 0x82', async () => {
    const { broker } = await brokerWith(fakeMethod());
    const client = connect(broker, { clientId: 'plain', version: 5 });
    client.send(auth(0x19, 'hello'));
    expect(client.take()).toEqual([
      expect.objectContaining({ type: PacketType.Disconnect, reasonCode: 0x82 }),
    ]);
    expect(client.transport.closed).toBe(true);
  });

  it('[MQTT-4.12.0-6] a CONNACK without enhanced authentication carries no Authentication Method', async () => {
    const { broker } = await brokerWith(fakeMethod());
    const client = openClient(broker, 5);
    client.send(connectPacket({ clientId: 'plain', version: 5 }));
    const [connack] = client.take();
    expect(connack?.type).toBe(PacketType.Connack);
    expect(connack && 'properties' in connack ? connack.properties?.authenticationMethod : 'none').toBe(
      undefined,
    );
  });
});
