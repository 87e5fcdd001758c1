import type { Broker } from '@mqtt-adapt/router';
import type { PgStore } from '@mqtt-adapt/store-pg';
import type { Logger } from 'pino';
import type { SessionTakeover } from './session-takeover.js';

/** Sessions claimed per query round: a dead node with more is adopted over several heartbeats. */
const PAGE = 500;

/** What one adoption round did. */
export interface AdoptionRound {
  readonly adopted: number;
  /** A full page was found: more orphans may be left for the next round. */
  readonly more: boolean;
}

/**
 * The persistent sessions of nodes that died or left, taken by a survivor so that they go on
 * queueing messages for their clients: each is claimed in the store only if its dead owner
 * still owns it (a client that reconnected elsewhere, or another survivor, got there first:
 * skipped), then installed offline in the router, its filters announced like any other.
 */
export class SessionAdoption {
  adoptedTotal = 0;

  constructor(
    private readonly nodeId: string,
    private readonly store: PgStore,
    private readonly broker: Broker,
    private readonly takeover: SessionTakeover,
    private readonly log: Logger,
  ) {}

  /** One round: stored sessions owned by none of `aliveNodes`, up to a page. */
  async adopt(aliveNodes: readonly string[]): Promise<AdoptionRound> {
    const orphans = await this.store.experimental_orphanedSessions(aliveNodes, PAGE);
    let adopted = 0;
    const from = new Map<string, number>();
    for (const { clientId, ownerNode } of orphans) {
      const claim = await this.store.experimental_adoptSession(clientId, [ownerNode]);
      if (claim === undefined) continue;
      this.takeover.adopted(clientId, claim.epoch, ownerNode);
      if (claim.session === undefined) continue;
      // A copy held here while another node owned it is stale.
      if (ownerNode !== this.nodeId) this.broker.dropSession(clientId);
      if (this.broker.adoptSession(claim.session)) adopted++;
      from.set(ownerNode, (from.get(ownerNode) ?? 0) + 1);
    }
    this.adoptedTotal += adopted;
    for (const [ownerNode, sessions] of from) {
      this.log.warn(
        { from: ownerNode, sessions },
        ownerNode === this.nodeId
          ? 'cluster: took back the sessions this node id owned before its restart'
          : 'cluster: adopted the persistent sessions of a node that died or left',
      );
    }
    return { adopted, more: orphans.length === PAGE };
  }
}
