import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreError } from '@mqtt-adapt/router';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareCli } from '../src/cli-command.js';
import { parseCliArgs } from '../src/cli-options.js';
import { resolveConfig } from '../src/config.js';
import { loadConfig } from '../src/load-config.js';
import { helpText } from '../src/option-table.js';
import { REDACTED, redactSecrets, scrubPassword } from '../src/redact.js';
import { createStore, sqliteDatabasePath, storeUnavailable } from '../src/store-factory.js';
import { appErrorOf } from './errors-helper.js';

const dir = mkdtempSync(join(tmpdir(), 'mqtt-adapt-store-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const URL_WITH_PASSWORD = 'postgres://mqtt:s3cr3t-pw@db.local:5432/mqtt';

function load(argv: string[], env: NodeJS.ProcessEnv = {}) {
  return loadConfig(parseCliArgs(argv), env, dir).config;
}

describe('store config', () => {
  it('defaults to sqlite in ./data, synchronous normal', () => {
    expect(resolveConfig({}).store).toEqual({
      type: 'sqlite',
      url: undefined,
      schema: 'mqtt_adapt',
      synchronous: 'normal',
    });
  });

  it('has a flag, a variable and a config key for every store setting', () => {
    const fromFlags = load([
      '--store',
      'postgres',
      '--database-url',
      URL_WITH_PASSWORD,
      '--database-schema',
      'broker_1',
      '--sqlite-synchronous',
      'full',
    ]);
    expect(fromFlags.store).toEqual({
      type: 'postgres',
      url: URL_WITH_PASSWORD,
      schema: 'broker_1',
      synchronous: 'full',
    });
    const fromEnv = load([], {
      MQTT_ADAPT_STORE: 'memory',
      MQTT_ADAPT_DATABASE_URL: URL_WITH_PASSWORD,
      MQTT_ADAPT_DATABASE_SCHEMA: 'b',
      MQTT_ADAPT_SQLITE_SYNCHRONOUS: 'full',
    });
    expect(fromEnv.store).toEqual({
      type: 'memory',
      url: URL_WITH_PASSWORD,
      schema: 'b',
      synchronous: 'full',
    });
    const file = join(dir, 'store.yaml');
    writeFileSync(file, 'store:\n  type: postgres\n  url: postgres://a@h/db\n  schema: s\n');
    expect(load(['--config', file]).store).toMatchObject({ type: 'postgres', url: 'postgres://a@h/db' });
    expect(load(['--config', file, '--store', 'sqlite']).store.type).toBe('sqlite');
  });

  it.each([
    [{ store: { type: 'mysql' } }, 'config: store.type = "mysql" is not a store (memory, sqlite, postgres)'],
    [
      { store: { type: 'postgres' } },
      'config: store.type = "postgres" needs a database URL; pass --database-url or set DATABASE_URL (or store.url in the config file)',
    ],
    [
      { store: { type: 'postgres', url: 'mysql://root:hunter2@db/x' } },
      `config: store.url = "mysql://root:${REDACTED}@db/x" is not a postgres URL (postgres://user:password@host:5432/database)`,
    ],
    [
      { store: { synchronous: 'off' } },
      'config: store.synchronous = "off" is not a synchronous mode (normal, full)',
    ],
    [
      { store: { schema: 'Bad-Name' } },
      'config: store.schema = "Bad-Name" is not a schema name (lowercase letters, digits and _, at most 63, not starting with a digit)',
    ],
    [{ store: { typ: 'sqlite' } }, 'config: store.typ is not a known key; did you mean store.type?'],
    [
      { store: 'sqlite' },
      'config: store = "sqlite" is not a mapping (expected keys: type, url, schema, synchronous)',
    ],
  ])('rejects %j with one line', (input, message) => {
    const error = appErrorOf(() => resolveConfig(input));
    expect(error.code).toBe('BROKER_CONFIG_INVALID');
    expect(error.message).toBe(message);
    expect(error.message).not.toContain('hunter2');
  });

  it('names the flag or variable of a bad value, with the password redacted', () => {
    expect(appErrorOf(() => parseCliArgs(['--store', 'mysql'])).message).toBe(
      'config: --store = "mysql" is not a store (memory, sqlite, postgres)',
    );
    expect(appErrorOf(() => load([], { MQTT_ADAPT_STORE: 'redis' })).message).toBe(
      'config: MQTT_ADAPT_STORE = "redis" is not a store (memory, sqlite, postgres)',
    );
    const bad = appErrorOf(() => parseCliArgs(['--database-url', 'http://u:topsecret@h/']));
    expect(bad.message).toBe(
      `config: --database-url = "http://u:${REDACTED}@h/" is not a postgres URL (postgres://user:password@host:5432/database)`,
    );
    expect(appErrorOf(() => parseCliArgs(['--database-url'])).message).toBe(
      'config: --database-url needs a value, e.g. --database-url postgres://user:password@127.0.0.1:5432/mqtt',
    );
  });
});

describe('DATABASE_URL', () => {
  it('is the postgres URL when nothing else gives one', () => {
    expect(load(['--store', 'postgres'], { DATABASE_URL: URL_WITH_PASSWORD }).store.url).toBe(
      URL_WITH_PASSWORD,
    );
  });

  it('ranks below the flag, MQTT_ADAPT_DATABASE_URL and the config file', () => {
    const env = { DATABASE_URL: 'postgres://fallback@h/db' };
    expect(load(['--store', 'postgres', '--database-url', 'postgres://flag@h/db'], env).store.url).toBe(
      'postgres://flag@h/db',
    );
    expect(
      load(['--store', 'postgres'], { ...env, MQTT_ADAPT_DATABASE_URL: 'postgres://var@h/db' }).store.url,
    ).toBe('postgres://var@h/db');
    const file = join(dir, 'url.yaml');
    writeFileSync(file, 'store:\n  url: postgres://file@h/db\n');
    expect(load(['--config', file, '--store', 'postgres'], env).store.url).toBe('postgres://file@h/db');
  });

  it('is not read for the other stores, so a foreign DATABASE_URL does no harm', () => {
    const env = { DATABASE_URL: 'mysql://app:pw@h/db' };
    expect(load([], env).store).toMatchObject({ type: 'sqlite', url: undefined });
    expect(appErrorOf(() => load(['--store', 'postgres'], env)).message).toBe(
      `config: DATABASE_URL = "mysql://app:${REDACTED}@h/db" is not a postgres URL (postgres://user:password@host:5432/database)`,
    );
  });
});

describe('--print-config and --help', () => {
  it('redacts the database password wherever it came from', () => {
    for (const [argv, env] of [
      [['--store', 'postgres', '--database-url', URL_WITH_PASSWORD], {}],
      [['--store', 'postgres'], { DATABASE_URL: URL_WITH_PASSWORD }],
      [['--store', 'postgres'], { MQTT_ADAPT_DATABASE_URL: URL_WITH_PASSWORD }],
    ] as const) {
      const command = prepareCli(['--print-config', ...argv], env, dir);
      expect(command).toMatchObject({ kind: 'exit', exitCode: 0 });
      const stdout = (command as { stdout: string }).stdout;
      expect(stdout).not.toContain('s3cr3t-pw');
      expect(JSON.parse(stdout).store).toEqual({
        type: 'postgres',
        url: `postgres://mqtt:${REDACTED}@db.local:5432/mqtt`,
        schema: 'mqtt_adapt',
        synchronous: 'normal',
      });
    }
  });

  it('redacts a password given as a URL parameter', () => {
    expect(redactSecrets('postgres://h/db?sslmode=require&password=abc')).toBe(
      `postgres://h/db?sslmode=require&password=${REDACTED}`,
    );
    expect(redactSecrets('postgres://u:p@ss@h/db')).toBe(`postgres://u:${REDACTED}@h/db`);
    expect(scrubPassword('auth failed for p%40ss and p@ss', 'postgres://u:p%40ss@h/db')).toBe(
      `auth failed for ${REDACTED} and ${REDACTED}`,
    );
  });

  it('--help shows the store options, their defaults and DATABASE_URL', () => {
    const help = helpText('1.0.0');
    expect(help).toContain('--store <memory|sqlite|postgres>');
    expect(help).toContain('env MQTT_ADAPT_STORE, config store.type; default: sqlite');
    expect(help).toContain('env MQTT_ADAPT_DATABASE_URL, config store.url; default: DATABASE_URL, else none');
    expect(help).toContain('env MQTT_ADAPT_DATABASE_SCHEMA, config store.schema; default: mqtt_adapt');
    expect(help).toContain('env MQTT_ADAPT_SQLITE_SYNCHRONOUS, config store.synchronous; default: normal');
    expect(help).toContain('store unavailable');
  });
});

describe('store factory', () => {
  const silent = pino({ level: 'silent' });

  it('creates the store the config names, not opened', async () => {
    const dataDir = join(dir, 'factory', 'data');
    const sqlite = createStore(resolveConfig({ dataDir }), silent);
    expect(sqlite.name).toBe('sqlite');
    expect((sqlite as unknown as { path: string }).path).toBe(join(dataDir, 'mqtt-adapt.db'));
    const memory = createStore(resolveConfig({ store: { type: 'memory' } }), silent);
    expect([memory.name, memory.durable]).toEqual(['memory', false]);
    const pg = createStore(resolveConfig({ store: { type: 'postgres', url: URL_WITH_PASSWORD } }), silent);
    expect([pg.name, pg.durable]).toEqual(['postgres', true]);
    await Promise.all([sqlite.close(), memory.close(), pg.close()]);
  });

  it('writes the database path as the user wrote the directory', () => {
    expect(sqliteDatabasePath('./data')).toBe('./data/mqtt-adapt.db');
    expect(sqliteDatabasePath('/var/lib/mqtt/')).toBe('/var/lib/mqtt/mqtt-adapt.db');
    expect(sqliteDatabasePath('/')).toBe('/mqtt-adapt.db');
  });

  it('makes one line naming store, location and cause, password redacted', () => {
    const sqlite = resolveConfig({});
    const tooNew = new StoreError(
      'STORE_SCHEMA_TOO_NEW',
      'database schema version 7 is newer than this store supports (1); upgrade @mqtt-adapt/store-sqlite',
    );
    const error = storeUnavailable(sqlite, tooNew, undefined);
    expect(error.code).toBe('BROKER_STORE_UNAVAILABLE');
    expect(error.message).toBe(
      'store: cannot open sqlite database ./data/mqtt-adapt.db: database schema version 7 is newer than this store supports (1); upgrade @mqtt-adapt/broker',
    );
    expect(error.cause).toBe(tooNew);

    const pg = resolveConfig({ store: { type: 'postgres', url: URL_WITH_PASSWORD } });
    const refused = new StoreError(
      'STORE_UNAVAILABLE',
      'cannot connect to postgres at db.local:5432: password authentication failed\nfor s3cr3t-pw',
    );
    expect(storeUnavailable(pg, refused, undefined).message).toBe(
      `store: cannot open postgres database postgres://mqtt:${REDACTED}@db.local:5432/mqtt: password authentication failed for ${REDACTED}`,
    );
  });
});
