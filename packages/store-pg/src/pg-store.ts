import type { QoS } from '@mqtt-adapt/codec';
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
import {
  assertAclRule,
  assertUserRecord,
  filterLevelsMatch,
  isStoreError,
  StoreError,
} from '@mqtt-adapt/router';
import type { PoolClient } from 'pg';
import type { Batch } from './internal/batch.js';
import { claimSession, type SessionClaim } from './internal/claim.js';
import { describeTarget } from './internal/connection.js';
import { Database } from './internal/database.js';
import { Fence } from './internal/fence.js';
import { GroupCommit } from './internal/group-commit.js';
import { decodeProperties } from './internal/json.js';
import { migrate } from './internal/migrate.js';
import type { MessageKey } from './internal/plan.js';
import type { LoadedSnapshot } from './internal/snapshot.js';
import { loadRetainedOnly, loadSnapshot } from './internal/snapshot.js';
import type { Sql } from './internal/sql.js';
import { buildSql } from './internal/sql.js';
import { retainedQuery } from './internal/topic-filter.js';
import { migrations } from './migrations/index.js';
import type { PgStoreOptions, ResolvedPgStoreOptions } from './options.js';
import { resolveOptions } from './options.js';

type State = 'new' | 'open' | 'closing' | 'closed';

/**
 * The `Store` contract on PostgreSQL. Writes collect in a batch committed in one transaction
 * per event-loop turn (group commit); `flush()` resolves once the batch holding every write so
 * far has committed, with `synchronous_commit` as the server has it (on by default: durable).
 */
export class PgStore implements Store {
  readonly name = 'postgres';
  readonly durable = true;
  /** The schema holding the tables (for a second instance on the same data). */
  readonly schema: string;
  private readonly options: ResolvedPgStoreOptions;
  private readonly sql: Sql;
  private readonly target: string;
  private state: State = 'new';
  private db: Database | undefined = undefined;
  private commits: GroupCommit | undefined = undefined;
  /** This instance's id in `messages.epoch`; new router message ids are stored under it. */
  private epoch = 0;
  /** Router ids of the messages stored before this open, to their table keys. */
  private messageKeys = new Map<number, MessageKey>();
  private readonly keyOf = (messageId: number): MessageKey =>
    this.messageKeys.get(messageId) ?? { epoch: this.epoch, id: messageId };
  /** Cluster mode (`options.fencing`): the client ids this store claimed; undefined otherwise. */
  private readonly fence: Fence | undefined;
  /** Router ids of claimed messages count down from -1: the router's count up from 1. */
  private lastClaimedId = 0;
  private readonly allocateClaimedId = (): number => --this.lastClaimedId;

  constructor(options: PgStoreOptions) {
    this.options = resolveOptions(options);
    this.schema = this.options.schema;
    this.sql = buildSql(this.schema);
    this.target = describeTarget(this.options.connectionString);
    const fencing = this.options.fencing;
    this.fence =
      fencing === undefined ? undefined : new Fence(fencing.nodeId, fencing.onFenced, this.options.logger);
  }

  /**
   * Connects, migrates the schema (under an advisory lock, so nodes starting together are
   * safe) and reads everything. Rejects with `STORE_UNAVAILABLE` when the server cannot be
   * reached or read, `STORE_SCHEMA_TOO_NEW` when a newer package migrated the schema.
   */
  async open(): Promise<StoreSnapshot> {
    if (this.state === 'closing') throw new StoreError('STORE_CLOSED', 'postgres store is closing');
    const reopening = this.db !== undefined;
    if (this.commits?.pending === true) await this.commits.flushNow();
    const db = this.db ?? this.createDatabase();
    const client = await db.connectOnce().catch(async (error: unknown) => {
      if (!reopening) await this.dropDatabase();
      throw error;
    });
    let loaded: LoadedSnapshot;
    let epoch: number;
    try {
      await migrate(client, this.schema, migrations, this.options.logger);
      epoch = await this.startEpoch(client);
      // Fenced (cluster mode): no session is served before it is claimed.
      loaded =
        this.fence === undefined
          ? await loadSnapshot(client, this.sql, this.options.logger)
          : await loadRetainedOnly(client, this.sql);
    } catch (error) {
      db.release(client, error);
      if (!reopening) await this.dropDatabase();
      if (isStoreError(error)) throw error;
      throw new StoreError(
        'STORE_UNAVAILABLE',
        `cannot read postgres schema "${this.schema}" at ${this.target}: ${db.describe(error)}`,
        { cause: error },
      );
    }
    db.release(client);
    this.epoch = epoch;
    this.messageKeys = loaded.messageKeys;
    this.fence?.owned.clear();
    this.commits ??= new GroupCommit(
      db,
      this.sql,
      this.keyOf,
      this.options.flushIntervalMs,
      this.options.logger,
      this.fence,
    );
    this.commits.inline.reset(loaded.inline);
    this.state = 'open';
    const { sessions, retained } = loaded.snapshot;
    this.options.logger.info(
      { schema: this.schema, target: this.target, sessions: sessions.length, retained: retained.length },
      'postgres store open',
    );
    return loaded.snapshot;
  }

