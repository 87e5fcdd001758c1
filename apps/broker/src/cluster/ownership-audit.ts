import type { PgStore } from '@mqtt-adapt/store-pg';
import type { Logger } from 'pino';
import type { SessionTakeover } from './session-takeover.js';

/** What the audit needs of the router: who is connected now (`Broker.connectedClientIds`). */
export interface ConnectedClients {
  connectedClientIds(): string[];
}

export interface OwnershipAuditOptions {
  /** Client ids per `experimental_sessionOwners` query. Default 1000. */
  readonly idsPerQuery?: number;
  /** Client ids checked per run (one heartbeat); a larger node finishes its sweep over several. Default 10000. */
  readonly idsPerRun?: number;
}

/** One pass over the client ids connected when it began, possibly spread over several runs. */
interface Sweep {
  readonly clientIds: string[];
  next: number;
  /** `reconnects` when it began: only a sweep begun after the last reconnect settles it. */
  readonly generation: number;
}

/**
 * Takeover notices travel over NATS: a node cut off NATS misses them, and a session that writes
 * nothing (a QoS 0 subscriber, an idle client) is never fenced by the store either, so the node
 * would go on serving a client id another node took over. While NATS is not connected, each
 * heartbeat checks the owners of the locally connected client ids in the store and drops those
 * another node owns now; after a reconnect, one full sweep more (notices sent during the gap are
 * gone). Connected, it costs nothing: no query.
 */
export class OwnershipAudit {
  /** Connected client ids, with the connection's `ClientInfo` (a new object per connection). */
  private readonly idsPerQuery: number;
  private readonly idsPerRun: number;
  private isNatsConnected = true;
  /** A full sweep is owed since the last reconnect. */
  private isSweepOwed = false;
  private reconnects = 0;
  private sweep: Sweep | undefined;
  private isRunning = false;
  private stopped = false;
  private dropped = 0;

  constructor(
    private readonly store: Pick<PgStore, 'experimental_sessionOwners'>,
    private readonly broker: ConnectedClients,
    private readonly takeover: Pick<SessionTakeover, 'dropStale'>,
    private readonly nodeId: string,
    private readonly log: Logger,
    options: OwnershipAuditOptions = {},
  ) {
    this.idsPerQuery = positive('idsPerQuery', options.idsPerQuery ?? 1000);
    this.idsPerRun = positive('idsPerRun', options.idsPerRun ?? 10_000);
  }

  /** Feed of this node's NATS connection status (`NatsConnection.status()` event types). */
  natsStatus(type: string): void {
    if (type === 'reconnect') {
      this.isNatsConnected = true;
      this.isSweepOwed = true;
      this.reconnects++;
    } else if (
      type === 'disconnect' ||
      type === 'reconnecting' ||
      type === 'staleConnection' ||
      type === 'close'
    ) {
      this.isNatsConnected = false;
    }
  }

  /** Sessions dropped by audits so far. */
  get droppedSessions(): number {
    return this.dropped;
  }

  /** At each heartbeat: audits while NATS is down or a sweep is owed after a reconnect; never throws. */
  async maybeRun(): Promise<void> {
    if ((this.isNatsConnected && !this.isSweepOwed) || this.isRunning || this.stopped) return;
    this.isRunning = true;
    try {
      await this.run();
    } catch (error) {
      this.log.warn(
        { err: error, nodeId: this.nodeId },
        'cluster: ownership audit failed; retrying at the next heartbeat',
      );
    } finally {
      this.isRunning = false;
    }
  }

  /** No audit runs from now on (the node is leaving). */
  stop(): void {
    this.stopped = true;
    this.sweep = undefined;
  }

  /** Checks at most `idsPerRun` client ids of the current sweep, `idsPerQuery` per query. */
  private async run(): Promise<void> {
    const sweep = this.sweep ?? {
      clientIds: this.broker.connectedClientIds(),
      next: 0,
      generation: this.reconnects,
    };
    this.sweep = sweep;
    const end = Math.min(sweep.clientIds.length, sweep.next + this.idsPerRun);
    let checked = 0;
    let dropped = 0;
    const connected = new Set(this.broker.connectedClientIds());
    try {
      while (sweep.next < end) {
        const chunk: string[] = [];
        let next = sweep.next;
        for (; next < end && chunk.length < this.idsPerQuery; next++) {
          const clientId = sweep.clientIds[next]!;
          // Gone since the sweep began: nothing to check.
          if (connected.has(clientId)) chunk.push(clientId);
        }
        // A failed query leaves its chunk to the next run.
        if (chunk.length > 0) dropped += await this.check(chunk);
        checked += chunk.length;
        sweep.next = next;
      }
    } finally {
      this.dropped += dropped;
      if (dropped > 0) {
        this.log.warn(
          { nodeId: this.nodeId, checked, dropped, natsConnected: this.isNatsConnected },
          'cluster: dropped sessions another node took over (takeover notices missed)',
        );
      }
    }
    if (sweep.next >= sweep.clientIds.length) {
      this.sweep = undefined;
      if (this.isNatsConnected && sweep.generation === this.reconnects) this.isSweepOwed = false;
    }
  }

  /** One query: drops the client ids of `chunk` another node owns now; how many were held here. */
  private async check(chunk: readonly string[]): Promise<number> {
    const owners = await this.store.experimental_sessionOwners(chunk);
    let dropped = 0;
    for (const clientId of chunk) {
      const owner = owners.get(clientId);
      if (owner === undefined || owner.ownerNode === this.nodeId) continue;
      if (this.takeover.dropStale(clientId, owner.ownerNode, owner.epoch)) dropped++;
    }
    return dropped;
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`ownership audit ${name} ${value} must be a positive integer`);
  return value;
}
