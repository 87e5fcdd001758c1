import type { Broker, ClientInfo, Message } from '@mqtt-adapt/router';
import type pg from 'pg';
import type { Logger } from 'pino';
import { decodeBusFrame, encodeBusFrame } from './bus-frame.js';

/**
 * The wills of this node's connected clients, in `<schema>.cluster_wills` (owned by the cluster
 * code, like `cluster_nodes`): a row per connected client with a will, written at its CONNECT
 * and deleted at the close of that connection, whatever happened to the will (discarded by a
 * clean DISCONNECT, published here, or scheduled here for its Will Delay Interval). A node whose
 * heartbeat lapsed still has rows: the survivors take them with one `DELETE ... RETURNING` each
 * (so exactly one survivor gets each will) and publish them. Writes run one after another in
 * event order, so a reconnect's row is never deleted by the close of the connection it replaced.
 */
export class ClusterWills {
  private readonly table: string;
  /** The connection each recorded row belongs to (`ClientInfo` is one object per connection). */
  private readonly connections = new WeakMap<ClientInfo, number>();
  private nextConnection = 0;
  private queue: Promise<void> = Promise.resolve();
  private broker: Broker | undefined;
  private readonly delayed = new Set<NodeJS.Timeout>();
  private published = 0;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {
    // schema is validated by the config (lowercase identifier): safe to interpolate.
    this.table = `${schema}.cluster_wills`;
  }

  async ensureTable(): Promise<void> {
    await this.pool.query(`CREATE TABLE IF NOT EXISTS ${this.table} (
      client_id text PRIMARY KEY,
      node_id text NOT NULL,
      connection bigint NOT NULL,
      will_delay_ms bigint NOT NULL DEFAULT 0,
      frame bytea NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now()
    )`);
    await this.pool.query(`CREATE INDEX IF NOT EXISTS cluster_wills_node_id ON ${this.table} (node_id)`);
  }

  /** Follows the broker's connections; the wills left by this node's previous run are published. */
  async start(broker: Broker): Promise<void> {
    this.broker = broker;
    broker.on('clientConnected', (client, _sessionPresent, will, willDelayMs) =>
      this.connected(client, will, willDelayMs),
    );
    broker.on('clientDisconnected', (client) => this.disconnected(client));
    // This node restarted under the same id before anyone saw it lapse: its clients died with it.
    await this.take(this.nodeId);
  }

  /** Waits for the pending writes (after the router closed) and cancels delayed wills not due. */
  async close(): Promise<void> {
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
    await this.queue;
  }

  get publishedWills(): number {
    return this.published;
  }

  /**
   * Takes the wills `nodeId` left (it lapsed) and publishes them here; another survivor running
   * the same statement gets none of them. A will with a Will Delay Interval is published that
   * long after it was taken (not after the client's connection was lost: that time is unknown).
   */
  async take(nodeId: string): Promise<number> {
    const { rows } = await this.pool.query<{ client_id: string; will_delay_ms: string; frame: Buffer }>(
      `DELETE FROM ${this.table} WHERE node_id = $1 RETURNING client_id, will_delay_ms, frame`,
      [nodeId],
    );
    for (const row of rows) {
      const delayMs = Number(row.will_delay_ms);
      if (delayMs <= 0) {
        this.publish(row.client_id, nodeId, row.frame);
        continue;
      }
      const timer = setTimeout(
        () => {
          this.delayed.delete(timer);
          this.publish(row.client_id, nodeId, row.frame);
        },
        Math.min(delayMs, 2_147_483_647),
      );
      timer.unref();
      this.delayed.add(timer);
    }
    return rows.length;
  }

  private publish(clientId: string, nodeId: string, frame: Buffer): void {
    try {
      this.broker?.publish(decodeBusFrame(frame));
      this.published++;
      this.log.info({ clientId, nodeId }, 'cluster: published the will of a client of a lapsed node');
    } catch (error) {
      this.log.warn({ err: error, clientId, nodeId }, 'cluster: could not publish a will of a lapsed node');
    }
  }

  private connected(client: ClientInfo, will: Message | undefined, willDelayMs: number): void {
    if (will === undefined) return;
    const connection = ++this.nextConnection;
    this.connections.set(client, connection);
    const frame = encodeBusFrame(will);
    this.enqueue(
      `INSERT INTO ${this.table} (client_id, node_id, connection, will_delay_ms, frame)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (client_id) DO UPDATE SET node_id = $2, connection = $3, will_delay_ms = $4,
         frame = $5, recorded_at = now()`,
      [client.clientId, this.nodeId, connection, willDelayMs, frame],
    );
  }

  private disconnected(client: ClientInfo): void {
    const connection = this.connections.get(client);
    if (connection === undefined) return;
    this.connections.delete(client);
    // Only this connection's row: a newer one (here or on another node) stays.
    this.enqueue(`DELETE FROM ${this.table} WHERE client_id = $1 AND node_id = $2 AND connection = $3`, [
      client.clientId,
      this.nodeId,
      connection,
    ]);
  }

  private enqueue(sql: string, values: unknown[]): void {
    this.queue = this.queue.then(
      () =>
        this.pool.query(sql, values).then(
          () => undefined,
          (error: unknown) => this.log.warn({ err: error }, 'cluster: could not record a will change'),
        ),
      () => undefined,
    );
  }
}
