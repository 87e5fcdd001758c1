import type { Broker, FanOutHook, Message } from '@mqtt-adapt/router';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import type { Logger } from 'pino';
import { BrokerAppError } from '../errors.js';
import { decodeBusFrame, encodeBusFrame } from './bus-frame.js';
import { type ClusterConfig, generateNodeId } from './cluster-config.js';
import { ClusterWills } from './cluster-wills.js';
import { LocalInterest } from './local-interest.js';
import { Membership } from './membership.js';
import { RemoteInterest } from './remote-interest.js';
import { SessionTakeover } from './session-takeover.js';

/** NATS subjects of one cluster: scoped by the store's schema, so clusters can share a NATS. */
export function clusterSubjects(schema: string): {
  messages: (nodeId: string) => string;
  interest: string;
  takeover: (nodeId: string) => string;
} {
  const prefix = `mqtt-adapt.${schema}`;
  return {
    messages: (nodeId) => `${prefix}.msg.${nodeId}`,
    interest: `${prefix}.interest`,
    takeover: (nodeId) => `${prefix}.takeover.${nodeId}`,
  };
}

interface InterestAnnouncement {
  readonly nodeId: string;
  readonly version: number;
  readonly filters: string[];
}

/**
 * One node of a cluster: the router's `FanOutHook` (forwards each message routed here to the
 * nodes whose interest matches it, once per node, as one NATS core publish) and the receiver of
 * the other nodes' messages (`Broker.deliverRemote`). Keeps its interest announced (NATS, at
 * once) and stored (its membership row, each heartbeat), and reads the others' each heartbeat.
 */
export class ClusterNode implements FanOutHook {
  readonly nodeId: string;
  /** The router's `SessionOwnershipHook` and the store's fencing: one owner per client id. */
  readonly takeover: SessionTakeover;
  private readonly local: LocalInterest;
  private readonly remote = new RemoteInterest();
  private readonly subjects: ReturnType<typeof clusterSubjects>;
  private readonly targets: string[] = [];
  private nc: NatsConnection | undefined;
  private broker: Broker | undefined;
  private pool: pg.Pool | undefined;
  private membership: Membership | undefined;
  private wills: ClusterWills | undefined;
  /** Lapsed nodes whose wills this node already tried to take (until they beat again). */
  private readonly lapsed = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private announceScheduled = false;
  private writtenVersion = -1;
  private busSent = 0;
  private busReceived = 0;

  constructor(
    private readonly config: ClusterConfig,
    private readonly store: { readonly url: string; readonly schema: string },
    private readonly log: Logger,
  ) {
    this.nodeId = config.nodeId ?? generateNodeId();
    // Versions grow across restarts under one node id: others ignore what is not newer.
    this.local = new LocalInterest(Date.now() * 1000, () => this.scheduleAnnounce());
    this.subjects = clusterSubjects(store.schema);
    this.takeover = new SessionTakeover(this.nodeId, this.subjects.takeover, log);
  }

  routed(message: Message): void {
    const nc = this.nc;
    // $SYS is per node (not built per cluster yet): a node's figures stay on that node.
    if (nc === undefined || message.topicName.startsWith('$SYS/')) return;
    // A retained message goes to every node, interested or not: each keeps a retained index
    // for its later subscribers (the store row was written here).
    const count = message.retain
      ? this.remote.allNodes(this.targets)
      : this.remote.matchNodes(message.topicName, this.targets);
    if (count === 0) return;
    const frame = encodeBusFrame(message);
    for (let i = 0; i < count; i++) nc.publish(this.subjects.messages(this.targets[i]!), frame);
    this.busSent += count;
  }

  filterAdded(topicFilter: string): void {
    this.local.add(topicFilter);
  }

  filterRemoved(topicFilter: string): void {
    this.local.remove(topicFilter);
  }

