import { createServer } from 'node:net';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { isBrokerAppError } from '../../src/errors.js';
import { BrokerMetrics } from '../../src/metrics.js';
import { listenMetrics } from '../../src/metrics-server.js';
import { startBroker } from '../../src/start-broker.js';
import { parsePrometheusText, sampleValue } from './prom-text.js';

// In this process: the metrics server alone (readiness as it flips), and startBroker() with
// metrics and $SYS settings.

const log = pino({ level: 'silent' });
const loopback = {
  listeners: [{ type: 'tcp' as const, host: '127.0.0.1', port: 0 }],
  store: { type: 'memory' as const },
};

async function status(port: number, path: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
}

describe('listenMetrics', () => {
  it('answers /readyz 503 until ready and 200 after, /healthz 200 throughout', async () => {
    let ready = false;
    const server = await listenMetrics({
      host: '127.0.0.1',
      port: 0,
      metrics: new BrokerMetrics(),
      isReady: () => ready,
      log,
    });
    try {
      expect(server.address).toMatchObject({ listener: 'metrics', host: '127.0.0.1' });
      expect(await status(server.address.port, '/readyz')).toBe(503);
      expect(await status(server.address.port, '/healthz')).toBe(200);
      ready = true;
      expect(await status(server.address.port, '/readyz')).toBe(200);
      ready = false;
      expect(await status(server.address.port, '/readyz')).toBe(503);
    } finally {
      await server.close();
    }
    await expect(fetch(`http://127.0.0.1:${server.address.port}/healthz`)).rejects.toThrow();
  });

  it('rejects with BROKER_PORT_IN_USE naming the flag when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const error = await listenMetrics({
        host: '127.0.0.1',
        port,
        metrics: new BrokerMetrics(),
        isReady: () => true,
        log,
      }).catch((caught: unknown) => caught);
      expect(isBrokerAppError(error) && error.code).toBe('BROKER_PORT_IN_USE');
      expect((error as Error).message).toBe(
        `metrics port ${port} is in use on 127.0.0.1; pass --metrics-port or stop the other process`,
      );
    } finally {
      blocker.close();
    }
  });
});

describe('startBroker with metrics and $SYS', () => {
  it('serves metrics at metricsAddress until close(), which closes it', async () => {
    const running = await startBroker({ ...loopback, metrics: { port: 0, host: '127.0.0.1' } });
    const port = running.metricsAddress!.port;
    expect(await status(port, '/readyz')).toBe(200);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const families = parsePrometheusText(text);
    expect(sampleValue(families, 'mqtt_adapt_listener_connections', { listener: 'tcp' })).toBe(0);
    // $SYS is on by default: its retained messages are there from the start.
    expect(running.broker.stats.retainedMessages).toBeGreaterThan(0);
    await running.close();
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it('has no metrics server by default and no $SYS with sysInterval 0', async () => {
    const running = await startBroker({ ...loopback, sysInterval: 0 });
    try {
      expect(running.metricsAddress).toBeUndefined();
      expect(running.broker.stats.retainedMessages).toBe(0);
    } finally {
      await running.close();
    }
  });

  it('closes the metrics server again when the MQTT port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port: mqttPort } = blocker.address() as { port: number };
    const metricsPort = await freePort();
    try {
      const error = await startBroker({
        ...loopback,
        listeners: [{ type: 'tcp', host: '127.0.0.1', port: mqttPort }],
        metrics: { port: metricsPort, host: '127.0.0.1' },
      }).catch((caught: unknown) => caught);
      expect(isBrokerAppError(error) && error.code).toBe('BROKER_PORT_IN_USE');
      expect((error as Error).message).toContain(`port ${mqttPort} is in use`);
      // The metrics port is free again: bind it.
      const again = createServer();
      await new Promise<void>((resolve, reject) => {
        again.once('error', reject);
        again.listen(metricsPort, '127.0.0.1', resolve);
      });
      again.close();
    } finally {
      blocker.close();
    }
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
