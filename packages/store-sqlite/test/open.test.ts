import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isStoreError } from '@mqtt-adapt/router';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore, SCHEMA_VERSION, SQLITE_DATABASE_FILE, SqliteStore } from '../src/index.js';
import { migrations } from '../src/migrations/index.js';
import { rawDb, removeTempDirs, tempDir } from './helpers.js';

const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});
afterAll(removeTempDirs);

function track(store: SqliteStore): SqliteStore {
  stores.push(store);
  return store;
}

/** The error `open()` rejected with; fails the test if it resolved. */
async function openFailure(store: SqliteStore): Promise<{ code: string; message: string }> {
  const error = await store.open().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isStoreError(error), `open() should reject with a StoreError, got ${String(error)}`).toBe(true);
  const { code, message } = error as { code: string; message: string };
  return { code, message };
}

const tables = (db: Database.Database): string[] =>
  db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];

describe('migrations', () => {
  it('are numbered 1, 2, ... without gaps', () => {
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
    expect(SCHEMA_VERSION).toBe(migrations.length);
  });

  it('create the schema in a new file, with WAL, foreign keys and our application id', async () => {
    const path = join(tempDir(), 'new.db');
    expect(existsSync(path)).toBe(false);
    const store = track(new SqliteStore({ path }));
    expect(await store.open()).toEqual({ sessions: [], retained: [], maxMessageId: 0 });
    const db = rawDb(store);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('application_id', { simple: true })).toBe(0x4d514144);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(tables(db)).toEqual([
      'acl_rules',
      'deliveries',
      'inbound_qos2',
      'messages',
      'meta',
      'retained',
      'sessions',
      'subscriptions',
      'users',
    ]);
  });

  it('a database written at schema version 1 migrates: sessions kept, ACL rules converted, users dropped', async () => {
    const path = join(tempDir(), 'v1.db');
    const raw = new Database(path);
    raw.pragma('journal_mode = WAL');
    raw.exec(migrations[0]!.sql);
    raw.pragma('user_version = 1');
    raw.pragma(`application_id = ${0x4d514144}`);
    raw.exec(`
      INSERT INTO sessions (client_id, protocol_version, session_expiry_interval) VALUES ('old', 4, NULL);
      INSERT INTO subscriptions VALUES ('old', 'a/#', 1, 0, 0, 0, NULL);
      INSERT INTO users VALUES ('alice', x'00ff', x'01');
      INSERT INTO acl_rules (id, position, username, topic_filter, access) VALUES
        ('z', 1, 'alice', 'devices/%c/#', 'readwrite'),
        ('a', 2, NULL, '$SYS/#', 'deny'),
        ('r', 3, 'bob', 'users/%u/+', 'read'),
        ('w', 4, NULL, 'in/#', 'write');
    `);
    raw.close();

    const store = track(new SqliteStore({ path }));
    const snapshot = await store.open();
    expect(rawDb(store).pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(snapshot.sessions.map((s) => [s.session, s.subscriptions.length])).toEqual([
      [
        {
          clientId: 'old',
          protocolVersion: 4,
          sessionExpiryInterval: undefined,
          username: undefined,
          expiresAt: undefined,
        },
        1,
      ],
    ]);
    expect(await store.listUsers()).toEqual([]);
    const rule = { subject: 'all', username: undefined, permission: 'allow' } as const;
    expect(await store.listAclRules()).toEqual([
      { ...rule, id: 'z', subject: 'user', username: 'alice', topicFilter: 'devices/%c/#', action: 'all' },
      { ...rule, id: 'a', topicFilter: '$SYS/#', action: 'all', permission: 'deny' },
      { ...rule, id: 'r', subject: 'user', username: 'bob', topicFilter: 'users/%u/+', action: 'subscribe' },
      { ...rule, id: 'w', topicFilter: 'in/#', action: 'publish' },
    ]);
    const version = await store.authVersion();
    expect(version).toBe(0);

    // The migrated file takes the new records.
    await store.saveUser({ username: 'alice', passwordHash: '$7$101$c2FsdA==$aGFzaA==' });
    await store.saveAclRule({ ...rule, id: 'n', topicFilter: 'new/#', action: 'all' });
    store.saveSession({
      clientId: 'old',
      protocolVersion: 5,
      sessionExpiryInterval: 60,
      expiresAt: undefined,
      username: 'alice',
    });
    await store.close();
    const reopened = track(new SqliteStore({ path }));
    const after = await reopened.open();
    expect(after.sessions[0]?.session).toEqual({
      clientId: 'old',
      protocolVersion: 5,
      sessionExpiryInterval: 60,
      username: 'alice',
    });
    expect(after.sessions[0]?.subscriptions.map((s) => s.topicFilter)).toEqual(['a/#']);
    expect(await reopened.getUser('alice')).toEqual({
      username: 'alice',
      passwordHash: '$7$101$c2FsdA==$aGFzaA==',
    });
    expect((await reopened.listAclRules()).map((r) => r.id)).toEqual(['z', 'a', 'r', 'w', 'n']);
    expect(await reopened.authVersion()).toBeGreaterThan(version);
  });

  it("synchronous: 'full' sets PRAGMA synchronous = FULL", async () => {
    const store = track(new SqliteStore({ path: join(tempDir(), 'full.db'), synchronous: 'full' }));
    await store.open();
    expect(rawDb(store).pragma('synchronous', { simple: true })).toBe(2);
  });

  it('run once: reopening a current database keeps its data and version', async () => {
    const path = join(tempDir(), 'again.db');
    const first = new SqliteStore({ path });
    await first.open();
    first.saveSession({
      clientId: 'c',
      protocolVersion: 4,
      sessionExpiryInterval: undefined,
      expiresAt: undefined,
      username: undefined,
    });
    await first.close();
    const second = track(new SqliteStore({ path }));
    const snapshot = await second.open();
    expect(snapshot.sessions.map((s) => s.session.clientId)).toEqual(['c']);
    expect(rawDb(second).pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
  });

  it('a database from a newer store fails with STORE_SCHEMA_TOO_NEW and is left untouched', async () => {
    const path = join(tempDir(), 'newer.db');
    const raw = new Database(path);
    raw.pragma('user_version = 7');
    raw.exec('CREATE TABLE from_the_future (x)');
    raw.close();
    const failure = await openFailure(new SqliteStore({ path }));
    expect(failure).toEqual({
      code: 'STORE_SCHEMA_TOO_NEW',
      message: `database schema version 7 is newer than this store supports (${SCHEMA_VERSION}); upgrade @mqtt-adapt/store-sqlite`,
    });
    const after = new Database(path);
    expect(after.pragma('user_version', { simple: true })).toBe(7);
    expect(tables(after)).toEqual(['from_the_future']);
    after.close();
  });

  it('a sqlite database of another application fails with STORE_UNAVAILABLE', async () => {
    const path = join(tempDir(), 'foreign.db');
    const raw = new Database(path);
    raw.pragma('application_id = 1234');
    raw.close();
    const failure = await openFailure(new SqliteStore({ path }));
    expect(failure.code).toBe('STORE_UNAVAILABLE');
    expect(failure.message).toBe(
      `cannot open ${path}: it is a sqlite database of another application (application_id 1234)`,
    );
  });
});

describe('open() failures name the path and the cause in one line', () => {
  it('a file that is not a database', async () => {
    const path = join(tempDir(), 'corrupt.db');
    writeFileSync(path, 'this is a text file, not a database\n'.repeat(200));
    const failure = await openFailure(new SqliteStore({ path }));
    expect(failure.code).toBe('STORE_UNAVAILABLE');
    expect(failure.message).toBe(
      `cannot open sqlite database ${path}: file is not a database (SQLITE_NOTADB)`,
    );
  });

  it('a missing directory', async () => {
    const path = join(tempDir(), 'missing', 'dir', 'x.db');
    const failure = await openFailure(new SqliteStore({ path }));
    expect(failure.code).toBe('STORE_UNAVAILABLE');
    expect(failure.message).toMatch(
      /^cannot open sqlite database .*\/missing\/dir\/x\.db: .*directory does not exist/,
    );
    expect(failure.message).not.toContain('\n');
  });

  it('a path whose directory is a regular file', async () => {
    const file = join(tempDir(), 'not-a-dir');
    writeFileSync(file, 'x');
    const path = join(file, 'x.db');
    const failure = await openFailure(new SqliteStore({ path }));
    expect(failure.code).toBe('STORE_UNAVAILABLE');
    expect(failure.message.startsWith(`cannot open sqlite database ${path}: `)).toBe(true);
    expect(failure.message).not.toContain('\n');
  });

  // root writes into a mode 0500 directory anyway, so this needs an ordinary user.
  const isRoot = process.getuid?.() === 0;
  // Root ignores directory permissions, so as root this test could not fail; it passes when run
  // as an unprivileged user (checked as `nobody`).
  it.skipIf(isRoot)(`a read-only directory${isRoot ? ' [skipped: running as root]' : ''}`, async () => {
    const dir = join(tempDir(), 'read-only');
    mkdirSync(dir);
    chmodSync(dir, 0o500);
    try {
      const path = join(dir, 'x.db');
      const failure = await openFailure(new SqliteStore({ path }));
      expect(failure.code).toBe('STORE_UNAVAILABLE');
      expect(failure.message).toBe(
        `cannot open sqlite database ${path}: unable to open database file (SQLITE_CANTOPEN)`,
      );
    } finally {
      chmodSync(dir, 0o700);
    }
  });
});

describe('openSqliteStore(dataDir)', () => {
  it('creates the directory and uses <dataDir>/mqtt-adapt.db', async () => {
    const dataDir = join(tempDir(), 'data', 'nested');
    const store = track(openSqliteStore(dataDir, { flushIntervalMs: 2 }));
    expect(store.path).toBe(join(dataDir, SQLITE_DATABASE_FILE));
    expect(SQLITE_DATABASE_FILE).toBe('mqtt-adapt.db');
    await store.open();
    expect(existsSync(join(dataDir, 'mqtt-adapt.db'))).toBe(true);
  });

  it('fails with STORE_UNAVAILABLE when the directory cannot be created', () => {
    const file = join(tempDir(), 'file');
    writeFileSync(file, 'x');
    let error: unknown;
    try {
      openSqliteStore(join(file, 'data'));
    } catch (e) {
      error = e;
    }
    expect(isStoreError(error) && error.code).toBe('STORE_UNAVAILABLE');
    expect((error as Error).message).toMatch(/^cannot create data directory .*\/file\/data: ENOTDIR/);
  });
});

describe('options', () => {
  it('reject values that are a caller bug at construction', () => {
    expect(() => new SqliteStore({ path: '' })).toThrow(TypeError);
    expect(() => new SqliteStore({ path: 'x.db', flushIntervalMs: -1 })).toThrow(RangeError);
    expect(() => new SqliteStore({ path: 'x.db', busyTimeoutMs: 1.5 })).toThrow(RangeError);
    expect(() => new SqliteStore({ path: 'x.db', synchronous: 'off' as 'full' })).toThrow(RangeError);
  });
});
