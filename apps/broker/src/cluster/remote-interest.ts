import { type Subscription, SubscriptionTrie } from '@mqtt-adapt/topic';

interface NodeInterest {
  version: number;
  filters: readonly string[];
}

/**
 * What the other nodes subscribe to: node id -> its filters, in one topic trie whose
 * subscribers are node ids, so one match per message names every node that needs it. A node
 * appears at most once per message however many of its filters match.
 */
export class RemoteInterest {
  private readonly nodes = new Map<string, NodeInterest>();
  // The most levels a topic can have: another node may allow deeper filters than this one.
  private readonly trie = new SubscriptionTrie<string>({ maxLevels: 32_768 });
  private readonly matches: Subscription<string>[] = [];

  /** Node ids with a known interest. */
  get nodeIds(): string[] {
    return [...this.nodes.keys()];
  }

  /** Version of a node's interest known here; undefined if none. */
  versionOf(nodeId: string): number | undefined {
    return this.nodes.get(nodeId)?.version;
  }

  /**
   * Replaces a node's filters if `version` is newer than the one known (announcements over
   * NATS and rows read from PostgreSQL may arrive in either order). True if applied.
   */
  update(nodeId: string, version: number, filters: readonly string[]): boolean {
    const known = this.nodes.get(nodeId);
    if (known !== undefined && known.version >= version) return false;
    if (known !== undefined) for (const filter of known.filters) this.trie.remove(filter, nodeId);
    const valid: string[] = [];
    for (const filter of filters) {
      // A filter another version of the code accepts and this one does not is skipped, not fatal.
      try {
        this.trie.add(filter, nodeId, { qos: 0 });
        valid.push(filter);
      } catch {}
    }
    this.nodes.set(nodeId, { version, filters: valid });
    return true;
  }

  /** Forgets a node (lapsed, or gone from the membership table). */
  removeNode(nodeId: string): void {
    const known = this.nodes.get(nodeId);
    if (known === undefined) return;
    for (const filter of known.filters) this.trie.remove(filter, nodeId);
    this.nodes.delete(nodeId);
  }

  /** Writes every known node into `out` (retained messages go to all: each node keeps an index). */
  allNodes(out: string[]): number {
    out.length = 0;
    for (const nodeId of this.nodes.keys()) out.push(nodeId);
    return out.length;
  }

  /**
   * Writes into `out` each node with a filter matching `topicName`, once, and returns how many.
   * The buffers are reused: no allocation per message beyond what the trie's match does.
   */
  matchNodes(topicName: string, out: string[]): number {
    if (this.nodes.size === 0) return 0;
    const matches = this.trie.match(topicName, this.matches);
    let count = 0;
    for (const match of matches) {
      const nodeId = match.subscriber;
      let repeated = false;
      // A handful of nodes: a scan beats a Set.
      for (let i = 0; i < count; i++) if (out[i] === nodeId) repeated = true;
      if (!repeated) out[count++] = nodeId;
    }
    this.matches.length = 0;
    out.length = count;
    return count;
  }
}