  /**
   * Cluster mode (needs `options.experimental_fencing`): makes this node the owner of `clientId` with the
   * next epoch, atomically, and returns its stored session as it is now. From then on writes for
   * it from any other holder of an older epoch are refused by the database; this store's own
   * writes for it pass until another node claims it (then `fencing.onFenced` is called). Writes
   * of this store still pending are committed first. Rejects with `STORE_UNAVAILABLE` when the
   * database cannot be reached (nothing claimed), `TypeError` without `fencing`.
   */
  async experimental_claimSession(clientId: string): Promise<SessionClaim> {
    return (await this.claim(clientId, undefined))!;
  }

  /**
   * Cluster mode: `experimental_claimSession`, but only while one of `fromNodes` owns `clientId`
   * (a dead or departed node's session, adopted by a survivor); `undefined` when another node
   * owns it now (e.g. a survivor adopted it first, or its client reconnected elsewhere).
   */
  async experimental_adoptSession(
    clientId: string,
    fromNodes: readonly string[],
  ): Promise<SessionClaim | undefined> {
    return this.claim(clientId, fromNodes);
  }

  /**
   * Cluster mode: stored sessions (at most `limit`) whose owner is none of `aliveNodes`, with
   * that owner: what survivors adopt when a node died or left.
   */
  async experimental_orphanedSessions(
    aliveNodes: readonly string[],
    limit = 1000,
  ): Promise<Array<{ clientId: string; ownerNode: string }>> {
    const db = this.readable();
    const result = await db.query({ text: this.sql.ownersOrphaned, values: [aliveNodes, limit] });
    return result.rows.map((row) => ({
      clientId: row.client_id as string,
      ownerNode: row.owner_node as string,
    }));
  }

  /**
   * Cluster mode: whether this store holds writes for `clientId`'s session not committed yet
   * (waiting, or in the transaction committing now): what another node's claim may not have
   * seen.
   */
  experimental_hasUnflushedWrites(clientId: string): boolean {
    return this.commits?.hasWritesFor(clientId) ?? false;
  }

  /** Cluster mode: the current owner and epoch of each of `clientIds` that was ever claimed. */
  async experimental_sessionOwners(
    clientIds: readonly string[],
  ): Promise<Map<string, { ownerNode: string; epoch: number }>> {
    const db = this.readable();
    const result = await db.query({ text: this.sql.ownersOf, values: [clientIds] });
    const owners = new Map<string, { ownerNode: string; epoch: number }>();
    for (const row of result.rows)
      owners.set(row.client_id as string, {
        ownerNode: row.owner_node as string,
        epoch: Number(row.owner_epoch),
      });
    return owners;
  }

  private async claim(
    clientId: string,
    fromNodes: readonly string[] | undefined,
  ): Promise<SessionClaim | undefined> {
    const fence = this.fence;
    if (fence === undefined) {
      throw new TypeError(
        'claiming sessions needs the experimental_fencing option (cluster mode): new PgStore({ experimental_fencing: { nodeId } })',
      );
    }
    const db = this.readable();
    await this.settlePending();
    const client = await db.acquire(); // rejects with STORE_UNAVAILABLE after its retries
    try {
      const result = await claimSession(
        client,
        this.sql,
        clientId,
        fence.nodeId,
        this.epoch,
        this.allocateClaimedId,
        this.options.logger,
        fromNodes,
      );
      db.release(client);
      if (result === undefined) return undefined;
      fence.owned.set(clientId, result.claim.epoch);
      this.commits?.inline.adopt(result.inline);
      return result.claim;
    } catch (error) {
      db.release(client, error);
      if (isStoreError(error)) throw error;
      throw new StoreError(
        'STORE_UNAVAILABLE',
        `cannot claim session "${clientId}" in postgres schema "${this.schema}": ${db.describe(error)}`,
        { cause: error },
      );
    }
  }

