import type {
  AclRule,
  DeliveryRecord,
  RetainedRecord,
  SessionRecord,
  Store,
  StoredMessage,
  StoreSnapshot,
  SubscriptionOptions,
  UserRecord,
} from '@mqtt-adapt/router';
import { assertAclRule, assertUserRecord, filterLevelsMatch, StoreError } from '@mqtt-adapt/router';
import type Database from 'better-sqlite3';
import { GroupCommit } from './internal/group-commit.js';
import { loadSnapshot } from './internal/load-snapshot.js';
import { openDatabase } from './internal/open-database.js';
import { propertiesToJson } from './internal/properties-json.js';
import {
  type AclRuleRow,
  type RetainedRow,
  toAclRule,
  toRetainedRecord,
  toUserRecord,
  type UserRow,
} from './internal/rows.js';
import { prepareStatements, type Statements } from './internal/statements.js';
import { retainedScan } from './internal/topic-filter.js';
import { SCHEMA_VERSION } from './migrations/index.js';
import { type ResolvedSqliteStoreOptions, resolveOptions, type SqliteStoreOptions } from './options.js';

/** Counters since `open()`, for metrics. */
export interface SqliteStoreStats {
  /** Group-commit transactions committed. */
  readonly commits: number;
  /** Writes in those transactions (writes / commits = the batch size). */
  readonly writes: number;
  /** Transactions that failed and were rolled back (each rejected its `flush()`). */
  readonly failedCommits: number;
  /**
   * Deliveries deleted (acknowledged) before the commit of their save: neither write reached the
   * database. `cancelled / saveDelivery calls` is the share an online subscriber took in time.
   */
  readonly cancelled: number;
  /** Writes waiting for the next commit. */
  readonly pending: number;
}

/** The open database: everything that exists only between `open()` and `close()`. */
interface Connection {
  readonly db: Database.Database;
  readonly sql: Statements;
  readonly batch: GroupCommit;
}

const b = (value: boolean): number => (value ? 1 : 0);
/** The `meta` row every user and ACL write increments. */
const authVersionKey = 'auth_version';
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * The `Store` on SQLite (better-sqlite3), durable across `kill -9`: WAL journal, group commit
 * (every write of one event-loop turn, or of `flushIntervalMs`, in one transaction), versioned
 * migrations at `open()`. Write methods only queue; `flush()` resolves once the batch holding
 * every earlier write is committed.
 */
export class SqliteStore implements Store {
  readonly name = 'sqlite';
  readonly durable = true;
  /** The database file. */
  readonly path: string;
  private readonly options: ResolvedSqliteStoreOptions;
  private conn: Connection | undefined = undefined;
  private closed = false;
  private warnedDroppedWrite = false;

  constructor(options: SqliteStoreOptions) {
    this.options = resolveOptions(options);
    this.path = this.options.path;
  }

  get stats(): SqliteStoreStats {
    const batch = this.conn?.batch;
    if (batch === undefined) return { commits: 0, writes: 0, failedCommits: 0, cancelled: 0, pending: 0 };
    return { ...batch.stats, pending: batch.pending };
  }

  /** Opens the database (creating and migrating it as needed) and reads the snapshot. */
  async open(): Promise<StoreSnapshot> {
    let conn = this.conn;
    if (conn === undefined) {
      const { db, foundVersion } = openDatabase(this.options);
      conn = {
        db,
        sql: prepareStatements(db),
        batch: new GroupCommit(db, this.options.flushIntervalMs, this.options.logger, this.path),
      };
      this.conn = conn;
      this.closed = false;
      this.warnedDroppedWrite = false;
      this.options.logger.info(
        {
          path: this.path,
          schemaVersion: SCHEMA_VERSION,
          migratedFrom: foundVersion,
          synchronous: this.options.synchronous,
        },
        'sqlite store opened',
      );
    } else {
      conn.batch.commitPending();
    }
    try {
      const { snapshot, inline } = loadSnapshot(conn.db, this.options.logger);
      conn.batch.inline.reset(inline);
      return snapshot;
    } catch (cause) {
      throw new StoreError(
        'STORE_UNAVAILABLE',
        `cannot read sqlite database ${this.path}: ${messageOf(cause)}`,
        { cause },
      );
    }
  }

