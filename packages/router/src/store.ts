import type { Properties, QoS } from '@mqtt-adapt/codec';
import type { SubscriptionOptions } from './session.js';

/**
 * Persistence contract of the router. Every store (memory, SQLite, PostgreSQL) implements it
 * and passes the contract suite in `@mqtt-adapt/router/testing`.
 *
 * Writes are synchronous calls that append to the store's current batch; `flush()` makes every
 * write made before it durable (group commit: one transaction per batch) and resolves once it
 * is. The router sends an acknowledgement that promises durability (PUBACK/PUBREC, SUBACK,
 * CONNACK) only after the flush that covers its writes. A store that keeps nothing across
 * restarts (`durable: false`) may return `undefined` from `flush()`: acks then go out at once.
 *
 * Only persistent sessions (Clean Session 0, or 5.0 with a Session Expiry Interval above 0) are
 * stored. Stores keep `expiresAt` as given and never remove expired sessions themselves: the
 * router does, when it restores them or when their time comes.
 *
 * Rules every store follows (the contract suite checks them):
 * - Writes of one batch apply in call order (a delivery saved then deleted ends deleted; a
 *   session deleted then saved again starts empty).
 * - `saveSession` on an existing session replaces its record only: subscriptions, deliveries and
 *   inbound ids stay (beware `INSERT OR REPLACE` with cascading deletes).
 * - Writes naming a client id with no saved session, or an unknown `seq`, are ignored, never
 *   fail the batch.
 * - Saved keys are new: the router never saves a message id, or a delivery `(clientId, seq)`,
 *   that is stored (ids are allocated above `maxMessageId`, seqs above the session's highest;
 *   seqs start again only after `deleteSession`). So a store may drop a save together with the
 *   delete that follows it before their batch committed, writing neither: a delivery the
 *   subscriber acknowledged before the commit (and its message, once no delivery refers to it)
 *   then never reaches the database. The snapshot must be the same as if both had been written.
 * - A store may keep a message body with its only delivery instead of in a row of its own, as
 *   long as a delivery saved later that refers to the same message id still gets that body
 *   (across restarts too) after the first delivery is deleted.
 * - Message ids and `seq` may exceed 2^32: store them as 64-bit integers, return numbers.
 * - User and ACL writes (`saveUser`, `deleteUser`, `saveAclRule`, `deleteAclRule`) are durable when
 *   their promise resolves: no `flush()` is needed (a store may commit them with its current
 *   batch, but never resolves before they are committed). Each one also advances
 *   `authVersion()` in the same transaction.
 * - `saveAclRule` rejects with a `TypeError`, storing nothing, a rule whose `username` does not
 *   match its `subject` or whose `subject`/`action`/`permission` is not one of the union's values;
 *   `saveUser` one whose `username` or `passwordHash` is not a string.
 * - `findRetained` sees what has been flushed.
 * - Order of `sessions`, subscriptions, inbound ids and retained messages in a snapshot is not
 *   specified; deliveries come in `seq` order, `listUsers` by username and ACL rules in insertion
 *   order (a rule saved again under its id keeps its place).
 * - No write is made after `close()`; async calls then reject with `STORE_CLOSED`.
 */
export interface Store {
  /** Short name for logs: `memory`, `sqlite`, `postgres`. */
  readonly name: string;
  /** True when what `flush()` confirmed survives a crash of the process. */
  readonly durable: boolean;

  /** Opens the store (migrations included) and returns everything needed to resume. */
  open(): Promise<StoreSnapshot>;
  /** Makes every write so far durable. Rejects (with a `StoreError`) if it could not. */
  flush(): Promise<void> | undefined;
  /** Flushes and releases the store. */
  close(): Promise<void>;

  saveSession(session: SessionRecord): void;
  /** Removes the session with its subscriptions, deliveries and inbound QoS 2 ids. */
  deleteSession(clientId: string): void;

  saveSubscription(clientId: string, topicFilter: string, options: SubscriptionOptions): void;
  deleteSubscription(clientId: string, topicFilter: string): void;

  /** Stores a message body shared by deliveries; `message.id` is the router's id for it. */
  saveMessage(message: StoredMessage): void;
  /** Deletes a message body once no delivery refers to it (the router counts references). */
  deleteMessage(messageId: number): void;

  /** Appends an outbound delivery to a session's queue; `seq` orders a session's deliveries. */
  saveDelivery(clientId: string, delivery: DeliveryRecord): void;
  /** Records the packet id a queued delivery was sent with, or that its PUBREC came (QoS 2). */
  updateDelivery(clientId: string, seq: number, packetId: number, released: boolean): void;
  deleteDelivery(clientId: string, seq: number): void;

  /** Inbound QoS 2 packet ids acknowledged with PUBREC and awaiting PUBREL. */
  addInboundQos2(clientId: string, packetId: number): void;
  deleteInboundQos2(clientId: string, packetId: number): void;

  saveRetained(message: RetainedRecord): void;
  deleteRetained(topicName: string): void;
  /** Retained messages whose topic matches `topicFilter` (`+`, `#`, `$` rules apply). */
  findRetained(topicFilter: string): Promise<RetainedRecord[]>;

