import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCHEMA_VERSION } from '@mqtt-adapt/store-sqlite';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isBrokerAppError } from '../../src/errors.js';
import { startBroker } from '../../src/start-broker.js';
import { type CliRun, openSocket, runCli, startTestBroker, type TestBroker } from './helpers.js';
import { RawClient, runId } from './mqtt-wire.js';
import {
  PG_TEST_URL,
  Publisher,
  type StoreUnderTest,
  Subscriber,
  storeUnderTest,
  withPostgres,
} from './persistence-harness.js';

/*
 * Choosing and opening the store at startup: sqlite is the default and creates its data
 * directory; a store that cannot open stops the broker before anything is bound, with one
 * line on stderr naming the store, the file or URL (password redacted) and the cause, exit 1.
 */

const dir = mkdtempSync(join(tmpdir(), 'mqtt-adapt-store-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let serial = 0;
/** A fresh path under the test's temp dir (not created). */
function freshPath(name: string): string {
  serial++;
  return join(dir, `${serial}-${name}`);
}

const brokers: TestBroker[] = [];
let pgStore: StoreUnderTest | undefined;
afterEach(async () => {
  await Promise.all(brokers.map((broker) => broker.stop('SIGKILL')));
  brokers.length = 0;
  await pgStore?.cleanup();
  pgStore = undefined;
});

async function start(args: readonly string[]): Promise<TestBroker> {
  const broker = await startTestBroker({ args });
  brokers.push(broker);
  return broker;
}

const BASE = ['--port', '0', '--host', '127.0.0.1', '--log-format', 'json'];

/** The broker did not start: exactly one line on stderr, exit code 1, no `listening` line. */
function expectStartupFailure(run: CliRun): string {
  expect(run.stdout).not.toContain('"msg":"listening"');
  expect(run.stderr).toMatch(/^[^\n]+\n$/);
  expect(run.code).toBe(1);
  return run.stderr.trimEnd();
}

describe('the default store', () => {
  it('is sqlite: a broker started without --store creates <dataDir>/mqtt-adapt.db, directory included', async () => {
    const dataDir = join(freshPath('default'), 'nested', 'data');
    const broker = await start(['--data-dir', dataDir]);
    expect(broker.lines.find((line) => line.msg === 'listening')).toMatchObject({ store: 'sqlite' });
    expect(existsSync(join(dataDir, 'mqtt-adapt.db'))).toBe(true);
    expect(broker.stderr).toEqual([]);
  });

  it('--store memory writes nothing, not even the data directory', async () => {
    const dataDir = freshPath('memory');
    const broker = await start(['--store', 'memory', '--data-dir', dataDir]);
    expect(broker.lines.find((line) => line.msg === 'listening')).toMatchObject({ store: 'memory' });
    expect(existsSync(dataDir)).toBe(false);
  });

  it('SIGTERM closes the store: the WAL is checkpointed and what was acknowledged is there on restart', async () => {
    const dataDir = freshPath('sigterm');
    const run = runId();
    const first = await start(['--data-dir', dataDir]);
    const publisher = await Publisher.connect(first, `${run}-pub`);
    await publisher.run([{ key: 'kept', topic: `${run}/status`, qos: 1, retain: true }], 1);
    expect(publisher.acked).toEqual(['kept']);
    expect(await first.stop('SIGTERM')).toMatchObject({ code: 0, signal: null });
    expect(first.lines.map((line) => line.msg)).toContain('stopped');
    // SQLite removes the WAL when the last connection closes cleanly: the store was closed.
    expect(existsSync(join(dataDir, 'mqtt-adapt.db-wal'))).toBe(false);

    const second = await start(['--data-dir', dataDir]);
    const reader = await Subscriber.connect(second, `${run}-reader`, { clean: true });
    await reader.subscribe([[`${run}/#`, 1]]);
    await reader.received(['kept']);
    expect(reader.deliveries).toMatchObject([{ topic: `${run}/status`, key: 'kept', retain: true }]);
    reader.disconnect();
  });
});

describe('graceful shutdown with a durable store', () => {
  it('the wills published on SIGTERM reach an offline persistent session after the restart, a retained will stays retained', async () => {
    const dataDir = freshPath('wills');
    const run = runId();
    const first = await start(['--data-dir', dataDir]);
    const subscriber = await Subscriber.connect(first, `${run}-sub`);
    await subscriber.subscribe([[`${run}/wills/#`, 1]]);
    subscriber.disconnect();
    await subscriber.raw.closed();
    const willing = await RawClient.connect(first, {
      clientId: `${run}-device`,
      will: { topic: `${run}/wills/device`, payload: 'gone', qos: 1, retain: true },
    });
    expect(await first.stop('SIGTERM')).toMatchObject({ code: 0 });
    willing.destroy();

    const second = await start(['--data-dir', dataDir]);
    const back = await Subscriber.connect(second, `${run}-sub`);
    expect(back.sessionPresent).toBe(true);
    await back.received(['gone']);
    expect(back.deliveries).toMatchObject([{ topic: `${run}/wills/device`, key: 'gone', qos: 1 }]);
    const reader = await Subscriber.connect(second, `${run}-reader`, { clean: true });
    await reader.subscribe([[`${run}/wills/#`, 1]]);
    await reader.received(['gone']);
    expect(reader.deliveries).toMatchObject([{ key: 'gone', retain: true }]);
    back.disconnect();
    reader.disconnect();
  });
});

describe('a store that cannot open stops the broker with one line and exit code 1', () => {
  it('a data directory that cannot be created (a path under a regular file)', async () => {
    const file = freshPath('a-file');
    writeFileSync(file, 'not a directory\n');
    const dataDir = join(file, 'data');
    const line = expectStartupFailure(await runCli([...BASE, '--data-dir', dataDir]));
    expect(line).toBe(
      `store: cannot open sqlite database ${dataDir}/mqtt-adapt.db: cannot create data directory ${dataDir}: ENOTDIR: not a directory, mkdir '${dataDir}'`,
    );
  });

  it('a corrupt database (a text file where the database should be), left as it was', async () => {
    const dataDir = freshPath('corrupt');
    mkdirSync(dataDir);
    const path = join(dataDir, 'mqtt-adapt.db');
    writeFileSync(path, 'this is not a sqlite database, it is a text file\n'.repeat(100));
    const line = expectStartupFailure(await runCli([...BASE, '--data-dir', dataDir]));
    expect(line).toBe(`store: cannot open sqlite database ${path}: file is not a database (SQLITE_NOTADB)`);
    expect(readFileSync(path, 'utf8')).toBe('this is not a sqlite database, it is a text file\n'.repeat(100));
  });

  it('a database written by a newer broker (schema version 7), left untouched', async () => {
    const dataDir = freshPath('newer');
    const broker = await start(['--data-dir', dataDir]);
    expect(await broker.stop('SIGTERM')).toMatchObject({ code: 0 });
    const path = join(dataDir, 'mqtt-adapt.db');
    const db = new Database(path);
    db.pragma('user_version = 7');
    db.close();

    const line = expectStartupFailure(await runCli([...BASE, '--data-dir', dataDir]));
    expect(line).toBe(
      `store: cannot open sqlite database ${path}: database schema version 7 is newer than this store supports (${SCHEMA_VERSION}); upgrade @mqtt-adapt/broker`,
    );
    const after = new Database(path, { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(7);
    after.close();
  });

  it('postgres unreachable, the password redacted', async () => {
    const url = 'postgres://postgres:n0t-th1s-0ne@127.0.0.1:1/test';
    const run = await runCli([...BASE, '--store', 'postgres', '--database-url', url]);
    const line = expectStartupFailure(run);
    expect(line).toMatch(
      /^store: cannot open postgres database postgres:\/\/postgres:\[redacted\]@127\.0\.0\.1:1\/test: .*ECONNREFUSED/,
    );
    expect(run.stdout + run.stderr).not.toContain('n0t-th1s-0ne');
  });

  it('postgres unreachable through DATABASE_URL, the password redacted', async () => {
    const run = await runCli([...BASE, '--store', 'postgres'], {
      DATABASE_URL: 'postgres://postgres:s3cr3t@127.0.0.1:1/test',
    });
    expect(expectStartupFailure(run)).toMatch(
      /^store: cannot open postgres database postgres:\/\/postgres:\[redacted\]@/,
    );
    expect(run.stdout + run.stderr).not.toContain('s3cr3t');
  });

  it('a postgres schema migrated by a newer broker', async () => {
    pgStore = await storeUnderTest('postgres');
    const broker = await start(pgStore.args);
    expect(await broker.stop('SIGTERM')).toMatchObject({ code: 0 });
    const schema = pgStore.args[pgStore.args.indexOf('--database-schema') + 1]!;
    // The version this broker migrated the schema to is the newest it knows.
    const known = await withPostgres(async (client) => {
      const { rows } = await client.query(`SELECT max(version) AS v FROM "${schema}".schema_version`);
      await client.query(
        `INSERT INTO "${schema}".schema_version (version, name) VALUES (99, 'from the future')`,
      );
      return Number(rows[0].v);
    });
    expect(known).toBeGreaterThanOrEqual(3);
    const line = expectStartupFailure(await runCli([...BASE, ...pgStore.args]));
    expect(line).toBe(
      `store: cannot open postgres database ${PG_TEST_URL}: postgres schema "${schema}" is at version 99, newer than version ${known} this @mqtt-adapt/store-pg knows; upgrade @mqtt-adapt/broker on every node`,
    );
  });

  it('postgres without any URL is a config error (exit 2) naming the fix', async () => {
    const run = await runCli([...BASE, '--store', 'postgres']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      'config: store.type = "postgres" needs a database URL; pass --database-url or set DATABASE_URL (or store.url in the config file)\n',
    );
  });

  it('binds no port while the store is opening, and none after it failed', async () => {
    // A "postgres" that accepts connections and never answers: the store's open hangs until
    // its connect timeout, and meanwhile the broker's port must stay closed.
    const held: Socket[] = [];
    const blackHole: Server = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => blackHole.listen({ port: 0, host: '127.0.0.1' }, resolve));
    const dbPort = (blackHole.address() as { port: number }).port;
    const port = await freePort();
    try {
      const running = runCli([
        '--port',
        String(port),
        '--host',
        '127.0.0.1',
        '--log-format',
        'json',
        '--store',
        'postgres',
        '--database-url',
        `postgres://postgres@127.0.0.1:${dbPort}/test`,
      ]);
      let probes = 0;
      let exited = false;
      void running.then(() => {
        exited = true;
      });
      while (!exited) {
        await expect(openSocket(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
        probes++;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(probes).toBeGreaterThan(10);
      const line = expectStartupFailure(await running);
      expect(line).toMatch(
        new RegExp(
          `^store: cannot open postgres database postgres://postgres@127\\.0\\.0\\.1:${dbPort}/test: .*timeout`,
        ),
      );
    } finally {
      for (const socket of held) socket.destroy();
      blackHole.close();
    }
  }, 20_000);
});

describe('startBroker() in this process', () => {
  it('rejects with BROKER_STORE_UNAVAILABLE and leaves the port free', async () => {
    const file = freshPath('file-in-process');
    writeFileSync(file, '');
    const port = await freePort();
    let error: unknown;
    try {
      const running = await startBroker({
        listeners: [{ host: '127.0.0.1', port }],
        dataDir: join(file, 'data'),
      });
      await running.close();
    } catch (caught) {
      error = caught;
    }
    expect(isBrokerAppError(error) && error.code).toBe('BROKER_STORE_UNAVAILABLE');
    expect((error as Error).message).toMatch(/^store: cannot open sqlite database .*ENOTDIR/);
    await expect(openSocket(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('opens the sqlite store in dataDir and closes it with close()', async () => {
    const dataDir = freshPath('in-process');
    const running = await startBroker({ listeners: [{ host: '127.0.0.1', port: 0 }], dataDir });
    expect(running.broker.store.name).toBe('sqlite');
    expect(existsSync(join(dataDir, 'mqtt-adapt.db'))).toBe(true);
    await running.close();
    expect(existsSync(join(dataDir, 'mqtt-adapt.db-wal'))).toBe(false);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1' }, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
