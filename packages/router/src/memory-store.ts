import { StoreError } from './errors.js';
import { RetainedIndex } from './retained-index.js';
import type { SubscriptionOptions } from './session.js';
import type {
  AclRule,
  DeliveryRecord,
  RetainedRecord,
  SessionRecord,
  SessionSnapshot,
  Store,
  StoredMessage,
  StoreSnapshot,
  UserRecord,
} from './store.js';
import { assertAclRule, assertUserRecord } from './store-records.js';

interface MemorySession {
  record: SessionRecord;
  subscriptions: Map<string, SubscriptionOptions>;
  deliveries: Map<number, DeliveryRecord>;
  inboundQos2: Set<number>;
}

/**
 * The in-memory `Store`: keeps everything for the life of the process and promises nothing
 * across restarts (`durable: false`, `flush()` returns `undefined`). A second `open()` of the
 * same instance returns what it holds, which lets the contract suite exercise reloads.
 */
export class MemoryStore implements Store {
  readonly name = 'memory';
  readonly durable = false;
  private readonly sessions = new Map<string, MemorySession>();
  private readonly messages = new Map<number, StoredMessage>();
  private readonly retained = new RetainedIndex();
  private readonly users = new Map<string, UserRecord>();
  private readonly aclRules = new Map<string, AclRule>();
  /** `authVersion()`: one more for every user or ACL write. */
  private authWrites = 0;
  private closed = false;

  async open(): Promise<StoreSnapshot> {
    this.closed = false;
    let maxMessageId = 0;
    for (const id of this.messages.keys()) if (id > maxMessageId) maxMessageId = id;
    const sessions: SessionSnapshot[] = [];
    for (const session of this.sessions.values()) {
      sessions.push({
        session: session.record,
        subscriptions: [...session.subscriptions].map(([topicFilter, options]) => ({ topicFilter, options })),
        deliveries: [...session.deliveries.values()]
          .sort((a, b) => a.seq - b.seq)
          .map((delivery) => ({ ...delivery, message: this.message(delivery.messageId) })),
        inboundQos2: [...session.inboundQos2],
      });
    }
    const retained = [...this.retained].map(toRetainedRecord);
    return { sessions, retained, maxMessageId };
  }

  flush(): undefined {
    return undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  saveSession(record: SessionRecord): void {
    const existing = this.sessions.get(record.clientId);
    if (existing !== undefined) existing.record = record;
    else {
      this.sessions.set(record.clientId, {
        record,
        subscriptions: new Map(),
        deliveries: new Map(),
        inboundQos2: new Set(),
      });
    }
  }

  deleteSession(clientId: string): void {
    this.sessions.delete(clientId);
  }

  saveSubscription(clientId: string, topicFilter: string, options: SubscriptionOptions): void {
    this.session(clientId)?.subscriptions.set(topicFilter, options);
  }

  deleteSubscription(clientId: string, topicFilter: string): void {
    this.session(clientId)?.subscriptions.delete(topicFilter);
  }

  saveMessage(message: StoredMessage): void {
    this.messages.set(message.id, message);
  }

  deleteMessage(messageId: number): void {
    this.messages.delete(messageId);
  }

  saveDelivery(clientId: string, delivery: DeliveryRecord): void {
    this.session(clientId)?.deliveries.set(delivery.seq, delivery);
  }

  updateDelivery(clientId: string, seq: number, packetId: number, released: boolean): void {
    const deliveries = this.session(clientId)?.deliveries;
    const delivery = deliveries?.get(seq);
    if (deliveries !== undefined && delivery !== undefined)
      deliveries.set(seq, { ...delivery, packetId, released });
  }

  deleteDelivery(clientId: string, seq: number): void {
    this.session(clientId)?.deliveries.delete(seq);
  }

  addInboundQos2(clientId: string, packetId: number): void {
    this.session(clientId)?.inboundQos2.add(packetId);
  }

  deleteInboundQos2(clientId: string, packetId: number): void {
    this.session(clientId)?.inboundQos2.delete(packetId);
  }

  saveRetained(message: RetainedRecord): void {
    this.retained.set({ ...message, retain: true, publisherId: undefined });
  }

  deleteRetained(topicName: string): void {
    this.retained.delete(topicName);
  }

  async findRetained(topicFilter: string): Promise<RetainedRecord[]> {
    this.assertOpen();
    return this.retained.match(topicFilter).map(toRetainedRecord);
  }

  async getUser(username: string): Promise<UserRecord | undefined> {
    this.assertOpen();
    return this.users.get(username);
  }

  async listUsers(): Promise<UserRecord[]> {
    this.assertOpen();
    return [...this.users.values()].sort((a, b) => compareCodePoints(a.username, b.username));
  }

  async saveUser(user: UserRecord): Promise<void> {
    assertUserRecord(user);
    this.assertOpen();
    this.users.set(user.username, { username: user.username, passwordHash: user.passwordHash });
    this.authWrites++;
  }

  async deleteUser(username: string): Promise<void> {
    this.assertOpen();
    this.users.delete(username);
    this.authWrites++;
  }

  async listAclRules(): Promise<AclRule[]> {
    this.assertOpen();
    return [...this.aclRules.values()];
  }

  async saveAclRule(rule: AclRule): Promise<void> {
    assertAclRule(rule);
    this.assertOpen();
    this.aclRules.set(rule.id, {
      id: rule.id,
      subject: rule.subject,
      username: rule.username,
      topicFilter: rule.topicFilter,
      action: rule.action,
      permission: rule.permission,
    });
    this.authWrites++;
  }

  async deleteAclRule(id: string): Promise<void> {
    this.assertOpen();
    this.aclRules.delete(id);
    this.authWrites++;
  }

  async authVersion(): Promise<number> {
    this.assertOpen();
    return this.authWrites;
  }

  private session(clientId: string): MemorySession | undefined {
    return this.sessions.get(clientId);
  }

  private message(messageId: number): StoredMessage {
    const message = this.messages.get(messageId);
    if (message === undefined) {
      throw new StoreError(
        'STORE_UNAVAILABLE',
        `delivery refers to message ${messageId}, which is not stored`,
      );
    }
    return message;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('STORE_CLOSED', 'memory store is closed');
  }
}

function toRetainedRecord(message: {
  topicName: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  properties: RetainedRecord['properties'];
}): RetainedRecord {
  return {
    topicName: message.topicName,
    payload: message.payload,
    qos: message.qos,
    properties: message.properties,
  };
}

/** Unicode code point order (UTF-8 byte order), as SQLite `BINARY` and PostgreSQL `"C"` sort. */
function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
