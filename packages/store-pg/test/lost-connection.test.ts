import { isStoreError } from '@mqtt-adapt/router';
import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PgStore } from '../src/index.js';
import {
  admin,
  dropSchema,
  freshApplicationName,
  freshSchema,
  killConnections,
  nextTurn,
  recordingLogger,
  rejectionOf,
  requirePostgres,
  testStore,
  traceQueries,
} from './helpers.js';

beforeEach(requirePostgres);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function openStore() {
  const schema = freshSchema();
  const applicationName = freshApplicationName();
  const { logger, lines } = recordingLogger();
  const store = testStore(schema, { applicationName, logger });
  cleanups.push(() => dropSchema(schema));
  cleanups.push(() => store.close());
  await store.open();
  return { store, schema, applicationName, lines };
}

/** Writes one batch: a session with `deliveries` deliveries of one 64 KiB message. */
function writeBatch(store: PgStore, round: number, deliveries: number): void {
  const clientId = `round-${round}`;
  store.saveMessage({
    id: round,
    topicName: `t/${round}`,
    payload: Buffer.alloc(64 * 1024, round & 0xff),
    qos: 1,
    retain: false,
    properties: undefined,
  });
  store.saveSession({
    clientId,
    protocolVersion: 5,
    sessionExpiryInterval: 60,
    expiresAt: undefined,
    username: undefined,
  });
  for (let seq = 1; seq <= deliveries; seq++) {
    store.saveDelivery(clientId, {
      seq,
      messageId: round,
      qos: 1,
      retain: false,
      packetId: undefined,
      released: false,
    });
  }
}

async function storedRounds(schema: string): Promise<Map<string, number>> {
  const rows = await admin<{ client_id: string; n: number }>(
    `SELECT s.client_id, count(d.seq)::int AS n FROM "${schema}".sessions s
     LEFT JOIN "${schema}".deliveries d USING (client_id) GROUP BY s.client_id`,
  );
  return new Map(rows.map((row) => [row.client_id, row.n]));
}

describe('lost connection', () => {
  it('backends killed mid-run: each flush tells the truth, later flushes commit on fresh connections', async () => {
    const { store, schema, applicationName, lines } = await openStore();
    const rounds = 30;
    const outcomes: Array<Promise<unknown>> = [];
    let killed = 0;
    for (let round = 1; round <= rounds; round++) {
      writeBatch(store, round, 500);
      outcomes.push(rejectionOf(store.flush()));
      await nextTurn();
      // Twice mid-run, while a commit is in flight.
      if (round === 10 || round === 20) killed += await killConnections(applicationName);
    }
    const errors = await Promise.all(outcomes);
    expect(killed).toBeGreaterThan(0);

    const stored = await storedRounds(schema);
    errors.forEach((error, i) => {
      const clientId = `round-${i + 1}`;
      if (error === undefined) {
        // Resolved: the whole batch is there.
        expect(stored.get(clientId), `${clientId} resolved, so it must be stored`).toBe(500);
      } else {
        expect(isStoreError(error) ? error.code : error, clientId).toBe('STORE_WRITE_FAILED');
        // Atomic: all or nothing; "nothing" when the store says so.
        expect([undefined, 500]).toContain(stored.get(clientId));
        if ((error as Error).message.includes('nothing of it was committed')) {
          expect(stored.get(clientId), `${clientId} said nothing was committed`).toBeUndefined();
        }
      }
    });
    expect(
      lines.some((line) => line.level === 'warn' && line.msg === 'postgres connection lost; reconnecting'),
    ).toBe(true);

    // After the outage: every flush commits.
    for (let round = rounds + 1; round <= rounds + 5; round++) {
      writeBatch(store, round, 10);
      await expect(store.flush()).resolves.toBeUndefined();
    }
    const after = await storedRounds(schema);
    for (let round = rounds + 1; round <= rounds + 5; round++) expect(after.get(`round-${round}`)).toBe(10);
  });

  it('idle connections killed between batches: the next batch reconnects without failing', async () => {
    const { store, schema, applicationName } = await openStore();
    writeBatch(store, 1, 5);
    await store.flush();
    expect(await killConnections(applicationName)).toBeGreaterThan(0);
    // Give the FATAL message time to reach (or not reach) the idle client.
    await new Promise((resolve) => setTimeout(resolve, 50));
    writeBatch(store, 2, 5);
    await expect(store.flush()).resolves.toBeUndefined();
    expect((await storedRounds(schema)).get('round-2')).toBe(5);
  });

  it('connection lost right after COMMIT went through: the flush resolves (txid_status says committed)', async () => {
    const { store, schema, applicationName, lines } = await openStore();
    let armed = true;
    const trace = traceQueries(applicationName, (client, statement, run) => {
      if (statement !== 'COMMIT' || !armed) return undefined;
      armed = false;
      return run().then(() => {
        destroySocket(client);
        throw new Error('Connection terminated unexpectedly');
      });
    });
    cleanups.push(trace.restore);
    writeBatch(store, 1, 3);
    await expect(store.flush()).resolves.toBeUndefined();
    expect((await storedRounds(schema)).get('round-1')).toBe(3);
    expect(lines.some((line) => line.msg === 'postgres connection lost during COMMIT; it committed')).toBe(
      true,
    );
  });

  it('connection lost before COMMIT reached the server: the flush rejects and nothing is stored', async () => {
    const { store, schema, applicationName } = await openStore();
    let armed = true;
    const trace = traceQueries(applicationName, (client, statement) => {
      if (statement !== 'COMMIT' || !armed) return undefined;
      armed = false;
      const pid = (client as unknown as { processID: number }).processID;
      return admin('SELECT pg_terminate_backend($1)', [pid]).then(() => {
        destroySocket(client);
        throw new Error('Connection terminated unexpectedly');
      });
    });
    cleanups.push(trace.restore);
    writeBatch(store, 1, 3);
    const error = await rejectionOf(store.flush());
    expect(isStoreError(error) ? error.code : error).toBe('STORE_WRITE_FAILED');
    expect((error as Error).message).toContain('(nothing of it was committed)');
    expect((await storedRounds(schema)).get('round-1')).toBeUndefined();
    writeBatch(store, 2, 3);
    await expect(store.flush()).resolves.toBeUndefined();
    expect((await storedRounds(schema)).get('round-2')).toBe(3);
  });
});

function destroySocket(client: pg.Client): void {
  (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
}
