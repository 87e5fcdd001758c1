import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { type DurableBatchHeader, encodeDurableBatch } from './bus-frame.js';
import type { DurableAnswer } from './durable-receiver.js';

/** One QoS 1/2 message on its way to one node. */
interface Entry {
  readonly seq: number;
  readonly frame: Buffer;
  readonly topicName: string;
  readonly retain: boolean;
  /** False for a QoS 0 message (riding along for order, or for a share group): never sent again. */
  readonly durable: boolean;
  /** Share groups (`$share/{group}/{filter}`) whose member on the target gets it. */
  readonly shared: readonly string[] | undefined;
}

interface Batch {
  readonly target: string;
  readonly onBehalfOf: string | undefined;
  /** Only the entries' share groups get them (re-sent to another member's node). */
  readonly sharedOnly: boolean;
  /** The target's start, as known when the batch was first sent to it. */
  incarnation?: number | undefined;
  /** Only these client ids' sessions get the messages (a lost session's messages, handed on). */
  readonly clients?: readonly string[];
  /** The target had no member online for these groups: pick again, not the same node. */
  readonly repick?: boolean;
  readonly entries: Entry[];
  bytes: number;
  /** Called once, when the target (or, for a gone target, every node it was re-sent to) confirmed. */
  readonly done: () => void;
}

/** The acknowledgements of one turn wait for one promise: the batches that turn sent. */
interface Turn {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  pending: number;
  sealed: boolean;
}

/** What the sender needs to know of the cluster when a batch must be sent again. */
export interface DurableRoutes {
  /**
   * Whether `nodeId` has a membership row that is not retired (alive, or lapsed and not yet
   * adopted), started at `incarnation` when given (a node restarted under its id is another one:
   * it does not hold what its previous run was sent).
   */
  isPresent(nodeId: string, incarnation?: number): boolean;
  /** When the node now under `nodeId` started; `undefined` when none is known. */
  incarnationOf(nodeId: string): number | undefined;
  /**
   * Nodes, this one included, that may hold sessions of a gone node now (they announced a
   * matching filter; a retained message: every node). Writes them into `out`, returns how many.
   */
  rerouteTargets(topicName: string, retain: boolean, out: string[]): number;
  /** The node, this one included, whose member of share group `sharedFilter` gets `topicName` now. */
  sharedTarget(topicName: string, sharedFilter: string): string | undefined;
}

/** A batch above this is sent at once (NATS's default max_payload is 1 MiB). */
const MAX_BATCH_BYTES = 256 * 1024;

/**
 * What this node hands to the others, gathered per turn and per target node.
 *
 * QoS 1/2 messages go with confirmation: one NATS request per target node carrying every
 * message of the turn for it; the target answers once its store made them durable
 * (`DurableReceiver`). The publishers' acknowledgements wait for the turn's promise, so a PUBACK
 * means every node that needed the message has it. A batch that failed (no answer, no
 * responder, a store failure there) is sent again at each heartbeat while its node is present;
 * once the node is gone (its sessions adopted, its row retired), it is re-sent on its behalf to
 * the nodes that may hold its sessions now. The promise never rejects.
 *
 * QoS 0 messages go as one NATS core publish per target node and turn (their frames one after
 * the other), at most once; in a turn that has a confirmed batch for that node they ride in it,
 * so a publisher's messages keep their order whatever their QoS.
 */
export class BusSender {
  private nc: NatsConnection | undefined;
  private turn: Turn | undefined;
  private readonly open = new Map<string, Batch>();
  /** QoS 0 frames of this turn per target node, in routing order, with their byte count. */
  private readonly core = new Map<string, { frames: Buffer[]; bytes: number }>();
  private sealScheduled = false;
  private failed: Batch[] = [];
  private readonly targets: string[] = [];
  private seq = 0;
  /** Messages confirmed, and batches sent again, since start. */
  confirmed = 0;
  resent = 0;

  constructor(
    /** This node and its start: names each message with `seq`. */
    private readonly origin: string,
    /** The subject of a node's confirmed batches. */
    private readonly subject: (nodeId: string) => string,
    /** The subject of a node's QoS 0 frames. */
    private readonly coreSubject: (nodeId: string) => string,
    private readonly timeoutMs: number,
    private readonly routes: DurableRoutes,
    private readonly log: Logger,
  ) {}

