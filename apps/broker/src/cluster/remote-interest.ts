import { type Subscription, SubscriptionTrie } from '@mqtt-adapt/topic';

interface NodeInterest {
  version: number;
  filters: readonly string[];
}

/**
 * What the other nodes subscribe to: node id -> its filters, in one topic trie whose
 * subscribers are node ids, so one match per message names every node that needs it. A node
 * appears at most once per message however many of its filters match. Share groups
 * (`$share/{group}/{filter}`) are kept apart, in a trie whose members are the nodes with members
 * of the group, this one included: its match picks one node per group and message (round robin),
 * so that each message reaches one member across the cluster.
 */
export class RemoteInterest {
  private readonly nodes = new Map<string, NodeInterest>();
  // The most levels a topic can have: another node may allow deeper filters than this one.
  private readonly trie = new SubscriptionTrie<string>({ maxLevels: 32_768 });
  private readonly shared = new SubscriptionTrie<string>({ maxLevels: 32_768 });
  private sharedCount = 0;
  /** Share filter -> the nodes with members, and a turn counter for `otherSharedNode`. */
  private readonly sharedNodes = new Map<string, { nodes: readonly string[]; turn: number }>();
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
    if (known !== undefined) for (const filter of known.filters) this.removeFilter(filter, nodeId);
    const valid: string[] = [];
    for (const filter of filters) {
      // A filter another version of the code accepts and this one does not is skipped, not fatal.
      try {
        this.addFilter(filter, nodeId);
        valid.push(filter);
      } catch {}
    }
    this.nodes.set(nodeId, { version, filters: valid });
    return true;
  }

  /** Forgets a node (gone from the membership table, or retired). */
  removeNode(nodeId: string): void {
    const known = this.nodes.get(nodeId);
    if (known === undefined) return;
    for (const filter of known.filters) this.removeFilter(filter, nodeId);
    this.nodes.delete(nodeId);
  }

  /** This node got its first member of share group `sharedFilter`, or lost its last one. */
  localShared(sharedFilter: string, nodeId: string, present: boolean): void {
    if (present) this.addFilter(sharedFilter, nodeId);
    else this.removeFilter(sharedFilter, nodeId);
  }

  /**
   * Writes into `out` one `[sharedFilter, nodeId]` per share group matching `topicName`: the
   * node (this one included) whose member gets this message. Returns how many.
   */
  pickShared(topicName: string, out: Array<[string, string]>): number {
    out.length = 0;
    if (this.sharedCount === 0) return 0;
    const matches = this.shared.match(topicName, this.matches);
    for (const match of matches) out.push([match.topicFilter, match.subscriber]);
    this.matches.length = 0;
    return out.length;
  }

  /**
   * A node other than `except` with members of `sharedFilter`, in turns (the group's pick fell on
   * `except`, which has no member online to take it); `undefined` when there is none.
   */
  otherSharedNode(sharedFilter: string, except: string): string | undefined {
    const entry = this.sharedNodes.get(sharedFilter);
    if (entry === undefined) return undefined;
    for (let i = 0; i < entry.nodes.length; i++) {
      const nodeId = entry.nodes[entry.turn++ % entry.nodes.length]!;
      if (nodeId !== except) return nodeId;
    }
    return undefined;
  }

  private addFilter(filter: string, nodeId: string): void {
    if (!filter.startsWith('$share/')) {
      this.trie.add(filter, nodeId, { qos: 0 });
      return;
    }
    this.shared.add(filter, nodeId, { qos: 0 });
    this.sharedCount++;
    const entry = this.sharedNodes.get(filter);
    if (entry === undefined) this.sharedNodes.set(filter, { nodes: [nodeId], turn: 0 });
    else if (!entry.nodes.includes(nodeId)) entry.nodes = [...entry.nodes, nodeId];
  }

  private removeFilter(filter: string, nodeId: string): void {
    if (!filter.startsWith('$share/')) {
      this.trie.remove(filter, nodeId);
      return;
    }
    if (this.shared.remove(filter, nodeId)) this.sharedCount--;
    const entry = this.sharedNodes.get(filter);
    if (entry === undefined) return;
    entry.nodes = entry.nodes.filter((node) => node !== nodeId);
    if (entry.nodes.length === 0) this.sharedNodes.delete(filter);
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
