import { type Subscription, SubscriptionTrie } from '@mqtt-adapt/topic';

interface Moved {
  readonly owner: string;
  readonly filters: readonly string[];
  readonly at: number;
}

/**
 * Sessions this node just lost to another node (taken over, fenced), with their filters, for a
 * short while: a QoS 1/2 message that reaches this node for such a session in that while (its
 * sender did not know the new owner's interest yet, or this node's write for it was fenced) is
 * re-sent by its sender to the new owner, on this node's behalf. Share filters are left out
 * (share groups pick their node per message).
 */
export class MovedSessions {
  private readonly moved = new Map<string, Moved>();
  private readonly trie = new SubscriptionTrie<string>({ maxLevels: 32_768 });
  private readonly matches: Subscription<string>[] = [];

  constructor(
    private readonly keepMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  record(clientId: string, owner: string, filters: readonly string[]): void {
    this.forget(clientId);
    const kept = filters.filter((filter) => !filter.startsWith('$share/'));
    if (kept.length === 0) return;
    this.moved.set(clientId, { owner, filters: kept, at: this.now() });
    for (const filter of kept) {
      try {
        this.trie.add(filter, clientId, { qos: 0 });
      } catch {}
    }
  }

  /** The new owners of recently moved sessions whose filters match `topicName`. */
  ownersFor(topicName: string): string[] {
    this.prune();
    if (this.moved.size === 0) return [];
    const owners: string[] = [];
    for (const match of this.trie.match(topicName, this.matches)) {
      const owner = this.moved.get(match.subscriber)?.owner;
      if (owner !== undefined && !owners.includes(owner)) owners.push(owner);
    }
    this.matches.length = 0;
    return owners;
  }

  private prune(): void {
    const oldest = this.now() - this.keepMs;
    // Insertion order is age order: stop at the first one still fresh.
    for (const [clientId, moved] of this.moved) {
      if (moved.at > oldest) return;
      this.forget(clientId);
    }
  }

  private forget(clientId: string): void {
    const moved = this.moved.get(clientId);
    if (moved === undefined) return;
    for (const filter of moved.filters) this.trie.remove(filter, clientId);
    this.moved.delete(clientId);
  }
}