  start(nc: NatsConnection): void {
    this.nc = nc;
  }

  /** Stops sending: what is pending stays unconfirmed (its publishers are being disconnected). */
  stop(): void {
    this.nc = undefined;
    this.failed = [];
  }

  /** Batches waiting to be sent again. */
  get failedBatches(): number {
    return this.failed.length;
  }

  /**
   * Queues `frame` for `target` in this turn's batch; the promise resolves when the turn's
   * batches are confirmed. `durable` false (QoS 0 for a share group): not sent again on failure.
   */
  add(
    target: string,
    frame: Buffer,
    topicName: string,
    retain: boolean,
    durable = true,
    shared?: readonly string[],
  ): Promise<void> {
    let turn = this.turn;
    if (turn === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((done) => {
        resolve = done;
      });
      turn = { promise, resolve, pending: 0, sealed: false };
      this.turn = turn;
      this.scheduleSeal();
    }
    let batch = this.open.get(target);
    if (batch === undefined) {
      const owner = turn;
      owner.pending++;
      batch = {
        target,
        onBehalfOf: undefined,
        sharedOnly: false,
        entries: [],
        bytes: 0,
        done: () => this.batchDone(owner),
      };
      this.open.set(target, batch);
      // QoS 0 frames routed before it in this turn go first, in the batch.
      const core = this.core.get(target);
      if (core !== undefined) {
        this.core.delete(target);
        for (const frame of core.frames) this.rideAlong(batch, frame);
      }
    }
    batch.entries.push({ seq: ++this.seq, frame, topicName, retain, durable, shared });
    batch.bytes += frame.length;
    if (batch.bytes >= MAX_BATCH_BYTES) {
      this.open.delete(target);
      this.send(batch);
    }
    return turn.promise;
  }

  /**
   * A QoS 0 message for `target`, at most once: in this turn's confirmed batch for it if there is
   * one (after the QoS 1/2 messages routed before it), else with the turn's other QoS 0 frames
   * for it in one core publish.
   */
  publishAtMostOnce(target: string, frame: Buffer): void {
    const batch = this.open.get(target);
    if (batch !== undefined) {
      this.rideAlong(batch, frame);
      return;
    }
    let core = this.core.get(target);
    if (core === undefined) {
      core = { frames: [], bytes: 0 };
      this.core.set(target, core);
      this.scheduleSeal();
    }
    core.frames.push(frame);
    core.bytes += frame.length;
    if (core.bytes >= MAX_BATCH_BYTES) {
      this.core.delete(target);
      this.publishCore(target, core.frames);
    }
  }

  /**
   * The QoS 1/2 messages a session held here when `owner` took it over (they may not have been
   * stored before its claim): sent to `owner` for that client id's session only, confirmed and
   * sent again like any batch (possibly a second copy of what the claim found).
   */
  handOver(
    owner: string,
    clientId: string,
    frames: ReadonlyArray<{ frame: Buffer; topicName: string }>,
  ): void {
    const entries: Entry[] = frames.map(({ frame, topicName }) => ({
      seq: ++this.seq,
      frame,
      topicName,
      retain: false,
      durable: true,
      shared: undefined,
    }));
    if (entries.length === 0) return;
    const bytes = entries.reduce((sum, entry) => sum + entry.frame.length, 0);
    this.send({
      target: owner,
      onBehalfOf: undefined,
      sharedOnly: false,
      clients: [clientId],
      entries,
      bytes,
      done: () => {},
    });
  }

  /** A QoS 0 frame in a confirmed batch, for order only: never sent again if the batch fails. */
  private rideAlong(batch: Batch, frame: Buffer): void {
    batch.entries.push({
      seq: ++this.seq,
      frame,
      topicName: '',
      retain: false,
      durable: false,
      shared: undefined,
    });
    batch.bytes += frame.length;
  }

