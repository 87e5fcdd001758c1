import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { startTestBroker, type TestBroker } from './helpers.js';
import { PG_TEST_URL, withPostgres } from './persistence-harness.js';

export const NATS_TEST_URL = process.env.NATS_TEST_URL ?? 'nats://127.0.0.1:4222';

/**
 * Broker processes with `--cluster` on one fresh PostgreSQL schema and the real NATS, for the
 * cluster suites. A service that is down fails them (never skips).
 */
export class ClusterFixture<NodeId extends string> {
  readonly schema: string;
  readonly brokers = new Map<NodeId, TestBroker>();
  /** MQTT clients the tests open; ended by `stop()`. */
  readonly clients: MqttClient[] = [];

  constructor(
    schemaPrefix: string,
    readonly nodeIds: readonly NodeId[],
    readonly heartbeatMs: number,
    readonly deadAfterMs: number,
    /** More CLI flags for every node. */
    readonly extraArgs: readonly string[] = [],
  ) {
    this.schema = `${schemaPrefix}_${randomBytes(6).toString('hex')}`;
  }

  args(nodeId: string): string[] {
    return [
      ...['--store', 'postgres', '--database-url', PG_TEST_URL, '--database-schema', this.schema],
      ...['--cluster', '--nats-url', NATS_TEST_URL, '--node-id', nodeId],
      ...[
        '--cluster-heartbeat-ms',
        String(this.heartbeatMs),
        '--cluster-dead-after-ms',
        String(this.deadAfterMs),
      ],
      ...this.extraArgs,
    ];
  }

  /** Fails with a clear line when PostgreSQL is down. */
  async requirePostgres(): Promise<void> {
    try {
      await withPostgres((pg) => pg.query('SELECT 1'));
    } catch (error) {
      throw new Error(
        `PostgreSQL is unreachable at ${PG_TEST_URL} (${(error as Error).message}); the cluster tests fail rather than skip`,
      );
    }
  }

  /** Starts every node, one after the other: the first one migrates the schema. */
  async startNodes(): Promise<void> {
    for (const nodeId of this.nodeIds)
      this.brokers.set(nodeId, await startTestBroker({ args: this.args(nodeId) }));
  }

  /** Starts `nodeId` (again, after a stop: same node id, a new port). */
  async startNode(nodeId: NodeId): Promise<TestBroker> {
    const broker = await startTestBroker({ args: this.args(nodeId) });
    this.brokers.set(nodeId, broker);
    return broker;
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.endAsync(true).catch(() => undefined)));
    await Promise.all([...this.brokers.values()].map((broker) => broker.stop('SIGKILL')));
    await withPostgres((pg) => pg.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`)).catch(
      () => undefined,
    );
  }
}

/** Polls `check` every `everyMs` until it holds; fails naming `what` after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
