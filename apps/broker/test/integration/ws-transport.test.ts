import { once } from 'node:events';
import type { Broker, ClientConnection, Transport } from '@mqtt-adapt/router';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunningListener } from '../../src/tcp-listener.js';
import { listenWs } from '../../src/ws-listener.js';

// listenWs over loopback with a recording stand-in for the router: one feed per binary
// message, writes as binary messages, backpressure from the underlying socket, protocol levels.

interface Accepted {
  transport: Transport;
  fed: Buffer[];
  drained: number;
  closed: Array<Error | undefined>;
}

function recordingBroker(onFeed?: (accepted: Accepted, chunk: Buffer) => void) {
  const accepted: Accepted[] = [];
  const broker = {
    accept(transport: Transport): ClientConnection {
      const entry: Accepted = { transport, fed: [], drained: 0, closed: [] };
      accepted.push(entry);
      return {
        feed: (chunk) => {
          entry.fed.push(chunk);
          onFeed?.(entry, chunk);
        },
        drained: () => {
          entry.drained++;
        },
        transportClosed: (error) => {
          entry.closed.push(error);
        },
      };
    },
  };
  return { broker: broker as unknown as Broker, accepted };
}

const log = pino({ level: 'silent' });
const config = {
  type: 'ws' as const,
  host: '127.0.0.1',
  port: 0,
  path: '/mqtt',
  writeHighWaterMarkBytes: 16_384,
  maxConnections: 0,
  protocolVersions: [4, 5] as Array<3 | 4 | 5>,
};
let listener: RunningListener | undefined;

afterEach(async () => {
  await listener?.closed();
  listener = undefined;
});

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function open(port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, 'mqtt');
  await once(ws, 'open');
  return ws;
}

describe('listenWs', () => {
  it('feeds each binary message once and sends each write as a binary message', async () => {
    const { broker, accepted } = recordingBroker((entry, chunk) => {
      entry.transport.write(chunk);
      entry.transport.write(chunk);
    });
    listener = await listenWs(config, broker, log);
    const ws = await open(listener.address.port);
    const received: Array<{ data: Buffer; isBinary: boolean }> = [];
    ws.on('message', (data: Buffer, isBinary: boolean) => received.push({ data, isBinary }));
    ws.send(Buffer.from([1, 2, 3]));
    await until(() => received.length === 2);
    expect(received).toEqual([
      { data: Buffer.from([1, 2, 3]), isBinary: true },
      { data: Buffer.from([1, 2, 3]), isBinary: true },
    ]);
    expect(accepted[0]!.fed).toEqual([Buffer.from([1, 2, 3])]);
    expect(accepted[0]!.transport.protocolVersions).toEqual([4, 5]);
    expect(accepted[0]!.transport.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(listener.address).toMatchObject({ listener: 'ws', host: '127.0.0.1', path: '/mqtt' });
    const closed = once(ws, 'close');
    accepted[0]!.transport.close();
    await closed;
    await until(() => accepted[0]!.closed.length === 1);
  });

  it('reports a slow peer: write returns false past the high-water mark, then drained() on drain', async () => {
    const { broker, accepted } = recordingBroker();
    listener = await listenWs(config, broker, log);
    const ws = await open(listener.address.port);
    await until(() => accepted.length === 1);
    ws.pause();
    const { transport } = accepted[0]!;
    const chunk = Buffer.alloc(64 * 1024);
    let writes = 0;
    while (transport.write(chunk)) {
      writes++;
      if (writes > 10_000) throw new Error('write never reported backpressure');
      await new Promise((resolve) => setImmediate(resolve));
    }
    const drainedBefore = accepted[0]!.drained;
    ws.resume();
    await until(() => accepted[0]!.drained > drainedBefore);
    ws.terminate();
  });
});
