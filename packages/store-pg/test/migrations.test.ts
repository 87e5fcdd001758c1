import { isStoreError } from '@mqtt-adapt/router';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PgStore } from '../src/index.js';
import { latestSchemaVersion, migrations } from '../src/migrations/index.js';
import {
  admin,
  dropSchema,
  freshSchema,
  recordingLogger,
  rejectionOf,
  requirePostgres,
  testStore,
  testUrl,
} from './helpers.js';

beforeEach(requirePostgres);

const schemas: string[] = [];
const stores: PgStore[] = [];

function schema(): string {
  const name = freshSchema();
  schemas.push(name);
  return name;
}

function store(name: string, options: Parameters<typeof testStore>[1] = {}): PgStore {
  const created = testStore(name, options);
  stores.push(created);
  return created;
}

afterEach(async () => {
  for (const created of stores.splice(0)) await created.close();
  for (const name of schemas.splice(0)) await dropSchema(name);
});

function codeOf(error: unknown): unknown {
  return isStoreError(error) ? error.code : error;
}

const allVersions = [
  { version: 1, name: 'initial' },
  { version: 2, name: 'auth records' },
  { version: 3, name: 'session expiry' },
  { version: 4, name: 'inline message bodies' },
  { version: 5, name: 'session owners' },
];

async function versions(name: string): Promise<Array<{ version: number; name: string }>> {
  return admin(`SELECT version, name FROM "${name}".schema_version ORDER BY version`);
}

