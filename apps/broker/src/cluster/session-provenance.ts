/**
 * Which node each session came from, when this node took it over (a client's CONNECT claimed
 * it from another node, or this node adopted a dead node's sessions). A batch re-sent on behalf
 * of a node that is gone is delivered only to the sessions taken from that node: they are the
 * ones that owed it. Entries are forgotten after `keepMs` (longer than any re-send can take:
 * re-sends stop once the node's row is retired, a few heartbeats after it lapsed).
 */
export class SessionProvenance {
  private readonly from = new Map<string, { readonly nodeId: string; readonly at: number }>();

  constructor(
    private readonly keepMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  record(clientId: string, fromNode: string): void {
    // Re-inserted: the Map keeps insertion order, so `prune` can stop at the first fresh one.
    this.from.delete(clientId);
    this.from.set(clientId, { nodeId: fromNode, at: this.now() });
  }

  /** Whether `clientId`'s session was taken from `nodeId` (and not forgotten yet). */
  cameFrom(clientId: string, nodeId: string): boolean {
    return this.from.get(clientId)?.nodeId === nodeId;
  }

  get size(): number {
    return this.from.size;
  }

  prune(): void {
    const oldest = this.now() - this.keepMs;
    for (const [clientId, entry] of this.from) {
      if (entry.at > oldest) return;
      this.from.delete(clientId);
    }
  }
}