  flush(): Promise<void> {
    if (this.state === 'new' || this.state === 'closed' || this.commits === undefined) {
      return Promise.reject(this.closedError());
    }
    return this.commits.flush();
  }

  /** Commits what is pending (writes made meanwhile included), then ends the pool. */
  async close(): Promise<void> {
    if (this.state !== 'open') {
      if (this.state === 'new') this.state = 'closed';
      return;
    }
    this.state = 'closing';
    let failure: unknown;
    const commits = this.commits;
    try {
      while (commits?.pending === true) await commits.flushNow();
    } catch (error) {
      failure = error;
      await commits?.idle();
    }
    this.state = 'closed';
    await this.dropDatabase();
    if (failure !== undefined) throw failure;
  }

  /**
   * Ends the pool at once, discarding writes not yet committing (what a crash leaves behind);
   * their `flush()` promises reject with `STORE_CLOSED`. A commit already in flight completes.
   */
  async abort(): Promise<void> {
    if (this.state !== 'open' && this.state !== 'closing') return;
    this.state = 'closed';
    const dropped = this.commits?.discard(
      new StoreError('STORE_CLOSED', 'postgres store was aborted before this batch committed'),
    );
    if (dropped !== undefined && dropped > 0) {
      this.options.logger.warn(
        { schema: this.schema, writes: dropped },
        'postgres store aborted; writes dropped',
      );
    }
    await this.dropDatabase();
  }

  saveSession(session: SessionRecord): void {
    this.batch().saveSession(session);
  }

  deleteSession(clientId: string): void {
    this.batch().deleteSession(clientId);
  }

  saveSubscription(clientId: string, topicFilter: string, options: SubscriptionOptions): void {
    this.batch().saveSubscription(clientId, topicFilter, options);
  }

  deleteSubscription(clientId: string, topicFilter: string): void {
    this.batch().deleteSubscription(clientId, topicFilter);
  }

  saveMessage(message: StoredMessage): void {
    this.batch().saveMessage(message);
  }

  deleteMessage(messageId: number): void {
    this.batch().deleteMessage(messageId);
  }

  saveDelivery(clientId: string, delivery: DeliveryRecord): void {
    this.batch().saveDelivery(clientId, delivery);
  }

  updateDelivery(clientId: string, seq: number, packetId: number, released: boolean): void {
    this.batch().updateDelivery(clientId, seq, packetId, released);
  }

  deleteDelivery(clientId: string, seq: number): void {
    this.batch().deleteDelivery(clientId, seq);
  }

  addInboundQos2(clientId: string, packetId: number): void {
    this.batch().addInboundQos2(clientId, packetId);
  }

  deleteInboundQos2(clientId: string, packetId: number): void {
    this.batch().deleteInboundQos2(clientId, packetId);
  }

  saveRetained(message: RetainedRecord): void {
    // An empty payload clears the topic's retained message [MQTT-3.3.1-6].
    if (message.payload.length === 0) this.batch().deleteRetained(message.topicName);
    else this.batch().saveRetained(message);
  }

  deleteRetained(topicName: string): void {
    this.batch().deleteRetained(topicName);
  }

  /**
   * Retained messages matching `topicFilter`: PostgreSQL narrows by the literal prefix before
   * the first wildcard (`LIKE 'prefix%'` on the primary key), the exact MQTT match runs here.
   * Writes still pending are committed first, so a store reads its own writes.
   */
  async findRetained(topicFilter: string): Promise<RetainedRecord[]> {
    const db = this.readable();
    await this.settlePending();
    const query = retainedQuery(topicFilter);
    const result =
      query.kind === 'exact'
        ? await db.query({ text: this.sql.retainedExact, values: [query.topicName] })
        : query.kind === 'prefix'
          ? await db.query({ text: this.sql.retainedPrefix, values: [query.pattern] })
          : await db.query({ text: this.sql.retainedAll });
    const levels = topicFilter.split('/');
    const out: RetainedRecord[] = [];
    for (const row of result.rows) {
      const topicName = row.topic_name as string;
      if (!filterLevelsMatch(levels, topicName)) continue;
      out.push({
        topicName,
        payload: row.payload as Buffer,
        qos: row.qos as QoS,
        properties: decodeProperties(row.properties),
      });
    }
    return out;
  }