describe('migrations', () => {
  it('creates the schema and every table from nothing, at the latest version', async () => {
    const name = schema();
    const snapshot = await store(name).open();
    expect(snapshot).toEqual({ sessions: [], retained: [], maxMessageId: 0 });
    expect(await versions(name)).toEqual(allVersions);
    const tables = await admin<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [name],
    );
    expect(tables.map((row) => row.table_name)).toEqual([
      'acl_rules',
      'deliveries',
      'inbound_qos2',
      'messages',
      'meta',
      'retained',
      'schema_version',
      'session_owners',
      'sessions',
      'subscriptions',
      'users',
    ]);
  });

  it('opening again applies nothing and keeps the data', async () => {
    const name = schema();
    const first = store(name);
    await first.open();
    first.saveSession({
      clientId: 'c',
      protocolVersion: 5,
      sessionExpiryInterval: 10,
      expiresAt: undefined,
      username: undefined,
    });
    await first.close();
    for (let i = 0; i < 3; i++) {
      const again = store(name);
      const snapshot = await again.open();
      expect(snapshot.sessions.map((s) => s.session)).toEqual([
        { clientId: 'c', protocolVersion: 5, sessionExpiryInterval: 10, username: undefined },
      ]);
      await again.close();
    }
    expect(await versions(name)).toEqual(allVersions);
  });

  it('uses a schema a DBA created beforehand (empty)', async () => {
    const name = schema();
    await admin(`CREATE SCHEMA "${name}"`);
    await expect(store(name).open()).resolves.toEqual({ sessions: [], retained: [], maxMessageId: 0 });
    expect(await versions(name)).toEqual(allVersions);
  });

  it('eight nodes opening one new schema at once migrate it exactly once (advisory lock)', async () => {
    const name = schema();
    const nodes = Array.from({ length: 8 }, () => store(name));
    const snapshots = await Promise.all(nodes.map((node) => node.open()));
    for (const snapshot of snapshots) expect(snapshot.sessions).toEqual([]);
    expect(await versions(name)).toEqual(allVersions);
  });

  it('a schema migrated by a newer package fails with STORE_SCHEMA_TOO_NEW and is left alone', async () => {
    const name = schema();
    const first = store(name);
    await first.open();
    await first.close();
    const future = latestSchemaVersion + 1;
    await admin(`INSERT INTO "${name}".schema_version (version, name) VALUES ($1, 'from the future')`, [
      future,
    ]);
    const error = await rejectionOf(store(name).open());
    expect(codeOf(error)).toBe('STORE_SCHEMA_TOO_NEW');
    expect((error as Error).message).toBe(
      `postgres schema "${name}" is at version ${future}, newer than version ${latestSchemaVersion} this @mqtt-adapt/store-pg knows; upgrade the package on every node`,
    );
    expect(await versions(name)).toEqual([...allVersions, { version: future, name: 'from the future' }]);
  });

  it('a schema written at version 3 with deliveries migrates: they keep their messages rows, new ones go inline', async () => {
    const name = schema();
    await admin(`CREATE SCHEMA "${name}"`);
    await admin(`SET search_path TO "${name}";
CREATE TABLE schema_version (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
${migrations
  .slice(0, 3)
  .map((m) => m.sql)
  .join('\n')}
INSERT INTO schema_version (version, name) VALUES (1, 'initial'), (2, 'auth records'), (3, 'session expiry');
SELECT nextval('store_epochs');
INSERT INTO sessions (client_id, protocol_version) VALUES ('old', 4);
INSERT INTO messages VALUES (1, 7, 'a/b', '\\x0102', 1, false, NULL);
INSERT INTO deliveries VALUES ('old', 1, 1, 7, 1, false, 12, false);`);
    const first = store(name);
    const snapshot = await first.open();
    expect(await versions(name)).toEqual(allVersions);
    expect(snapshot.maxMessageId).toBe(7);
    expect(snapshot.sessions[0]?.deliveries).toEqual([
      {
        seq: 1,
        messageId: 7,
        qos: 1,
        retain: false,
        packetId: 12,
        released: false,
        message: {
          id: 7,
          topicName: 'a/b',
          payload: Buffer.from([1, 2]),
          qos: 1,
          retain: false,
          properties: undefined,
        },
      },
    ]);
    first.saveMessage({
      id: 8,
      topicName: 'c/d',
      payload: Buffer.from('x'),
      qos: 1,
      retain: false,
      properties: undefined,
    });
    first.saveDelivery('old', {
      seq: 2,
      messageId: 8,
      qos: 1,
      retain: false,
      packetId: undefined,
      released: false,
    });
    await first.flush();
    expect(
      await admin(`SELECT seq::int, payload IS NOT NULL AS inline FROM "${name}".deliveries ORDER BY seq`),
    ).toEqual([
      { seq: 1, inline: false },
      { seq: 2, inline: true },
    ]);
  });

  it('a schema written at version 1 migrates: sessions kept, ACL rules converted, users dropped', async () => {
    const name = schema();
    // Version 1 exactly as a release with only migration 0001 left it.
    await admin(`CREATE SCHEMA "${name}"`);
    await admin(`SET search_path TO "${name}";
CREATE TABLE schema_version (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
${migrations[0]?.sql}
INSERT INTO schema_version (version, name) VALUES (1, 'initial');
INSERT INTO sessions (client_id, protocol_version, session_expiry_interval) VALUES ('old', 4, NULL);
INSERT INTO subscriptions (client_id, topic_filter, qos, no_local, retain_as_published, retain_handling)
  VALUES ('old', 'a/#', 1, false, false, 0);
INSERT INTO users VALUES ('alice', '\\x00ff', '\\x01');
INSERT INTO acl_rules (id, username, topic_filter, access) VALUES
  ('z', 'alice', 'devices/%c/#', 'readwrite'), ('a', NULL, '$SYS/#', 'deny'),
  ('r', 'bob', 'users/%u/+', 'read'), ('w', NULL, 'in/#', 'write');`);
    const first = store(name);
    const snapshot = await first.open();
    expect(await versions(name)).toEqual(allVersions);
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
    expect(await first.listUsers()).toEqual([]);
    const rule = { subject: 'all', username: undefined, permission: 'allow' } as const;
    expect(await first.listAclRules()).toEqual([
      { ...rule, id: 'z', subject: 'user', username: 'alice', topicFilter: 'devices/%c/#', action: 'all' },
      { ...rule, id: 'a', topicFilter: '$SYS/#', action: 'all', permission: 'deny' },
      { ...rule, id: 'r', subject: 'user', username: 'bob', topicFilter: 'users/%u/+', action: 'subscribe' },
      { ...rule, id: 'w', topicFilter: 'in/#', action: 'publish' },
    ]);
    expect(await first.authVersion()).toBe(0);
    // The migrated schema takes the new records; a rule added now goes after the converted ones.
    await first.saveUser({ username: 'alice', passwordHash: '$7$101$c2FsdA==$aGFzaA==' });
    await first.saveAclRule({ ...rule, id: 'n', topicFilter: 'new/#', action: 'all' });
    first.saveSession({
      clientId: 'old',
      protocolVersion: 5,
      sessionExpiryInterval: 60,
      expiresAt: undefined,
      username: 'alice',
    });
    await first.close();
    const second = store(name);
    const after = await second.open();
    expect(after.sessions[0]?.session).toEqual({
      clientId: 'old',
      protocolVersion: 5,
      sessionExpiryInterval: 60,
      username: 'alice',
    });
    expect(after.sessions[0]?.subscriptions.map((s) => s.topicFilter)).toEqual(['a/#']);
    expect(await second.getUser('alice')).toEqual({
      username: 'alice',
      passwordHash: '$7$101$c2FsdA==$aGFzaA==',
    });
    expect((await second.listAclRules()).map((r) => r.id)).toEqual(['z', 'a', 'r', 'w', 'n']);
    expect(await second.authVersion()).toBe(2);
  });
});