  /** At each heartbeat, after the membership was read: sends again what failed. */
  retry(): void {
    if (this.nc === undefined || this.failed.length === 0) return;
    const batches = this.failed;
    this.failed = [];
    for (const batch of batches) {
      this.resent++;
      if (batch.repick !== true && this.routes.isPresent(batch.target, batch.incarnation)) this.send(batch);
      else this.reroute(batch);
    }
  }

  private scheduleSeal(): void {
    if (this.sealScheduled) return;
    this.sealScheduled = true;
    setImmediate(() => this.sealTurn());
  }

  private sealTurn(): void {
    this.sealScheduled = false;
    const turn = this.turn;
    this.turn = undefined;
    for (const [target, core] of this.core) this.publishCore(target, core.frames);
    this.core.clear();
    for (const batch of this.open.values()) this.send(batch);
    this.open.clear();
    if (turn === undefined) return;
    turn.sealed = true;
    if (turn.pending === 0) turn.resolve();
  }

  private publishCore(target: string, frames: readonly Buffer[]): void {
    const nc = this.nc;
    if (nc === undefined) return;
    try {
      nc.publish(this.coreSubject(target), frames.length === 1 ? frames[0]! : Buffer.concat(frames));
    } catch (error) {
      this.log.error(
        { err: error, node: target, messages: frames.length },
        'cluster: QoS 0 messages could not be handed to another node; not sent there',
      );
    }
  }

  private batchDone(turn: Turn): void {
    turn.pending--;
    if (turn.sealed && turn.pending === 0) turn.resolve();
  }

  private send(batch: Batch): void {
    const nc = this.nc;
    if (nc === undefined) return;
    batch.incarnation ??= this.routes.incarnationOf(batch.target);
    const header: DurableBatchHeader = {
      origin: this.origin,
      seqs: batch.entries.map((entry) => entry.seq),
      ...(batch.onBehalfOf === undefined ? {} : { onBehalfOf: batch.onBehalfOf }),
      ...(batch.entries.some((entry) => entry.shared !== undefined)
        ? { shared: batch.entries.map((entry) => entry.shared ?? null) }
        : {}),
      ...(batch.sharedOnly ? { sharedOnly: true } : {}),
      ...(batch.clients === undefined ? {} : { clients: batch.clients }),
    };
    let request: Promise<{ string(): string }>;
    try {
      const payload = encodeDurableBatch(
        header,
        batch.entries.map((entry) => entry.frame),
      );
      request = nc.request(this.subject(batch.target), payload, { timeout: this.timeoutMs });
    } catch (error) {
      // Larger than the server's max_payload: it cannot cross, and sending it again will not help.
      this.log.error(
        { err: error, node: batch.target, messages: batch.entries.length },
        'cluster: messages could not be handed to another node (raise the NATS max_payload above the largest packet); not sent there',
      );
      batch.done();
      return;
    }
    request
      .then(
        (reply) => {
          const answer = reply.string();
          if (answer === 'ok') {
            this.confirmed += batch.entries.length;
            batch.done();
          } else if (answer.startsWith('ok ')) {
            this.confirmed += batch.entries.length;
            this.followUp(batch, answer.slice(3));
          } else if (answer === 'malformed') {
            this.log.error(
              { node: batch.target },
              'cluster: a node could not read a batch from this node; not sent again',
            );
            batch.done();
          } else this.failedOnce(batch, answer);
        },
        (error: unknown) => this.failedOnce(batch, (error as Error).message),
      )
      // A bug in handling an answer must not become an unhandled rejection (it ends the process).
      .catch((error: unknown) =>
        this.log.error({ err: error, node: batch.target }, 'cluster: handling a batch answer failed'),
      );
  }

