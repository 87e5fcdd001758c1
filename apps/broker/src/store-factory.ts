import { sep } from 'node:path';
import { isStoreError, type Logger, MemoryStore, type Store, type StoreError } from '@mqtt-adapt/router';
import { PgStore, type PgStoreFencing } from '@mqtt-adapt/store-pg';
import { openSqliteStore, SQLITE_DATABASE_FILE } from '@mqtt-adapt/store-sqlite';
import type { BrokerConfig, StoreType } from './config.js';
import { BrokerAppError } from './errors.js';
import { redactSecrets, scrubPassword } from './redact.js';

/** How one kind of store is created and named in messages. */
interface StoreKind {
  /** `sqlite database`, as in "cannot open sqlite database <location>". */
  readonly what: string;
  /** The database file, or the URL with its password redacted. */
  location(config: BrokerConfig): string;
  /**
   * The store, not opened yet (`broker.open()` opens it). May throw a `StoreError`. `fencing`:
   * cluster mode (postgres only).
   */
  create(config: BrokerConfig, logger: Logger, fencing?: PgStoreFencing): Store;
  /** Prefixes of the store's own messages that restate what could not be opened. */
  restatements(config: BrokerConfig, store: Store | undefined): RegExp[];
}

const storeKinds: Readonly<Record<StoreType, StoreKind>> = {
  memory: {
    what: 'memory store',
    location: () => '(in memory)',
    create: () => new MemoryStore(),
    restatements: () => [],
  },
  sqlite: {
    what: 'sqlite database',
    location: (config) => sqliteDatabasePath(config.dataDir),
    create: (config, logger) =>
      openSqliteStore(config.dataDir, { synchronous: config.store.synchronous, logger }),
    restatements: (_config, store) => {
      const path = (store as { path?: unknown } | undefined)?.path;
      if (typeof path !== 'string') return [];
      const quoted = escapeRegExp(path);
      return [
        new RegExp(`^cannot (?:open|read) sqlite database ${quoted}: `),
        new RegExp(`^cannot open ${quoted}: `),
      ];
    },
  },
  postgres: {
    what: 'postgres database',
    location: (config) => redactSecrets(config.store.url ?? '(no URL)'),
    create: (config, logger, fencing) =>
      new PgStore({
        connectionString: config.store.url!,
        schema: config.store.schema,
        logger,
        ...(fencing ? { experimental_fencing: fencing } : {}),
      }),
    restatements: () => [/^cannot connect to postgres at \S+: /],
  },
};

/** `<dataDir>/mqtt-adapt.db` as the user wrote the directory (`./data/mqtt-adapt.db`). */
export function sqliteDatabasePath(dataDir: string): string {
  const trimmed = dataDir.length > 1 ? dataDir.replace(/[\\/]+$/, '') : dataDir;
  return trimmed.endsWith(sep)
    ? `${trimmed}${SQLITE_DATABASE_FILE}`
    : `${trimmed}${sep}${SQLITE_DATABASE_FILE}`;
}

/**
 * The one store factory: the store `config.store.type` names, configured from `config`, not
 * opened yet; `fencing` (cluster mode) is passed to a postgres store. A store that cannot even be created (the sqlite data directory cannot be made)
 * throws `BROKER_STORE_UNAVAILABLE`.
 */
export function createStore(config: BrokerConfig, logger: Logger, fencing?: PgStoreFencing): Store {
  try {
    return storeKinds[config.store.type].create(config, logger, fencing);
  } catch (error) {
    if (isStoreError(error)) throw storeUnavailable(config, error, undefined);
    throw error;
  }
}

/**
 * The one line the CLI prints when the store cannot be opened at startup, naming the store,
 * the file or URL (password redacted) and the cause:
 * `store: cannot open sqlite database ./data/mqtt-adapt.db: file is not a database (SQLITE_NOTADB)`.
 */
export function storeUnavailable(
  config: BrokerConfig,
  error: StoreError,
  store: Store | undefined,
): BrokerAppError {
  const kind = storeKinds[config.store.type];
  let reason = error.message;
  for (const prefix of kind.restatements(config, store)) reason = reason.replace(prefix, '');
  // The person starting the broker upgrades the broker, not one of its packages.
  reason = reason.replace(
    /upgrade (?:@mqtt-adapt\/store-(?:sqlite|pg)|the package)\b/,
    'upgrade @mqtt-adapt/broker',
  );
  const line = `store: cannot open ${kind.what} ${kind.location(config)}: ${reason}`;
  return new BrokerAppError('BROKER_STORE_UNAVAILABLE', oneLine(scrubPassword(line, config.store.url)), {
    cause: error,
  });
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