  /** The user named exactly `username` (case and Unicode form as given), or `undefined`. */
  getUser(username: string): Promise<UserRecord | undefined>;
  /**
   * Every user, ordered by username in Unicode code point order (the byte order of UTF-8:
   * SQLite's `BINARY`, PostgreSQL's `COLLATE "C"`), not by locale.
   */
  listUsers(): Promise<UserRecord[]>;
  /** Inserts the user, or replaces the one with the same username. */
  saveUser(user: UserRecord): Promise<void>;
  /** Removes the user; a username that is not stored is no error. */
  deleteUser(username: string): Promise<void>;
  /** ACL rules in the order they were added; a rule saved again under its id keeps its place. */
  listAclRules(): Promise<AclRule[]>;
  /** Inserts the rule at the end, or replaces the rule with the same `id` where it stands. */
  saveAclRule(rule: AclRule): Promise<void>;
  /** Removes the rule; an id that is not stored is no error. */
  deleteAclRule(id: string): Promise<void>;
  /**
   * A number that increases with every user or ACL write and delete (`saveUser`, `deleteUser`,
   * `saveAclRule`, `deleteAclRule`), made by this instance or by any other process using the same
   * database (SQLite file, PostgreSQL schema); other writes (sessions, messages, retained) leave it
   * alone. It survives restarts. A running broker polls it (about once a second: it is one
   * indexed read) and reloads users and rules when it differs from the value it loaded with.
   * Read it BEFORE reading users and rules: a write that lands in between then shows up as a new
   * version at the next poll instead of being missed.
   */
  authVersion(): Promise<number>;
}

export interface SessionRecord {
  readonly clientId: string;
  readonly protocolVersion: 3 | 4 | 5;
  /**
   * Seconds after disconnect before the session ends; `undefined` = never (3.1.1 Clean Session 0,
   * 5.0 0xFFFFFFFF). 0: the session ends when its connection closes, so a stored one was online
   * when the broker stopped and is removed at the next start.
   */
  readonly sessionExpiryInterval: number | undefined;
  /**
   * While the session is offline with a finite expiry: when it ends, in milliseconds since the
   * Unix epoch (wall clock, so it holds across restarts). `undefined` while it is online or
   * never expires.
   */
  readonly expiresAt: number | undefined;
  /**
   * User name of the session's last connection (`undefined`: it connected without one), so that
   * deliveries to a persistent session restored after a restart are authorized for that user.
   */
  readonly username: string | undefined;
}

export interface StoredMessage {
  /** Unique among the store's messages; the router allocates ids above `StoreSnapshot.maxMessageId`. */
  readonly id: number;
  readonly topicName: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly properties: Properties | undefined;
}

export interface DeliveryRecord {
  /** Position in the session's queue, increasing; unique per session. */
  readonly seq: number;
  readonly messageId: number;
  /** QoS of this delivery (≤ the message's). */
  readonly qos: 1 | 2;
  readonly retain: boolean;
  /** Set once sent; re-sent with DUP and this id on reconnect. */
  readonly packetId: number | undefined;
  /** QoS 2 after PUBREC: PUBREL is re-sent instead of the PUBLISH. */
  readonly released: boolean;
}

export interface RetainedRecord {
  readonly topicName: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly properties: Properties | undefined;
}

export interface StoredSubscription {
  readonly topicFilter: string;
  readonly options: SubscriptionOptions;
}

export interface SessionSnapshot {
  readonly session: SessionRecord;
  readonly subscriptions: StoredSubscription[];
  /** In `seq` order, each with its message. */
  readonly deliveries: Array<DeliveryRecord & { readonly message: StoredMessage }>;
  readonly inboundQos2: number[];
}

export interface StoreSnapshot {
  readonly sessions: SessionSnapshot[];
  readonly retained: RetainedRecord[];
  /** Highest message id in the store (0 when empty), so new ids never collide. */
  readonly maxMessageId: number;
}

/**
 * A user for password authentication. Never a password itself: `passwordHash` is a
 * self-describing hash string, opaque to the store (stored and returned exactly, never parsed),
 * naming its algorithm and carrying its parameters and salt, so that each user keeps the
 * parameters it was hashed with and they can be raised later. Examples:
 * - a PHC string, as `apps/broker` writes: `$scrypt$ln=17,r=8,p=1$<salt base64>$<hash base64>`;
 * - a Mosquitto `mosquitto_passwd` PBKDF2-SHA512 hash, imported as it is:
 *   `$7$101$<salt base64>$<hash base64>`.
 * Usernames are compared exactly (case- and Unicode-form-sensitive); `''` is a valid username.
 * Strings never contain U+0000 (PostgreSQL text cannot hold it).
 */
export interface UserRecord {
  readonly username: string;
  readonly passwordHash: string;
}

/** Whom an ACL rule applies to. */
export type AclSubject = 'user' | 'anonymous' | 'all';
/** What an ACL rule governs: PUBLISH, SUBSCRIBE (and so receiving), or both. */
export type AclAction = 'publish' | 'subscribe' | 'all';
export type AclPermission = 'allow' | 'deny';

/**
 * One ACL rule. The store keeps rules in order and does not interpret them; the broker decides
 * how rules combine.
 */
export interface AclRule {
  /** Unique; saving a rule with an existing id replaces that rule in place. */
  readonly id: string;
  /**
   * `user`: the connection authenticated as `username`; `anonymous`: a connection without a
   * username; `all`: every connection, anonymous ones included.
   */
  readonly subject: AclSubject;
  /** Set if and only if `subject === 'user'`. */
  readonly username: string | undefined;
  /** Topic filter; `%u` and `%c` stand for the username and the client id when checked. */
  readonly topicFilter: string;
  readonly action: AclAction;
  readonly permission: AclPermission;
}