  flush(): Promise<void> | undefined {
    const conn = this.conn;
    if (conn === undefined) return Promise.reject(this.closedError());
    return conn.batch.flush();
  }

  /** Commits what is pending, then closes the database. Rejects if that last commit failed. */
  async close(): Promise<void> {
    const conn = this.conn;
    if (conn === undefined) {
      this.closed = true;
      return;
    }
    const failed = conn.batch.commitPending() ?? conn.batch.takeUnreported();
    this.conn = undefined;
    this.closed = true;
    try {
      conn.db.close();
    } catch (error) {
      this.options.logger.warn({ err: error, path: this.path }, 'closing sqlite database failed');
    }
    if (failed !== undefined) throw failed;
  }

  saveSession(session: SessionRecord): void {
    const c = this.writable('saveSession');
    if (c !== undefined)
      c.batch.add(
        c.sql.saveSession,
        session.clientId,
        session.protocolVersion,
        session.sessionExpiryInterval ?? null,
        session.username ?? null,
        session.expiresAt ?? null,
      );
  }

  deleteSession(clientId: string): void {
    const c = this.writable('deleteSession');
    if (c !== undefined) c.batch.add(c.sql.deleteSession, clientId);
  }

  saveSubscription(clientId: string, topicFilter: string, options: SubscriptionOptions): void {
    const c = this.writable('saveSubscription');
    if (c !== undefined)
      c.batch.add(
        c.sql.saveSubscription,
        topicFilter,
        options.qos,
        b(options.noLocal),
        b(options.retainAsPublished),
        options.retainHandling,
        options.subscriptionIdentifier ?? null,
        clientId,
      );
  }

  deleteSubscription(clientId: string, topicFilter: string): void {
    const c = this.writable('deleteSubscription');
    if (c !== undefined) c.batch.add(c.sql.deleteSubscription, clientId, topicFilter);
  }

  saveMessage(message: StoredMessage): void {
    this.writable('saveMessage')?.batch.saveMessage(message);
  }

  deleteMessage(messageId: number): void {
    this.writable('deleteMessage')?.batch.deleteMessage(messageId);
  }

  saveDelivery(clientId: string, delivery: DeliveryRecord): void {
    this.writable('saveDelivery')?.batch.saveDelivery(clientId, delivery);
  }

  updateDelivery(clientId: string, seq: number, packetId: number, released: boolean): void {
    this.writable('updateDelivery')?.batch.updateDelivery(clientId, seq, packetId, released);
  }

  deleteDelivery(clientId: string, seq: number): void {
    this.writable('deleteDelivery')?.batch.deleteDelivery(clientId, seq);
  }

  addInboundQos2(clientId: string, packetId: number): void {
    const c = this.writable('addInboundQos2');
    if (c !== undefined) c.batch.add(c.sql.addInboundQos2, packetId, clientId);
  }

  deleteInboundQos2(clientId: string, packetId: number): void {
    const c = this.writable('deleteInboundQos2');
    if (c !== undefined) c.batch.add(c.sql.deleteInboundQos2, clientId, packetId);
  }

  saveRetained(message: RetainedRecord): void {
    const c = this.writable('saveRetained');
    if (c !== undefined)
      c.batch.add(
        c.sql.saveRetained,
        message.topicName,
        message.payload,
        message.qos,
        propertiesToJson(message.properties),
      );
  }

  deleteRetained(topicName: string): void {
    const c = this.writable('deleteRetained');
    if (c !== undefined) c.batch.add(c.sql.deleteRetained, topicName);
  }

