import type { Broker, Message, SessionOwnershipHook, SessionSnapshot } from '@mqtt-adapt/router';
import type { PgStore, PgStoreFencing } from '@mqtt-adapt/store-pg';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { MovedSessions } from './moved-sessions.js';
import type { SessionProvenance } from './session-provenance.js';

/** What a node that claimed a client id tells its previous owner, on `takeover.<previousOwner>`. */
interface TakeoverNotice {
  readonly clientId: string;
  /** The claim's epoch: a notice older than this node's own claim of the client id is ignored. */
  readonly epoch: number;
  readonly nodeId: string;
}

/**
 * One owner per client id across the cluster: the router's `SessionOwnershipHook` claims the
 * session in the store (store-pg fencing) at every CONNECT and installs what it found; when
 * another node owned it, that node is told on its takeover subject and closes its connection
 * (`Broker.dropSession`: DISCONNECT 0x8E, nothing written). A node whose writes the store
 * refused (`onFenced`) drops the session too, in case the notice was lost.
 */
export class SessionTakeover implements SessionOwnershipHook {
  /** Epoch of this node's latest claim per client id, until another node takes it. */
  private readonly epochs = new Map<string, number>();
  private store: PgStore | undefined;
  private broker: Broker | undefined;
  private nc: NatsConnection | undefined;
  private dropped = 0;
  private handOver: ((owner: string, clientId: string, messages: readonly Message[]) => void) | undefined;

  constructor(
    private readonly nodeId: string,
    /** The takeover subject of a node. */
    private readonly subject: (nodeId: string) => string,
    /** Where each session taken from another node came from (re-sends on a gone node's behalf). */
    private readonly provenance: SessionProvenance,
    /** Sessions just lost to another node, with their filters (re-sends to the new owner). */
    private readonly moved: MovedSessions,
    private readonly log: Logger,
  ) {}

  /** `PgStoreOptions.experimental_fencing` for this node's store. */
  fencing(): PgStoreFencing {
    return {
      nodeId: this.nodeId,
      // Its refused writes never reached the new owner: what the session held is handed on.
      onFenced: (clientId, ownerNode) =>
        this.drop(clientId, `store refused writes; owner ${ownerNode ?? '?'}`, ownerNode, true),
    };
  }

  /** Called with the QoS 1/2 messages a session held when another node took it over. */
  onHandOver(handOver: (owner: string, clientId: string, messages: readonly Message[]) => void): void {
    this.handOver = handOver;
  }

  /** Claims go to `store` from now on. */
  useStore(store: PgStore): void {
    this.store = store;
  }

  /** The store claims go to, once `useStore` was called (the ownership audit reads it too). */
  get claimStore(): PgStore | undefined {
    return this.store;
  }

  /** Listens on this node's takeover subject; claims made from now on notify previous owners. */
  start(nc: NatsConnection, broker: Broker): void {
    this.nc = nc;
    this.broker = broker;
    nc.subscribe(this.subject(this.nodeId), { callback: (error, msg) => this.noticed(error, msg) });
  }

  stop(): void {
    this.nc = undefined;
  }

  get droppedSessions(): number {
    return this.dropped;
  }

  claim(clientId: string): Promise<SessionSnapshot | undefined> {
    return this.claimAsync(clientId);
  }

  private async claimAsync(clientId: string): Promise<SessionSnapshot | undefined> {
    const store = this.store;
    if (store === undefined) throw new Error('cluster: no store to claim sessions in');
    const claim = await store.experimental_claimSession(clientId);
    this.epochs.set(clientId, claim.epoch);
    const previous = claim.previousOwner;
    if (previous !== undefined) {
      // A copy held here is from before the other node's claim: stale (its notice may be late).
      this.broker?.dropSession(clientId);
      this.provenance.record(clientId, previous);
      this.notify(previous, clientId, claim.epoch);
      this.log.debug(
        { clientId, previousOwner: previous, epoch: claim.epoch },
        'cluster: session taken over',
      );
    }
    return claim.session;
  }

  /**
   * This node adopted `clientId` from `previousOwner` (a dead or departed node, or this node id
   * before a restart) at `epoch`: it is owned here now; a previous owner still running drops it.
   */
  adopted(clientId: string, epoch: number, previousOwner: string): void {
    this.epochs.set(clientId, epoch);
    if (previousOwner === this.nodeId) return;
    this.provenance.record(clientId, previousOwner);
    this.notify(previousOwner, clientId, epoch);
  }

  private notify(previousOwner: string, clientId: string, epoch: number): void {
    const notice: TakeoverNotice = { clientId, epoch, nodeId: this.nodeId };
    this.nc?.publish(this.subject(previousOwner), JSON.stringify(notice));
  }

  private noticed(error: Error | null, msg: Msg): void {
    if (error !== null) {
      this.log.warn({ err: error }, 'cluster: takeover subscription failed');
      return;
    }
    let notice: TakeoverNotice;
    try {
      notice = msg.json<TakeoverNotice>();
    } catch (failure) {
      this.log.warn({ err: failure }, 'cluster: ignored a takeover notice that is not valid JSON');
      return;
    }
    if (typeof notice.clientId !== 'string' || typeof notice.epoch !== 'number') return;
    const own = this.epochs.get(notice.clientId);
    // Claimed here again after that notice was sent: this node is the owner.
    if (own !== undefined && own >= notice.epoch) return;
    this.drop(notice.clientId, `taken over by ${notice.nodeId}`, notice.nodeId);
  }

  /**
   * The store says `ownerNode` owns `clientId` at `epoch` (an ownership audit, for notices missed
   * while cut off NATS): drops it here unless this node claimed it since that epoch was read.
   * Returns whether a session was held here.
   */
  dropStale(clientId: string, ownerNode: string, epoch: number): boolean {
    const own = this.epochs.get(clientId);
    if (own !== undefined && own >= epoch) return false;
    return this.drop(clientId, `owned by ${ownerNode} (ownership audit)`, ownerNode);
  }

  private drop(clientId: string, why: string, newOwner: string | undefined, refused = false): boolean {
    this.epochs.delete(clientId);
    const filters = this.broker?.sessionFilters(clientId);
    // What the new owner's claim may not have seen: refused writes, or writes not committed yet.
    const unseen = refused || this.store?.experimental_hasUnflushedWrites(clientId) === true;
    const held = unseen ? (this.broker?.sessionMessages(clientId) ?? []) : [];
    if (this.broker?.dropSession(clientId) !== true) return false;
    if (newOwner !== undefined && newOwner !== this.nodeId) {
      this.moved.record(clientId, newOwner, filters ?? []);
      // What it held may not have been stored before the other node's claim: handed on.
      if (held.length > 0) this.handOver?.(newOwner, clientId, held);
    }
    this.dropped++;
    this.log.debug({ clientId, why }, 'cluster: session dropped here');
    return true;
  }
}