  async getUser(username: string): Promise<UserRecord | undefined> {
    const db = this.readable();
    const result = await db.query({ name: 'mqa_user_get', text: this.sql.userGet, values: [username] });
    const row = result.rows[0];
    if (row === undefined) return undefined;
    return { username: row.username, passwordHash: row.password_hash };
  }

  async listUsers(): Promise<UserRecord[]> {
    const db = this.readable();
    const result = await db.query({ name: 'mqa_user_list', text: this.sql.userList });
    return result.rows.map((row) => ({ username: row.username, passwordHash: row.password_hash }));
  }

  /** Written at once (not batched), with the `auth_version` increment in the same statement. */
  async saveUser(user: UserRecord): Promise<void> {
    assertUserRecord(user);
    const db = this.readable();
    await db.query({
      name: 'mqa_user_upsert',
      text: this.sql.userUpsert,
      values: [user.username, user.passwordHash],
    });
  }

  async deleteUser(username: string): Promise<void> {
    const db = this.readable();
    await db.query({ name: 'mqa_user_delete', text: this.sql.userDelete, values: [username] });
  }

  async listAclRules(): Promise<AclRule[]> {
    const db = this.readable();
    const result = await db.query({ name: 'mqa_acl_list', text: this.sql.aclList });
    return result.rows.map((row) => ({
      id: row.id,
      subject: row.subject,
      username: row.username ?? undefined,
      topicFilter: row.topic_filter,
      action: row.action,
      permission: row.permission,
    }));
  }

  async saveAclRule(rule: AclRule): Promise<void> {
    assertAclRule(rule);
    const db = this.readable();
    await db.query({
      name: 'mqa_acl_upsert',
      text: this.sql.aclUpsert,
      values: [rule.id, rule.subject, rule.username ?? null, rule.topicFilter, rule.action, rule.permission],
    });
  }

  async deleteAclRule(id: string): Promise<void> {
    const db = this.readable();
    await db.query({ name: 'mqa_acl_delete', text: this.sql.aclDelete, values: [id] });
  }

  /** One primary-key read of the `meta` counter that every user and ACL write increments. */
  async authVersion(): Promise<number> {
    const db = this.readable();
    const result = await db.query({ name: 'mqa_auth_version', text: this.sql.authVersion });
    return Number(result.rows[0]?.value);
  }

  /** The batch to write to; writes are accepted while open and while closing. */
  private batch(): Batch {
    if ((this.state !== 'open' && this.state !== 'closing') || this.commits === undefined) {
      throw this.closedError();
    }
    return this.commits.current();
  }

  private readable(): Database {
    if (this.state !== 'open' || this.db === undefined) throw this.closedError();
    return this.db;
  }

  /** Waits for pending writes to commit; a failure is reported to their own waiters, not here. */
  private async settlePending(): Promise<void> {
    if (this.commits?.pending !== true) return;
    await this.commits.flush().then(undefined, (error: unknown) => {
      this.options.logger.debug({ err: error }, 'pending writes failed before a read');
    });
  }

  /** A new epoch for the messages this instance writes; warns if commits are not durable. */
  private async startEpoch(client: PoolClient): Promise<number> {
    const row = (await client.query(this.sql.nextEpoch)).rows[0] as
      | { epoch: number; synchronous_commit: string }
      | undefined;
    if (row?.synchronous_commit === 'off') {
      // The store never changes it; say once that the server trades durability for speed.
      this.options.logger.warn(
        { schema: this.schema, synchronousCommit: row.synchronous_commit },
        'synchronous_commit is off: a flushed batch may be lost if the postgres server crashes',
      );
    }
    return Number(row?.epoch);
  }

  private createDatabase(): Database {
    this.db = new Database({
      connectionString: this.options.connectionString,
      target: this.target,
      applicationName: this.options.applicationName,
      maxConnections: this.options.maxConnections,
      connectTimeoutMs: this.options.connectTimeoutMs,
      logger: this.options.logger,
    });
    return this.db;
  }

  private async dropDatabase(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    this.commits = undefined;
    await db?.end();
  }

  private closedError(): StoreError {
    return new StoreError(
      'STORE_CLOSED',
      this.state === 'new' ? 'postgres store is not open; call open() first' : 'postgres store is closed',
    );
  }
}
