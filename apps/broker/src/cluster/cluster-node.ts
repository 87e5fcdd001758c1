import type { Broker, FanOutHook, Message } from '@mqtt-adapt/router';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import type { Logger } from 'pino';
import { BrokerAppError } from '../errors.js';
import { type BusMessage, decodeBusFrames, encodeBusFrame } from './bus-frame.js';
import { BusSender, type DurableRoutes } from './bus-sender.js';
import { type ClusterConfig, generateNodeId } from './cluster-config.js';
import type { ClusterStatus } from './cluster-status.js';
import { ClusterWills } from './cluster-wills.js';
import { DurableReceiver } from './durable-receiver.js';
import { LocalInterest } from './local-interest.js';
import { Membership, type NodeRow } from './membership.js';
import { MovedSessions } from './moved-sessions.js';
import { OwnershipAudit } from './ownership-audit.js';
import { RemoteInterest } from './remote-interest.js';
import { SessionAdoption } from './session-adoption.js';
import { SessionProvenance } from './session-provenance.js';
import { SessionTakeover } from './session-takeover.js';
import { SharedRouting } from './shared-routing.js';

/** NATS subjects of one cluster: scoped by the store's schema, so clusters can share a NATS. */
export function clusterSubjects(schema: string): {
  messages: (nodeId: string) => string;
  durable: (nodeId: string) => string;
  interest: string;
  takeover: (nodeId: string) => string;
} {
  const prefix = `mqtt-adapt.${schema}`;
  return {
    messages: (nodeId) => `${prefix}.msg.${nodeId}`,
    durable: (nodeId) => `${prefix}.durable.${nodeId}`,
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
 * nodes whose interest matches it, once per node: QoS 0 as one NATS core publish, QoS 1/2 in a
 * confirmed batch the publisher's acknowledgement waits for) and the receiver of the other
 * nodes' messages (`Broker.deliverRemote`). Keeps its interest announced (NATS, at once) and
 * stored (its membership row, each heartbeat), reads the others' each heartbeat, and adopts
 * the persistent sessions of nodes that died or left.
 */
export class ClusterNode implements FanOutHook, DurableRoutes {
  readonly nodeId: string;
  /** The router's `SessionOwnershipHook` and the store's fencing: one owner per client id. */
  readonly takeover: SessionTakeover;
  private readonly local: LocalInterest;
  private readonly remote = new RemoteInterest();
  private readonly subjects: ReturnType<typeof clusterSubjects>;
  private readonly targets: string[] = [];
  private readonly provenance: SessionProvenance;
  private readonly moved: MovedSessions;
  private readonly sender: BusSender;
  private receiver: DurableReceiver | undefined;
  private adoption: SessionAdoption | undefined;
  /** Which node serves each share group of a message (this one included). */
  private readonly shares: SharedRouting;
  /** The cluster's figures at the last heartbeat. */
  private figures = { nodesAlive: 1, nodesDead: 0, otherClients: 0 };
  /** Nodes with a row that is not retired (alive, or dead and not adopted yet): the ones sent to. */
  private present = new Map<string, number>();
  private nc: NatsConnection | undefined;
  private broker: Broker | undefined;
  private pool: pg.Pool | undefined;
  private membership: Membership | undefined;
  private wills: ClusterWills | undefined;
  /** Drops sessions other nodes took over while NATS (their notices) could not reach this node. */
  private audit: OwnershipAudit | undefined;
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
    this.shares = new SharedRouting(this.remote, this.nodeId);
    // Longer than re-sends on a gone node's behalf go on (they stop once its row is retired).
    this.provenance = new SessionProvenance(Math.max(60_000, 4 * config.deadAfterMs));
    // Long enough for the publishers' nodes to learn the new owner's interest (one NATS hop,
    // at most a heartbeat when the announcement was missed).
    this.moved = new MovedSessions(Math.max(2000, 3 * config.heartbeatMs));
    this.takeover = new SessionTakeover(
      this.nodeId,
      this.subjects.takeover,
      this.provenance,
      this.moved,
      log,
    );
    this.takeover.onHandOver((owner, clientId, messages) =>
      this.sender.handOver(
        owner,
        clientId,
        messages.map((message) => ({ frame: encodeBusFrame(message), topicName: message.topicName })),
      ),
    );
    this.sender = new BusSender(
      `${this.nodeId}/${Date.now()}`,
      this.subjects.durable,
      this.subjects.messages,
      config.deadAfterMs,
      this,
      log,
    );
  }

  routed(message: Message): Promise<void> | undefined {
    const nc = this.nc;
    // $SYS is per node: a node's figures stay on that node.
    if (nc === undefined || message.topicName.startsWith('$SYS/')) return undefined;
    const sharedTargets = this.shares.elsewhere(message);
    // A retained message goes to every node, interested or not: each keeps a retained index
    // for its later subscribers (the store row was written here).
    let count = message.retain
      ? this.remote.allNodes(this.targets)
      : this.remote.matchNodes(message.topicName, this.targets);
    if (sharedTargets !== undefined)
      for (const nodeId of sharedTargets.keys())
        if (!this.targets.includes(nodeId)) this.targets[count++] = nodeId;
    if (count === 0) return undefined;
    const frame = encodeBusFrame(message);
    this.busSent += count;
    const durable = message.qos > 0;
    // The same promise for every target and every message of this turn.
    let confirmed: Promise<void> | undefined;
    for (let i = 0; i < count; i++) {
      const target = this.targets[i]!;
      const shared = sharedTargets?.get(target);
      if (durable || shared !== undefined) {
        const promise = this.sender.add(target, frame, message.topicName, message.retain, durable, shared);
        if (durable) confirmed = promise;
      } else {
        this.sender.publishAtMostOnce(target, frame);
      }
    }
    return confirmed;
  }

  /** `FanOutHook.sharedHere`: whether this node's member of `sharedFilter` gets `message`. */
  sharedHere(sharedFilter: string, message: Message): boolean {
    return this.shares.here(sharedFilter, message);
  }

  /** `DurableRoutes`: the node whose member of `sharedFilter` gets `topicName` now. */
  sharedTarget(topicName: string, sharedFilter: string): string | undefined {
    return this.shares.target(topicName, sharedFilter);
  }

  /** This node's counters and the cluster's figures at the last heartbeat. */
  status(): ClusterStatus {
    return {
      nodeId: this.nodeId,
      nodesAlive: this.figures.nodesAlive,
      nodesDead: this.figures.nodesDead,
      clusterClients: this.figures.otherClients + (this.broker?.stats.connections ?? 0),
      busSent: this.busSent,
      busReceived: this.busReceived + (this.receiver?.received ?? 0),
      confirmed: this.sender.confirmed,
      batchesResent: this.sender.resent,
      batchesPending: this.sender.failedBatches,
      sessionsAdopted: this.adoption?.adoptedTotal ?? 0,
      sessionsDropped: this.takeover.droppedSessions,
    };
  }

  /** `DurableRoutes`: a node with a row that is not retired still gets what it is owed. */
  isPresent(nodeId: string, incarnation?: number): boolean {
    const startedAt = this.present.get(nodeId);
    return startedAt !== undefined && (incarnation === undefined || startedAt === incarnation);
  }

  /** `DurableRoutes`: when the node now under `nodeId` started (its membership row). */
  incarnationOf(nodeId: string): number | undefined {
    return this.present.get(nodeId);
  }

  /** `DurableRoutes`: the nodes whose interest matches now, and this one (it may have adopted some). */
  rerouteTargets(topicName: string, retain: boolean, out: string[]): number {
    let count = retain ? this.remote.allNodes(out) : this.remote.matchNodes(topicName, out);
    out[count++] = this.nodeId;
    return count;
  }

  filterAdded(topicFilter: string): void {
    this.local.add(topicFilter);
    if (topicFilter.startsWith('$share/')) this.remote.localShared(topicFilter, this.nodeId, true);
  }

  filterRemoved(topicFilter: string): void {
    this.local.remove(topicFilter);
    if (topicFilter.startsWith('$share/')) this.remote.localShared(topicFilter, this.nodeId, false);
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
        // A silent partition (no reset) is noticed within about deadAfterMs, not minutes: the
        // ownership audit runs while NATS is down.
        pingInterval: Math.max(500, Math.floor(this.config.deadAfterMs / 2)),
        maxPingOut: 2,
      });
    } catch (error) {
      throw new BrokerAppError(
        'BROKER_CLUSTER_UNAVAILABLE',
        `cluster: cannot connect to NATS at ${natsHost(this.config.natsUrl)}: ${(error as Error).message}; start NATS or pass --nats-url`,
        { cause: error },
      );
    }
    // Before watchNats: no status change may pass unseen.
    const claimStore = this.takeover.claimStore;
    if (claimStore !== undefined)
      this.audit = new OwnershipAudit(claimStore, broker, this.takeover, this.nodeId, this.log);
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
    if (claimStore !== undefined) {
      // Answers before the sender gives up (deadAfterMs): a slow share-group member means "retry".
      const sharedWaitMs = Math.floor(this.config.deadAfterMs * 0.8);
      const receiver = new DurableReceiver(
        this.nodeId,
        broker,
        () => claimStore.flush(),
        this.provenance,
        this.log,
        sharedWaitMs,
        this.moved,
      );
      this.receiver = receiver;
      this.nc.subscribe(this.subjects.durable(this.nodeId), {
        callback: (error, msg) => receiver.handle(error, msg),
      });
      this.adoption = new SessionAdoption(this.nodeId, claimStore, broker, this.takeover, this.log);
    }
    this.sender.start(this.nc);
    this.takeover.start(this.nc, broker);
    this.nc.subscribe(`${this.subjects.interest}.*`, {
      callback: (error, msg) => this.announced(error, msg),
    });
    await this.tick(true);
    await this.adoptAtStart();
    this.announce();
    this.timer = setInterval(() => void this.tick(), this.config.heartbeatMs);
    this.timer.unref();
    this.log.info(
      { nodeId: this.nodeId, otherNodes: this.remote.nodeIds.length, heartbeatMs: this.config.heartbeatMs },
      'cluster: joined',
    );
  }

  /**
   * Clean leave: nothing more is sent or received, pending publishes flushed, the row marked
   * left (a survivor adopts the persistent sessions this node owned, then retires the row).
   */
  async close(): Promise<void> {
    clearInterval(this.timer);
    const nc = this.nc;
    this.nc = undefined;
    this.sender.stop();
    this.takeover.stop();
    this.audit?.stop();
    if (nc !== undefined)
      await nc.drain().catch((error: unknown) => this.log.warn({ err: error }, 'cluster: nats drain failed'));
    await this.wills?.close();
    try {
      await this.membership?.leave(this.nodeId);
    } catch (error) {
      this.log.warn({ err: error }, 'cluster: could not mark this node left in the membership table');
    }
    await this.pool?.end();
  }

  private received(error: Error | null, msg: Msg): void {
    if (error !== null) {
      this.log.warn({ err: error }, 'cluster: message subscription failed');
      return;
    }
    let messages: BusMessage[];
    try {
      messages = decodeBusFrames(msg.data);
    } catch (failure) {
      this.log.warn(
        { err: failure, bytes: msg.data.length },
        'cluster: dropped frames from the bus that cannot be read',
      );
      return;
    }
    this.busReceived += messages.length;
    for (const message of messages) {
      try {
        this.broker?.deliverRemote(message);
      } catch (failure) {
        this.log.warn(
          { err: failure, topicName: message.topicName },
          'cluster: dropped a message from the bus that cannot be routed',
        );
      }
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
      await this.writeHeartbeat(membership);
      const rows = await this.readMembership(membership);
      const alive = [this.nodeId];
      const dead: string[] = [];
      const present = new Map<string, number>();
      let otherClients = 0;
      for (const row of rows) {
        if (row.nodeId === this.nodeId || row.retiredBy !== undefined) continue;
        present.set(row.nodeId, row.startedAt.getTime());
        // Its interest stays until its row is retired: what it is sent fails and is sent again,
        // on its behalf, once its sessions were adopted.
        if (row.interest !== undefined) this.remote.update(row.nodeId, row.interestVersion, row.interest);
        if (row.leftAt !== undefined || row.heartbeatAgeMs > this.config.deadAfterMs) {
          dead.push(row.nodeId);
          await this.takeWills(row.nodeId);
          continue;
        }
        this.lapsed.delete(row.nodeId);
        alive.push(row.nodeId);
        otherClients += row.clients;
      }
      this.figures = { nodesAlive: alive.length, nodesDead: dead.length, otherClients };
      // The first live node by id adopts the dead nodes' sessions: one adopter in the common
      // case; if views differ, the store's conditional claim keeps each session with one node.
      alive.sort();
      if (dead.length > 0 && alive[0] === this.nodeId) await this.adoptFrom(membership, alive, dead);
      for (const nodeId of this.remote.nodeIds) {
        if (present.has(nodeId)) continue;
        this.remote.removeNode(nodeId);
        this.log.warn(
          { nodeId },
          'cluster: node gone (its sessions adopted, or it left); no more messages are sent to it',
        );
      }
      this.present = present;
      this.sender.retry();
      this.provenance.prune();
      // Queries only while NATS is down or just back (takeover notices may have been missed).
      await this.audit?.maybeRun();
    } catch (error) {
      if (failFast) throw error;
      this.log.warn({ err: error }, 'cluster: heartbeat failed; retrying at the next one');
    } finally {
      this.ticking = false;
    }
  }

  /** Writes this node's row; its interest too when it changed since the last write. */
  private async writeHeartbeat(membership: Membership): Promise<void> {
    const version = this.local.version;
    const changed = version !== this.writtenVersion;
    await membership.heartbeat(this.nodeId, {
      clients: this.broker?.stats.connections ?? 0,
      busSent: this.busSent,
      // Core frames and the messages of confirmed batches.
      busReceived: this.busReceived + (this.receiver?.received ?? 0),
      interest: changed ? { version, filters: this.local.filters() } : undefined,
    });
    this.writtenVersion = version;
  }

  private async readMembership(membership: Membership): Promise<NodeRow[]> {
    const known = new Map<string, number>();
    for (const nodeId of this.remote.nodeIds) known.set(nodeId, this.remote.versionOf(nodeId)!);
    return membership.list(known);
  }

  /**
   * Adopts what the dead nodes owned, makes the new interest known (NATS and this node's row),
   * and only then retires their rows: a node that sees a row retired already reads, in the same
   * query, the interest that re-sends on its behalf must reach.
   */
  private async adoptFrom(
    membership: Membership,
    alive: readonly string[],
    dead: readonly string[],
  ): Promise<void> {
    const adoption = this.adoption;
    if (adoption === undefined) return;
    const round = await adoption.adopt(alive);
    if (round.adopted > 0) {
      this.announce();
      await this.writeHeartbeat(membership);
    }
    if (!round.more) await membership.retire(dead, this.nodeId, this.config.deadAfterMs);
  }

  /**
   * At start, before any client: the sessions this node id owned before a restart, and any other
   * orphan (owned by no live node), are installed here so they queue again.
   */
  private async adoptAtStart(): Promise<void> {
    const adoption = this.adoption;
    if (adoption === undefined) return;
    // Dead nodes not retired yet count as alive here: the first live node adopts theirs.
    const alive = [...this.present.keys()];
    for (;;) {
      const round = await adoption.adopt(alive);
      if (!round.more || round.adopted === 0) break;
    }
    await this.writeHeartbeat(this.membership!);
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
        this.audit?.natsStatus(status.type);
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
