import pg from 'pg';

/** One node as the membership table shows it. */
export interface NodeRow {
  readonly nodeId: string;
  readonly startedAt: Date;
  /** Milliseconds since its last heartbeat, by the database's clock (no skew between nodes). */
  readonly heartbeatAgeMs: number;
  readonly clients: number;
  readonly interestVersion: number;
  /** Its filters; `undefined` when the caller already knew this `interestVersion`. */
  readonly interest: string[] | undefined;
  /** Frames it sent to / received from other nodes since it started. */
  readonly busSent: number;
  readonly busReceived: number;
  /** Set when it stopped cleanly (its row stays until a survivor adopted its sessions). */
  readonly leftAt: Date | undefined;
  /** The survivor that adopted its sessions; a retired row is no node any more. */
  readonly retiredBy: string | undefined;
}

/** What a node writes with each heartbeat. */
export interface Heartbeat {
  readonly clients: number;
  readonly busSent: number;
  readonly busReceived: number;
  /** Set when the interest changed since the last heartbeat written. */
  readonly interest: { readonly version: number; readonly filters: readonly string[] } | undefined;
}

/**
 * The cluster's membership table, `<schema>.cluster_nodes`, in the store's schema: one row per
 * node, upserted with each heartbeat. A node that stops marks its row left; a dead or left
 * node's row is retired by the survivor that adopted its sessions, and deleted an hour later
 * (or replaced when a node joins under that id again). Owned by the cluster code
 * (not a store-pg migration): the Store contract knows nothing of nodes, and a single node never
 * creates it. Times come from the database (`now()`), so nodes' clocks need not agree.
 */
export class Membership {
  private readonly table: string;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
  ) {
    // schema is validated by the config (lowercase identifier): safe to interpolate.
    this.table = `${schema}.cluster_nodes`;
  }

  static createPool(connectionString: string): pg.Pool {
    return new pg.Pool({ connectionString, max: 2, application_name: 'mqtt-adapt cluster' });
  }

  /** Creates the table if missing (the store's `open()` created the schema). */
  async ensureTable(): Promise<void> {
    await this.pool.query(`CREATE TABLE IF NOT EXISTS ${this.table} (
      node_id text PRIMARY KEY,
      started_at timestamptz NOT NULL DEFAULT now(),
      heartbeat_at timestamptz NOT NULL DEFAULT now(),
      clients integer NOT NULL DEFAULT 0,
      interest_version bigint NOT NULL DEFAULT 0,
      interest text[] NOT NULL DEFAULT '{}',
      bus_sent bigint NOT NULL DEFAULT 0,
      bus_received bigint NOT NULL DEFAULT 0
    )`);
    // Added after the first cluster release: a table created by it gains them here.
    await this.pool.query(`ALTER TABLE ${this.table} ADD COLUMN IF NOT EXISTS left_at timestamptz,
      ADD COLUMN IF NOT EXISTS retired_by text, ADD COLUMN IF NOT EXISTS retired_at timestamptz`);
  }

  /** Joining (a restarted node under the same id replaces its old row). */
  async join(nodeId: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.table} (node_id) VALUES ($1)
       ON CONFLICT (node_id) DO UPDATE SET started_at = now(), heartbeat_at = now(), clients = 0,
         interest_version = 0, interest = '{}', bus_sent = 0, bus_received = 0, left_at = NULL,
         retired_by = NULL, retired_at = NULL`,
      [nodeId],
    );
  }

  async heartbeat(nodeId: string, beat: Heartbeat): Promise<void> {
    const interest = beat.interest;
    await this.pool.query(
      `INSERT INTO ${this.table} (node_id, clients, bus_sent, bus_received, interest_version, interest)
       VALUES ($1, $2, $3, $4, coalesce($5::bigint, 0), coalesce($6::text[], '{}'))
       ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = now(), clients = $2, bus_sent = $3,
         bus_received = $4, left_at = NULL, retired_by = NULL, retired_at = NULL,
         interest_version = coalesce($5::bigint, ${this.table}.interest_version),
         interest = coalesce($6::text[], ${this.table}.interest)`,
      [
        nodeId,
        beat.clients,
        beat.busSent,
        beat.busReceived,
        interest?.version ?? null,
        interest?.filters ?? null,
      ],
    );
  }

  /**
   * Every node's row. `known` maps node ids to the interest version the caller holds: the
   * filters are sent only for nodes whose version differs (one small read per heartbeat).
   */
  async list(known: ReadonlyMap<string, number> = new Map()): Promise<NodeRow[]> {
    const { rows } = await this.pool.query<{
      node_id: string;
      started_at: Date;
      age_ms: string;
      clients: number;
      interest_version: string;
      interest: string[] | null;
      bus_sent: string;
      bus_received: string;
      left_at: Date | null;
      retired_by: string | null;
    }>(
      `SELECT n.node_id, n.started_at, n.clients, n.interest_version, n.bus_sent, n.bus_received,
         n.left_at, n.retired_by,
         (extract(epoch FROM now() - n.heartbeat_at) * 1000)::bigint AS age_ms,
         CASE WHEN k.version IS DISTINCT FROM n.interest_version THEN n.interest END AS interest
       FROM ${this.table} n
       LEFT JOIN unnest($1::text[], $2::bigint[]) AS k(node_id, version) USING (node_id)
       ORDER BY n.node_id`,
      [[...known.keys()], [...known.values()]],
    );
    return rows.map((row) => ({
      nodeId: row.node_id,
      startedAt: row.started_at,
      heartbeatAgeMs: Number(row.age_ms),
      clients: row.clients,
      interestVersion: Number(row.interest_version),
      interest: row.interest ?? undefined,
      busSent: Number(row.bus_sent),
      busReceived: Number(row.bus_received),
      leftAt: row.left_at ?? undefined,
      retiredBy: row.retired_by ?? undefined,
    }));
  }

  /** A clean stop: the row stays, marked left, until a survivor adopted this node's sessions. */
  async leave(nodeId: string): Promise<void> {
    await this.pool.query(`UPDATE ${this.table} SET left_at = now() WHERE node_id = $1`, [nodeId]);
  }

  /**
   * `by` adopted the sessions of `nodeIds`: their rows are retired (no node sends to them any
   * more), unless one came back meanwhile (its heartbeat is fresh again). Retired rows older than
   * an hour are deleted.
   */
  async retire(nodeIds: readonly string[], by: string, deadAfterMs: number): Promise<void> {
    await this.pool.query(
      `UPDATE ${this.table} SET retired_by = $2, retired_at = now()
       WHERE node_id = ANY($1::text[]) AND retired_by IS NULL
         AND (left_at IS NOT NULL OR heartbeat_at < now() - make_interval(secs => $3::float8 / 1000))`,
      [nodeIds, by, deadAfterMs],
    );
    await this.pool.query(`DELETE FROM ${this.table} WHERE retired_at < now() - interval '1 hour'`);
  }
}
