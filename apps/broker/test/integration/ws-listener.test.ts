import { once } from 'node:events';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { openSocket, readUntilClosed } from './helpers.js';
import {
  connectClient,
  type ListenerBroker,
  makeTestCerts,
  roundTrip,
  startWithListeners,
  type TestCerts,
} from './listener-harness.js';

// WebSocket listeners (ws, wss) and the per-listener limits (maxConnections, protocolVersions)
// of the built broker.

let certs: TestCerts;
let running: ListenerBroker;
const clients: MqttClient[] = [];

beforeAll(async () => {
  certs = makeTestCerts();
  running = await startWithListeners(certs.dir, [
    { type: 'tcp' },
    { type: 'ws', host: '127.0.0.1', port: 0 },
    {
      type: 'wss',
      host: '127.0.0.1',
      port: 0,
      path: '/broker',
      cert: certs.serverCert,
      key: certs.serverKey,
    },
    { type: 'tcp', host: '127.0.0.1', port: 0, maxConnections: 2 },
    { type: 'tcp', host: '127.0.0.1', port: 0, protocolVersions: [5] },
  ]);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.endAsync(true)));
  await running?.broker.stop();
  certs?.remove();
});

async function client(url: string, options: Parameters<typeof connectClient>[1] = {}): Promise<MqttClient> {
  const connected = await connectClient(url, options);
  clients.push(connected);
  return connected;
}

const wsUrl = () => `ws://127.0.0.1:${running.ports[1]}/mqtt`;
const wssUrl = () => `wss://127.0.0.1:${running.ports[2]}/broker`;

describe('ws and wss listeners', () => {
  it('logs one listening line per listener, with the path of ws and wss', () => {
    expect(running.listening.map(({ listener, host, path }) => ({ listener, host, path }))).toEqual([
      { listener: 'tcp', host: '127.0.0.1', path: undefined },
      { listener: 'ws', host: '127.0.0.1', path: '/mqtt' },
      { listener: 'wss', host: '127.0.0.1', path: '/broker' },
      { listener: 'tcp', host: '127.0.0.1', path: undefined },
      { listener: 'tcp', host: '127.0.0.1', path: undefined },
    ]);
    expect(running.ports.every((port) => port > 0)).toBe(true);
  });

  it('round-trips QoS 1 over ws and wss, to and from tcp, MQTT 3.1.1, 5.0 and 3.1', async () => {
    const ca = certs.read(certs.caCert);
    const overWs = await client(wsUrl(), { clientId: 'ws-5', protocolVersion: 5 });
    const overWss = await client(wssUrl(), { ca, clientId: 'wss-4', protocolVersion: 4 });
    const overTcp = await client(`mqtt://127.0.0.1:${running.ports[0]}`, { clientId: 'tcp-4' });
    // MQTT.js offers the subprotocol mqttv3.1 for MQTT 3.1.
    const v31 = await client(wsUrl(), { clientId: 'ws-3', protocolVersion: 3, protocolId: 'MQIsdp' });
    expect(await roundTrip(overWss, overWs, 'ws/one', 'ws to wss')).toEqual({
      topic: 'ws/one',
      payload: 'ws to wss',
      qos: 1,
    });
    expect(await roundTrip(overWs, overTcp, 'ws/two', 'tcp to ws')).toMatchObject({ payload: 'tcp to ws' });
    expect(await roundTrip(v31, overWss, 'ws/three', 'wss to 3.1')).toMatchObject({ payload: 'wss to 3.1' });
  });

  it('closes a raw WebSocket that sends a malformed packet, others go on', async () => {
    const subscriber = await client(wsUrl(), { clientId: 'ws-bystander-sub' });
    const publisher = await client(wsUrl(), { clientId: 'ws-bystander-pub' });
    const raw = new WebSocket(wsUrl(), 'mqtt');
    await once(raw, 'open');
    expect(raw.protocol).toBe('mqtt');
    const closed = once(raw, 'close');
    // CONNECT whose protocol name length (0xffff) runs past the packet.
    raw.send(Buffer.from([0x10, 0x04, 0xff, 0xff, 0x00, 0x00]));
    const started = Date.now();
    await closed;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await roundTrip(subscriber, publisher, 'ws/after-bad', 'fine')).toMatchObject({ payload: 'fine' });
  });

  it('closes a WebSocket that sends a text message, and refuses other paths', async () => {
    const raw = new WebSocket(wsUrl(), 'mqtt');
    await once(raw, 'open');
    const closed = once(raw, 'close');
    raw.send('not binary');
    await closed;
    const wrongPath = new WebSocket(`ws://127.0.0.1:${running.ports[1]}/other`, 'mqtt');
    const [error] = (await once(wrongPath, 'error')) as [Error];
    expect(error.message).toContain('404');
  });
});

describe('per-listener limits', () => {
  it('maxConnections: the extra connection is closed at once, the others still work', async () => {
    const url = `mqtt://127.0.0.1:${running.ports[3]}`;
    const first = await client(url, { clientId: 'max-1' });
    const second = await client(url, { clientId: 'max-2' });
    const extra = await openSocket(running.ports[3]!);
    const started = Date.now();
    expect(await readUntilClosed(extra)).toEqual(Buffer.alloc(0));
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(connectClient(url, { clientId: 'max-3' })).rejects.toThrow();
    expect(await roundTrip(first, second, 'max/one', 'still here')).toMatchObject({ payload: 'still here' });
    const warnings = running.broker.lines.filter((line) =>
      String(line.msg).startsWith('maxConnections reached'),
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, listener: 'tcp', maxConnections: 2 });
  });

  it('protocolVersions [5]: a 3.1.1 CONNECT gets CONNACK return code 1, a 5.0 client connects', async () => {
    const socket = await openSocket(running.ports[4]!);
    const closed = readUntilClosed(socket);
    // CONNECT, "MQTT" level 4, clean session, keepalive 60, client id "v4".
    socket.write(
      Buffer.from([
        0x10, 0x0e, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x02, 0x76, 0x34,
      ]),
    );
    expect(await closed).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x01]));
    const v5 = await client(`mqtt://127.0.0.1:${running.ports[4]}`, {
      clientId: 'only-v5',
      protocolVersion: 5,
    });
    const v4 = await client(`mqtt://127.0.0.1:${running.ports[0]}`, { clientId: 'v4-elsewhere' });
    expect(await roundTrip(v5, v4, 'versions/one', 'ok')).toMatchObject({ payload: 'ok' });
  });
});
