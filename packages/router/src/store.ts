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
 * Only persistent sessions (Clean Session 0, or 5.0 with a session expiry) are stored.
 *
 * Rules every store follows (the contract suite checks them):
 * - Writes of one batch apply in call order (a delivery saved then deleted ends deleted; a
 *   session deleted then saved again starts empty).
 * - `saveSession` on an existing session replaces its record only: subscriptions, deliveries and
 *   inbound ids stay (beware `INSERT OR REPLACE` with cascading deletes).
 * - Writes naming a client id with no saved session, or an unknown `seq`, are ignored, never
 *   fail the batch.
 * - Message ids and `seq` may exceed 2^32: store them as 64-bit integers, return numbers.
 * - User and ACL writes are durable when their promise resolves (they are not batched).
 * - `findRetained` sees what has been flushed.
 * - Order of `sessions`, subscriptions, inbound ids and retained messages in a snapshot is not
 *   specified; deliveries come in `seq` order and ACL rules in insertion order (a rule saved
 *   again under its id keeps its place).
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

  /** Users for authentication (see `UserRecord`). */
  getUser(username: string): Promise<UserRecord | undefined>;
  saveUser(user: UserRecord): Promise<void>;
  deleteUser(username: string): Promise<void>;
  /** ACL rules in the order they were added. */
  listAclRules(): Promise<AclRule[]>;
  saveAclRule(rule: AclRule): Promise<void>;
  deleteAclRule(id: string): Promise<void>;
}

export interface SessionRecord {
  readonly clientId: string;
  readonly protocolVersion: 3 | 4 | 5;
  /** Seconds after disconnect before the session ends; `undefined` = never (3.1.1 Clean Session 0). */
  readonly sessionExpiryInterval: number | undefined;
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
 * A user for password authentication. `passwordHash` and `salt` are opaque to the store
 * (scrypt output in `apps/broker`); never store a password itself.
 */
export interface UserRecord {
  readonly username: string;
  readonly passwordHash: Buffer;
  readonly salt: Buffer;
}

export interface AclRule {
  readonly id: string;
  /** Username the rule applies to; `undefined` for everyone (anonymous included). */
  readonly username: string | undefined;
  /** Topic filter, `%c` and `%u` replaced by client id and username when checked. */
  readonly topicFilter: string;
  readonly access: 'read' | 'write' | 'readwrite' | 'deny';
}