describe('server settings', () => {
  it('warns when synchronous_commit is off (the store never changes it)', async () => {
    const url = new URL(testUrl);
    url.searchParams.set('options', '-c synchronous_commit=off');
    const { logger, lines } = recordingLogger();
    const relaxed = new PgStore({ connectionString: url.toString(), schema: schema(), logger });
    stores.push(relaxed);
    await relaxed.open();
    expect(lines.filter((line) => line.level === 'warn').map((line) => line.msg)).toEqual([
      'synchronous_commit is off: a flushed batch may be lost if the postgres server crashes',
    ]);
    const { logger: quiet, lines: none } = recordingLogger();
    const durable = store(schema(), { logger: quiet });
    await durable.open();
    expect(none.filter((line) => line.level === 'warn')).toEqual([]);
  });
});

describe('connection errors', () => {
  it('an unreachable server fails open() with STORE_UNAVAILABLE naming host and port, never the password', async () => {
    const unreachable = new PgStore({ connectionString: 'postgres://postgres:s3cret-pw@127.0.0.1:1/test' });
    const error = await rejectionOf(unreachable.open());
    expect(codeOf(error)).toBe('STORE_UNAVAILABLE');
    expect((error as Error).message).toMatch(/^cannot connect to postgres at 127\.0\.0\.1:1: .*ECONNREFUSED/);
    expect((error as Error).message).not.toContain('s3cret-pw');
    expect((error as Error).cause).toBeInstanceOf(Error);
    // Nothing is left open: close() is a no-op and the store may be opened again later.
    await unreachable.close();
  });

  it('an unknown role fails open() with STORE_UNAVAILABLE and the server reason', async () => {
    const url = new URL(testUrl);
    url.username = 'no_such_role_mqa';
    url.password = 'hunter2-secret';
    const error = await rejectionOf(new PgStore({ connectionString: url.toString() }).open());
    expect(codeOf(error)).toBe('STORE_UNAVAILABLE');
    expect((error as Error).message).toMatch(
      new RegExp(`^cannot connect to postgres at ${url.hostname}:${url.port || 5432}: .*no_such_role_mqa`),
    );
    expect((error as Error).message).not.toContain('hunter2-secret');
  });

  it('an unknown database fails open() with STORE_UNAVAILABLE', async () => {
    const url = new URL(testUrl);
    url.pathname = '/no_such_database_mqa';
    const error = await rejectionOf(new PgStore({ connectionString: url.toString() }).open());
    expect(codeOf(error)).toBe('STORE_UNAVAILABLE');
    expect((error as Error).message).toContain('no_such_database_mqa');
  });

  it('bad options throw at construction', () => {
    expect(() => new PgStore({ connectionString: '' })).toThrow(TypeError);
    expect(() => new PgStore({ connectionString: testUrl, schema: 'Bad-Name' })).toThrow(
      /schema "Bad-Name" is not a plain identifier/,
    );
    expect(() => new PgStore({ connectionString: testUrl, schema: 'x"; drop' })).toThrow(RangeError);
    expect(() => new PgStore({ connectionString: testUrl, pool: { max: 0 } })).toThrow(RangeError);
    expect(() => new PgStore({ connectionString: testUrl, flushIntervalMs: -1 })).toThrow(RangeError);
  });

  it('a store not opened yet rejects writes and flush with STORE_CLOSED', async () => {
    const unopened = store(schema());
    expect(() =>
      unopened.saveSession({
        clientId: 'c',
        protocolVersion: 4,
        sessionExpiryInterval: undefined,
        expiresAt: undefined,
        username: undefined,
      }),
    ).toThrow('postgres store is not open; call open() first');
    expect(codeOf(await rejectionOf(unopened.flush()))).toBe('STORE_CLOSED');
    expect(codeOf(await rejectionOf(unopened.findRetained('#')))).toBe('STORE_CLOSED');
  });
});