  /** Connects to NATS and PostgreSQL, joins, and learns the others' interest before returning. */
  async start(broker: Broker): Promise<void> {
    this.broker = broker;
    try {
      this.nc = await connect({
        servers: this.config.natsUrl,
        name: `mqtt-adapt ${this.nodeId}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        timeout: 5000,
      });
    } catch (error) {
      throw new BrokerAppError(
        'BROKER_CLUSTER_UNAVAILABLE',
        `cluster: cannot connect to NATS at ${natsHost(this.config.natsUrl)}: ${(error as Error).message}; start NATS or pass --nats-url`,
        { cause: error },
      );
    }
    this.watchNats(this.nc);
    this.pool = Membership.createPool(this.store.url);
    this.pool.on('error', (error) => this.log.warn({ err: error }, 'cluster: postgres connection lost'));
    this.membership = new Membership(this.pool, this.store.schema);
    await this.membership.ensureTable();
    await this.membership.join(this.nodeId);
    this.wills = new ClusterWills(this.pool, this.store.schema, this.nodeId, this.log);
    await this.wills.ensureTable();
    await this.wills.start(broker);
    this.nc.subscribe(this.subjects.messages(this.nodeId), {
      callback: (error, msg) => this.received(error, msg),
    });
    this.takeover.start(this.nc, broker);
    this.nc.subscribe(`${this.subjects.interest}.*`, {
      callback: (error, msg) => this.announced(error, msg),
    });
    await this.tick(true);
    this.announce();
    this.timer = setInterval(() => void this.tick(), this.config.heartbeatMs);
    this.timer.unref();
    this.log.info(
      { nodeId: this.nodeId, otherNodes: this.remote.nodeIds.length, heartbeatMs: this.config.heartbeatMs },
      'cluster: joined',
    );
  }

  /** Clean leave: nothing more is sent or received, pending publishes flushed, the row deleted. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    const nc = this.nc;
    this.nc = undefined;
    this.takeover.stop();
    if (nc !== undefined)
      await nc.drain().catch((error: unknown) => this.log.warn({ err: error }, 'cluster: nats drain failed'));
    await this.wills?.close();
    try {
      await this.membership?.leave(this.nodeId);
    } catch (error) {
      this.log.warn({ err: error }, 'cluster: could not remove this node from the membership table');
    }
    await this.pool?.end();
  }

  private received(error: Error | null, msg: Msg): void {
    if (error !== null) {
      this.log.warn({ err: error }, 'cluster: message subscription failed');
      return;
    }
    this.busReceived++;
    try {
      this.broker?.deliverRemote(decodeBusFrame(msg.data));
    } catch (failure) {
      this.log.warn(
        { err: failure, bytes: msg.data.length },
        'cluster: dropped a message from the bus that cannot be routed',
      );
    }
  }

  private announced(error: Error | null, msg: Msg): void {
    if (error !== null) return;
    try {
      const { nodeId, version, filters } = msg.json<InterestAnnouncement>();
      if (nodeId !== this.nodeId && typeof version === 'number' && Array.isArray(filters)) {
        this.remote.update(nodeId, version, filters);
      }
    } catch (failure) {
      this.log.warn({ err: failure }, 'cluster: ignored an interest announcement that is not valid JSON');
    }
  }

  /** Many subscriptions in one turn: one announcement after them. */
  private scheduleAnnounce(): void {
    if (this.nc === undefined || this.announceScheduled) return;
    this.announceScheduled = true;
    setImmediate(() => {
      this.announceScheduled = false;
      this.announce();
    });
  }

  private announce(): void {
    const announcement: InterestAnnouncement = {
      nodeId: this.nodeId,
      version: this.local.version,
      filters: this.local.filters(),
    };
    this.nc?.publish(`${this.subjects.interest}.${this.nodeId}`, JSON.stringify(announcement));
  }

  /** One heartbeat: write this node's row, read the others', forget lapsed and gone nodes. */
  private async tick(failFast = false): Promise<void> {
    const membership = this.membership;
    if (this.ticking || membership === undefined) return;
    this.ticking = true;
    try {
      const version = this.local.version;
      const changed = version !== this.writtenVersion;
      await membership.heartbeat(this.nodeId, {
        clients: this.broker?.stats.connections ?? 0,
        busSent: this.busSent,
        busReceived: this.busReceived,
        interest: changed ? { version, filters: this.local.filters() } : undefined,
      });
      this.writtenVersion = version;
      const known = new Map<string, number>();
      for (const nodeId of this.remote.nodeIds) known.set(nodeId, this.remote.versionOf(nodeId)!);
      const rows = await membership.list(known);
      const alive = new Set<string>();
      for (const row of rows) {
        if (row.nodeId === this.nodeId) continue;
        if (row.heartbeatAgeMs > this.config.deadAfterMs) {
          await this.takeWills(row.nodeId);
          continue;
        }
        this.lapsed.delete(row.nodeId);
        alive.add(row.nodeId);
        if (row.interest !== undefined) this.remote.update(row.nodeId, row.interestVersion, row.interest);
      }
      for (const nodeId of this.remote.nodeIds) {
        if (alive.has(nodeId)) continue;
        this.remote.removeNode(nodeId);
        this.log.warn({ nodeId }, 'cluster: node lapsed or left; no more messages are sent to it');
      }
    } catch (error) {
      if (failFast) throw error;
      this.log.warn({ err: error }, 'cluster: heartbeat failed; retrying at the next one');
    } finally {
      this.ticking = false;
    }
  }

  /** Once per lapse: the wills of a lapsed node's clients, published here if no survivor took them first. */
  private async takeWills(nodeId: string): Promise<void> {
    const wills = this.wills;
    if (wills === undefined || this.lapsed.has(nodeId)) return;
    const taken = await wills.take(nodeId);
    this.lapsed.add(nodeId);
    if (taken > 0) this.log.warn({ nodeId, wills: taken }, 'cluster: took the wills of a lapsed node');
  }

  private watchNats(nc: NatsConnection): void {
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'disconnect' || status.type === 'reconnect') {
          this.log.warn({ nodeId: this.nodeId }, `cluster: nats ${status.type}`);
        }
      }
    })();
  }
}

/** The host of a NATS URL, without credentials, for messages. */
function natsHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the configured URL';
  }
}