  /**
   * Confirmed, with follow-ups (`DurableAnswer`): share groups that had no member online there
   * go to another node of the group at the next heartbeat; messages for sessions another node
   * just took from the target go to that node now, on the target's behalf.
   */
  private followUp(batch: Batch, json: string): void {
    let answer: DurableAnswer;
    try {
      answer = JSON.parse(json) as DurableAnswer;
    } catch {
      answer = {};
    }
    const pick = (indexes: Iterable<number>, shared?: (index: number) => readonly string[]): Entry[] => {
      const entries: Entry[] = [];
      for (const index of indexes) {
        const entry = batch.entries[index];
        if (entry?.durable === true) entries.push({ ...entry, shared: shared?.(index) });
      }
      return entries;
    };
    const bytesOf = (entries: readonly Entry[]): number =>
      entries.reduce((sum, entry) => sum + entry.frame.length, 0);
    const followUps: Batch[] = [];
    let pending = 1;
    const done = (): void => {
      if (--pending === 0) batch.done();
    };
    const lost = answer.lost ?? [];
    const repick = lost.flatMap(([index, filter]) => pick([index], () => [filter]));
    if (repick.length > 0) {
      pending++;
      this.failed.push({
        target: batch.target,
        onBehalfOf: undefined,
        sharedOnly: true,
        repick: true,
        entries: repick,
        bytes: bytesOf(repick),
        done,
      });
    }
    for (const [owner, indexes] of Object.entries(answer.moved ?? {})) {
      const entries = pick(indexes);
      if (entries.length === 0) continue;
      pending++;
      followUps.push({
        target: owner,
        // On behalf of the node that lost the session (also in a re-send on behalf of another
        // one): the new owner took it from that node.
        onBehalfOf: batch.target,
        sharedOnly: false,
        entries,
        bytes: bytesOf(entries),
        done,
      });
    }
    if (followUps.length > 0)
      this.log.debug(
        { node: batch.target, to: followUps.map((b) => b.target) },
        'cluster: re-sending to the new owners of sessions a node just lost',
      );
    for (const followUp of followUps) this.send(followUp);
    done();
  }

  private failedOnce(batch: Batch, why: string): void {
    if (this.nc === undefined) return;
    // QoS 0 is at most once: what rode along is not sent again.
    for (let i = batch.entries.length - 1; i >= 0; i--)
      if (!batch.entries[i]!.durable) batch.entries.splice(i, 1);
    if (batch.entries.length === 0) {
      batch.done();
      return;
    }
    this.log.debug(
      { node: batch.target, messages: batch.entries.length, why },
      'cluster: batch not confirmed; sent again at the next heartbeat',
    );
    this.failed.push(batch);
  }

  /**
   * The target is gone: each message to the nodes that may hold its sessions now, on its behalf;
   * what it had for a share group to the member's node the group picks now.
   */
  private reroute(batch: Batch): void {
    const onBehalfOf = batch.onBehalfOf ?? batch.target;
    const behalf = new Map<string, Entry[]>();
    const shared = new Map<string, Entry[]>();
    const push = (into: Map<string, Entry[]>, target: string, entry: Entry): void => {
      const entries = into.get(target);
      if (entries === undefined) into.set(target, [entry]);
      else entries.push(entry);
    };
    for (const entry of batch.entries) {
      if (!batch.sharedOnly) {
        const count = this.routes.rerouteTargets(entry.topicName, entry.retain, this.targets);
        for (let i = 0; i < count; i++) push(behalf, this.targets[i]!, { ...entry, shared: undefined });
      }
      for (const filter of entry.shared ?? []) {
        const target = this.routes.sharedTarget(entry.topicName, filter);
        if (target !== undefined) push(shared, target, { ...entry, shared: [filter] });
      }
    }
    this.log.info(
      {
        node: batch.target,
        onBehalfOf,
        messages: batch.entries.length,
        to: [...behalf.keys()],
        shared: [...shared.keys()],
      },
      'cluster: re-sending what a gone node did not confirm to the nodes holding its sessions now',
    );
    let pending = behalf.size + shared.size;
    if (pending === 0) {
      batch.done();
      return;
    }
    const done = (): void => {
      if (--pending === 0) batch.done();
    };
    const bytesOf = (entries: Entry[]): number => entries.reduce((sum, entry) => sum + entry.frame.length, 0);
    for (const [target, entries] of behalf)
      this.send({ target, onBehalfOf, sharedOnly: false, entries, bytes: bytesOf(entries), done });
    for (const [target, entries] of shared)
      this.send({ target, onBehalfOf: undefined, sharedOnly: true, entries, bytes: bytesOf(entries), done });
  }
}
