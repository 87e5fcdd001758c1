import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePackets, type Packet } from '@mqtt-adapt/codec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  bytes5,
  connectPacket,
  PacketType,
  publishPacket,
  subscription,
  uid,
  V5,
} from './conformance5-harness.js';
import { type ListenerBroker, startWithListeners } from './listener-harness.js';

// MQTT 5.0 over WebSocket (§6) against the built broker's ws listener (path /mqtt).

let dir: string;
let running: ListenerBroker;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'conformance5-ws-'));
  running = await startWithListeners(dir, [{ type: 'tcp' }, { type: 'ws', host: '127.0.0.1', port: 0 }]);
});

afterAll(async () => {
  for (const socket of sockets) socket.terminate();
  await running?.broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

const wsUrl = () => `ws://127.0.0.1:${running.ports[1]}/mqtt`;

/** A WebSocket that records the MQTT packets of every binary message it receives. */
async function openWs(protocols: string | string[] = 'mqtt') {
  const socket = new WebSocket(wsUrl(), protocols);
  sockets.push(socket);
  const received: Buffer[] = [];
  socket.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) received.push(Buffer.from(data));
  });
  await once(socket, 'open');
  const packets = (): Packet[] => decodePackets(Buffer.concat(received), V5);
  const until = async (count: number, timeoutMs = 2000): Promise<Packet[]> => {
    const deadline = performance.now() + timeoutMs;
    while (packets().length < count && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    return packets();
  };
  return { socket, received, packets, until };
}

describe('MQTT 5.0 over WebSocket (§6)', () => {
  it('[MQTT-6.0.0-1] a text message (not binary) closes the connection', async () => {
    const { socket, until } = await openWs();
    socket.send(bytes5(connectPacket({ clientId: uid() })));
    expect((await until(1))[0]).toMatchObject({ type: PacketType.Connack, reasonCode: 0 });
    const closed = once(socket, 'close');
    socket.send(bytes5(publishPacket('t', 'x')).toString('latin1'));
    await closed;
  });

  it('[MQTT-6.0.0-2] packets split across WebSocket messages, and several in one message, are all read', async () => {
    const topic = `${uid()}/ws`;
    const { socket, until } = await openWs();
    const bytes = Buffer.concat([
      bytes5(connectPacket({ clientId: uid() })),
      bytes5({
        type: PacketType.Subscribe,
        packetId: 1,
        subscriptions: [subscription(topic, { qos: 1 })],
        properties: undefined,
      }),
      bytes5(
        publishPacket(topic, 'across frames', {
          qos: 1,
          packetId: 2,
          properties: { contentType: 'text/plain' },
        }),
      ),
    ]);
    // Cut at odd places: inside the CONNECT, inside the SUBSCRIBE's filter, one byte at the end.
    for (const [from, to] of [
      [0, 5],
      [5, 20],
      [20, bytes.length - 1],
      [bytes.length - 1, bytes.length],
    ] as const) {
      socket.send(bytes.subarray(from, to), { binary: true });
    }
    const got = await until(4);
    expect(got.map((p) => p.type)).toEqual(
      expect.arrayContaining([PacketType.Connack, PacketType.Suback, PacketType.Puback, PacketType.Publish]),
    );
    const publish = got.find((p) => p.type === PacketType.Publish);
    expect(publish).toMatchObject({ topicName: topic, properties: { contentType: 'text/plain' } });
  });

  it('[MQTT-6.0.0-4] the broker selects the "mqtt" subprotocol the client offered', async () => {
    const { socket } = await openWs(['mqttv3.1', 'mqtt']);
    expect(socket.protocol).toBe('mqtt');
  });
});
