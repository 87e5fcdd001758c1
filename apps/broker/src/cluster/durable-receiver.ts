import type { Broker, SharedSettled } from '@mqtt-adapt/router';
import type { Msg } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { decodeDurableBatch } from './bus-frame.js';
import type { MovedSessions } from './moved-sessions.js';
import type { SessionProvenance } from './session-provenance.js';

const nobody = (): boolean => false;

/**
 * A confirmation with follow-ups (`ok <json>`): `lost`, `[index, sharedFilter]` of share groups
 * with no member online here; `moved`, per node, the indexes of messages for sessions that node
 * just took from this one (the sender re-sends them there on this node's behalf).
 */
export interface DurableAnswer {
  readonly lost?: ReadonlyArray<readonly [number, string]>;
  readonly moved?: Readonly<Record<string, readonly number[]>>;
}

/** QoS 2 messages remembered against a second delivery when a batch is sent again. */
const SEEN_LIMIT = 65_536;

/**
 * The receiving end of `BusSender`: delivers a batch to this node's sessions, waits for the
 * store to make what it queued durable, then answers `ok` (anything else: the sender tries
 * again). A batch on behalf of a gone node goes only to the sessions taken from that node.
 */
export class DurableReceiver {
  private readonly seen = new Set<string>();
  received = 0;

  constructor(
    private readonly nodeId: string,
    private readonly broker: Broker,
    private readonly flush: () => Promise<void>,
    private readonly provenance: SessionProvenance,
    private readonly log: Logger,
    /** How long a share-group member may take to acknowledge before the sender is asked to retry. */
    private readonly sharedWaitMs: number,
    private readonly movedSessions: MovedSessions,
  ) {}

  handle(error: Error | null, msg: Msg): void {
    if (error !== null) {
      this.log.warn({ err: error }, 'cluster: durable message subscription failed');
      return;
    }
    // Never an unhandled rejection (it would end the process): a reply that cannot be sent is
    // logged, and the sender sends the batch again.
    this.deliver(msg).catch((failure: unknown) => {
      this.log.warn({ err: failure }, 'cluster: a batch from another node failed here');
    });
  }

  private async deliver(msg: Msg): Promise<void> {
    let batch: ReturnType<typeof decodeDurableBatch>;
    try {
      batch = decodeDurableBatch(msg.data);
    } catch (failure) {
      this.log.error(
        { err: failure, bytes: msg.data.length },
        'cluster: dropped a batch from the bus that cannot be read',
      );
      msg.respond('malformed');
      return;
    }
    const { header, messages } = batch;
    const onBehalfOf =
      header.onBehalfOf !== undefined && header.onBehalfOf !== this.nodeId ? header.onBehalfOf : undefined;
    const clients = header.clients;
    const only =
      header.sharedOnly === true
        ? nobody
        : clients !== undefined
          ? (clientId: string) => clients.includes(clientId)
          : onBehalfOf === undefined
            ? undefined
            : (clientId: string) => this.provenance.cameFrom(clientId, onBehalfOf);
    const remembered: string[] = [];
    // Share groups named for QoS 1/2 messages: confirmed once a member acknowledged (or kept) it.
    const waits: Array<Promise<void>> = [];
    const lost: Array<[number, string]> = [];
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!;
      const shared = header.shared?.[i];
      const sharedFilters = shared === null || shared === undefined ? undefined : new Set(shared);
      let sharedSettled: SharedSettled | undefined;
      if (sharedFilters !== undefined && message.qos > 0) {
        const pending = new Set(sharedFilters);
        let settled!: () => void;
        waits.push(
          new Promise<void>((resolve) => {
            settled = resolve;
          }),
        );
        sharedSettled = (filter, outcome) => {
          if (!pending.delete(filter)) return;
          if (outcome === 'lost') lost.push([i, filter]);
          if (pending.size === 0) settled();
        };
      }
      if (message.qos === 2) {
        const kind =
          header.sharedOnly === true
            ? `share:${shared?.join(',')}`
            : clients !== undefined
              ? `clients:${clients.join(',')}`
              : (onBehalfOf ?? '');
        const key = `${header.origin}:${header.seqs[i]}:${kind}`;
        if (this.seen.has(key)) {
          for (const filter of shared ?? []) sharedSettled?.(filter, 'delivered');
          continue;
        }
        this.remember(key);
        remembered.push(key);
      }
      this.received++;
      try {
        this.broker.deliverRemote(message, { only, sharedFilters, sharedSettled });
      } catch (failure) {
        for (const filter of shared ?? []) sharedSettled?.(filter, 'delivered');
        this.log.warn(
          { err: failure, topicName: message.topicName },
          'cluster: dropped a message from the bus that cannot be routed',
        );
      }
    }
    try {
      await this.flush();
    } catch (failure) {
      // Not durable here: the sender sends it again; a QoS 2 message must be delivered then.
      for (const key of remembered) this.seen.delete(key);
      this.log.warn(
        { err: failure },
        'cluster: could not make a batch from another node durable; it will be sent again',
      );
      msg.respond('retry');
      return;
    }
    if (waits.length > 0 && !(await settledWithin(waits, this.sharedWaitMs))) {
      // A member slower than the sender's patience: it sends the batch again.
      msg.respond('retry');
      return;
    }
    // Sessions this node just lost that the batch's messages were for: their new owners.
    const moved: Record<string, number[]> = {};
    let anyMoved = false;
    for (let i = 0; i < messages.length; i++) {
      if (messages[i]!.qos === 0 || header.sharedOnly === true) continue;
      for (const owner of this.movedSessions.ownersFor(messages[i]!.topicName)) {
        const indexes = moved[owner] ?? [];
        indexes.push(i);
        moved[owner] = indexes;
        anyMoved = true;
      }
    }
    const answer: DurableAnswer = {
      ...(lost.length > 0 ? { lost } : {}),
      ...(anyMoved ? { moved } : {}),
    };
    msg.respond(lost.length === 0 && !anyMoved ? 'ok' : `ok ${JSON.stringify(answer)}`);
  }

  private remember(key: string): void {
    this.seen.add(key);
    if (this.seen.size > SEEN_LIMIT) {
      // A Set iterates in insertion order: the first is the oldest.
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }
}

/** Whether every promise settled within `ms` (the timer does not hold the process). */
async function settledWithin(waits: Array<Promise<void>>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([Promise.all(waits).then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
