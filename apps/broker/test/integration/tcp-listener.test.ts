import { once } from 'node:events';
import type { Socket } from 'node:net';
import type { Broker, ClientConnection, Transport } from '@mqtt-adapt/router';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { listenTcp, type RunningListener } from '../../src/tcp-listener.js';
import { openSocket } from './helpers.js';

// listenTcp over loopback with a recording stand-in for the router: the wiring of socket
// events to ClientConnection, the per-socket high-water mark, and failure isolation.

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
  type: 'tcp' as const,
  host: '127.0.0.1',
  port: 0,
  writeHighWaterMarkBytes: 16_384,
  maxConnections: 0,
  protocolVersions: [3, 4, 5] as Array<3 | 4 | 5>,
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

describe('listenTcp', () => {
  it('feeds inbound bytes and writes outbound bytes, corked per turn', async () => {
    const { broker, accepted } = recordingBroker((entry, chunk) => {
      // Echo twice in one turn: both reach the peer (one uncork).
      entry.transport.write(chunk);
      entry.transport.write(chunk);
    });
    listener = await listenTcp(config, broker, log);
    const socket = await openSocket(listener.address.port);
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.write(Buffer.from([1, 2, 3]));
    await until(() => Buffer.concat(received).length === 6);
    expect(Buffer.concat(received)).toEqual(Buffer.from([1, 2, 3, 1, 2, 3]));
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.transport.remoteAddress).toBe(`127.0.0.1:${socket.localPort}`);
    socket.end();
    await until(() => accepted[0]!.closed.length === 1);
    expect(accepted[0]!.closed).toEqual([undefined]);
  });

  it('reports a slow peer: write returns false past the high-water mark, then drained() on drain', async () => {
    const { broker, accepted } = recordingBroker();
    listener = await listenTcp(config, broker, log);
    const socket = await openSocket(listener.address.port);
    socket.pause();
    await until(() => accepted.length === 1);
    const { transport } = accepted[0]!;
    const chunk = Buffer.alloc(64 * 1024);
    let writes = 0;
    // One write per turn: only a backlog left from earlier turns makes a peer slow.
    while (transport.write(chunk)) {
      writes++;
      if (writes > 10_000) throw new Error('write never reported backpressure');
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Reported slow: a 'drain' (and so drained()) must follow once the peer reads again.
    const drainedBefore = accepted[0]!.drained;
    socket.resume();
    await until(() => accepted[0]!.drained > drainedBefore);
    socket.destroy();
  });

  it('passes a socket error to transportClosed and keeps serving others', async () => {
    const { broker, accepted } = recordingBroker();
    listener = await listenTcp(config, broker, log);
    const first = await openSocket(listener.address.port);
    await until(() => accepted.length === 1);
    // A reset from the peer (RST) makes the server-side socket emit ECONNRESET, or just close.
    first.resetAndDestroy();
    await until(() => accepted[0]!.closed.length === 1);
    const second: Socket = await openSocket(listener.address.port);
    await until(() => accepted.length === 2);
    second.destroy();
  });

  it('closes the one connection whose input made the broker throw', async () => {
    const { broker, accepted } = recordingBroker((entry) => {
      if (entry.fed.length === 1) throw new Error('router bug');
    });
    listener = await listenTcp(config, broker, log);
    const bad = await openSocket(listener.address.port);
    const badClosed = once(bad, 'close');
    bad.write('boom');
    await badClosed;
    await until(() => accepted[0]!.closed.length === 1);
    const good = await openSocket(listener.address.port);
    good.write('fine');
    await until(() => accepted[1]?.fed.length === 1);
    good.destroy();
  });

  it('transport.close() ends the socket: the peer sees the end of the stream', async () => {
    const { broker, accepted } = recordingBroker();
    listener = await listenTcp(config, broker, log);
    const socket = await openSocket(listener.address.port);
    await until(() => accepted.length === 1);
    const ended = once(socket, 'end');
    socket.resume();
    accepted[0]!.transport.write(Buffer.from('bye'));
    accepted[0]!.transport.close();
    await ended;
    socket.destroy();
    await until(() => accepted[0]!.closed.length === 1);
  });

  it('closed() stops accepting and destroys sockets still open after the grace period', async () => {
    const { broker, accepted } = recordingBroker();
    const running = await listenTcp(config, broker, log);
    const socket = await openSocket(running.address.port);
    socket.on('error', () => socket.destroy());
    await until(() => accepted.length === 1);
    const started = Date.now();
    await running.closed();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(accepted[0]!.closed).toHaveLength(1);
    await expect(openSocket(running.address.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