  async findRetained(topicFilter: string): Promise<RetainedRecord[]> {
    return this.read('findRetained', (sql) => {
      const filterLevels = topicFilter.split('/');
      const scan = retainedScan(filterLevels);
      const rows = (
        scan.kind === 'exact'
          ? sql.retainedOne.all(scan.topicName)
          : scan.kind === 'range'
            ? sql.retainedRange.all(scan.from, scan.to)
            : sql.retainedAll.all()
      ) as RetainedRow[];
      const found: RetainedRecord[] = [];
      for (const row of rows)
        if (filterLevelsMatch(filterLevels, row.topic_name)) found.push(toRetainedRecord(row));
      return found;
    });
  }

  async getUser(username: string): Promise<UserRecord | undefined> {
    return this.read('getUser', (sql) => {
      const row = sql.getUser.get(username) as UserRow | undefined;
      return row === undefined ? undefined : toUserRecord(row);
    });
  }

  async listUsers(): Promise<UserRecord[]> {
    return this.read('listUsers', (sql) => (sql.listUsers.all() as UserRow[]).map(toUserRecord));
  }

  async saveUser(user: UserRecord): Promise<void> {
    assertUserRecord(user);
    return this.authWrite((c) => c.batch.add(c.sql.saveUser, user.username, user.passwordHash));
  }

  async deleteUser(username: string): Promise<void> {
    return this.authWrite((c) => c.batch.add(c.sql.deleteUser, username));
  }

  async listAclRules(): Promise<AclRule[]> {
    return this.read('listAclRules', (sql) => (sql.listAclRules.all() as AclRuleRow[]).map(toAclRule));
  }

  async saveAclRule(rule: AclRule): Promise<void> {
    assertAclRule(rule);
    return this.authWrite((c) =>
      c.batch.add(
        c.sql.saveAclRule,
        rule.id,
        rule.subject,
        rule.username ?? null,
        rule.topicFilter,
        rule.action,
        rule.permission,
      ),
    );
  }

  async deleteAclRule(id: string): Promise<void> {
    return this.authWrite((c) => c.batch.add(c.sql.deleteAclRule, id));
  }

  /** One indexed read of the `meta` counter, after committing what is pending. */
  async authVersion(): Promise<number> {
    return this.read('authVersion', (sql) => sql.counter.get(authVersionKey) as number);
  }

  /**
   * A user or ACL write: it joins the current batch with the `auth_version` increment behind it
   * (one transaction), and resolves once that batch committed.
   */
  private authWrite(queue: (c: Connection) => void): Promise<void> {
    const c = this.conn;
    if (c === undefined) return Promise.reject(this.closedError());
    queue(c);
    c.batch.add(c.sql.bumpCounter, authVersionKey);
    return c.batch.pendingCommit();
  }

  /**
   * Runs a query after committing what is pending, so that it sees every earlier write. A
   * driver error becomes `STORE_UNAVAILABLE`; a closed store throws `STORE_CLOSED`.
   */
  private read<T>(method: string, query: (sql: Statements) => T): T {
    const c = this.conn;
    if (c === undefined) throw this.closedError();
    c.batch.commitPending();
    try {
      return query(c.sql);
    } catch (cause) {
      throw new StoreError(
        'STORE_UNAVAILABLE',
        `sqlite ${method} on ${this.path} failed: ${messageOf(cause)}`,
        {
          cause,
        },
      );
    }
  }

  private closedError(): StoreError {
    return new StoreError(
      'STORE_CLOSED',
      this.closed
        ? `sqlite store ${this.path} is closed`
        : `sqlite store ${this.path} is not open; call open() first`,
    );
  }

  /**
   * The connection to queue a write on, or `undefined`: a write on a closed (or not yet opened)
   * store is dropped, as nothing could make it durable; the next `flush()` rejects with
   * `STORE_CLOSED`. Logged once per close, not per write.
   */
  private writable(method: string): Connection | undefined {
    const c = this.conn;
    if (c === undefined && !this.warnedDroppedWrite) {
      this.warnedDroppedWrite = true;
      this.options.logger.warn({ path: this.path, method }, 'sqlite store is not open; dropping writes');
    }
    return c;
  }
}
