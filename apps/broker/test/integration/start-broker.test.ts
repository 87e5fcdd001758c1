import { createServer } from 'node:net';
import type { Message } from '@mqtt-adapt/router';
import { connectAsync } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { isBrokerAppError } from '../../src/errors.js';
import { startBroker } from '../../src/start-broker.js';

// startBroker() in this process: the API embedders and tests use. The memory store: what is
// tested here does not persist anything (persistence-*.test.ts test the durable stores).

const memory = { type: 'memory' as const };
const loopback = { listeners: [{ type: 'tcp' as const, host: '127.0.0.1', port: 0 }], store: memory };

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('startBroker', () => {
  it('binds every listener and reports the OS-chosen ports', async () => {
    const running = await startBroker({
      listeners: [
        { host: '127.0.0.1', port: 0 },
        { host: '127.0.0.1', port: 0 },
      ],
      store: memory,
    });
    try {
      expect(running.addresses).toHaveLength(2);
      for (const address of running.addresses) {
        expect(address).toMatchObject({ listener: 'tcp', host: '127.0.0.1' });
        expect(address.port).toBeGreaterThan(0);
      }
      expect(running.addresses[0]!.port).not.toBe(running.addresses[1]!.port);
      expect(running.config.limits.maxPacketSize).toBe(268435460);
    } finally {
      await running.close();
    }
  });

  it('publishes the will of a connected client on close(), and close() is idempotent', async () => {
    const running = await startBroker(loopback);
    const published: Message[] = [];
    running.broker.on('messagePublished', (message) => published.push(message));
    const client = await connectAsync(`mqtt://127.0.0.1:${running.addresses[0]!.port}`, {
      clientId: 'will-on-shutdown',
      reconnectPeriod: 0,
      will: { topic: 'wills/will-on-shutdown', payload: Buffer.from('gone'), qos: 1, retain: false },
    });
    client.on('error', () => client.end(true));
    expect(running.broker.stats.connections).toBe(1);

    await Promise.all([running.close(), running.close()]);
    expect(published.map((message) => [message.topicName, message.payload.toString()])).toEqual([
      ['wills/will-on-shutdown', 'gone'],
    ]);
    await client.endAsync(true);
  });

  it('rejects with BROKER_PORT_IN_USE when a port is taken, binding nothing', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen({ port: 0, host: '127.0.0.1' }, resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const error = await rejectionOf(
        startBroker({
          listeners: [
            { host: '127.0.0.1', port: 0 },
            { host: '127.0.0.1', port },
          ],
          store: memory,
        }),
      );
      expect(isBrokerAppError(error) && error.code).toBe('BROKER_PORT_IN_USE');
      expect((error as Error).message).toBe(
        `port ${port} is in use on 127.0.0.1; pass --port or stop the other process`,
      );
    } finally {
      blocker.close();
    }
  });

  it('rejects an invalid config with BROKER_CONFIG_INVALID before binding', async () => {
    const error = await rejectionOf(startBroker({ limits: { maxQoS: 7 as 2 } }));
    expect(isBrokerAppError(error) && error.code).toBe('BROKER_CONFIG_INVALID');
    expect((error as Error).message).toBe('config: limits.maxQoS = 7 is not a QoS (0, 1, 2)');
  });
});
