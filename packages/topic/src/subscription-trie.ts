import { levelHash } from './internal/child-table.js';
import { appendEntry, findEntry, type ListIndexes, removeEntry } from './internal/entry-list.js';
import { SHARE_PREFIX } from './internal/levels.js';
import { Matcher } from './internal/matcher.js';
import {
  addChild,
  findChildAt,
  removeChild,
  ShareGroup,
  SubscriptionEntry,
  TrieNode,
} from './internal/trie-node.js';
import { roundRobinSharePolicy, type SharePolicy } from './share-policy.js';
import type { Subscription, SubscriptionOptions } from './types.js';
import { isValidTopicFilter, topicFilterError } from './validate.js';

export interface SubscriptionTrieOptions<S> {
  /**
   * Most levels a filter may have (after any `$share/{group}/`); `add` throws
   * `TOPIC_TOO_DEEP` beyond it. It also bounds the recursion of `match`, which never goes
   * deeper than the trie. Default 128.
   */
  maxLevels?: number;
  /** Chooses one member per matching share group. Default `roundRobinSharePolicy()`. */
  sharePolicy?: SharePolicy;
  /**
   * Whether a share group member may receive now (e.g. connected, not over its send quota).
   * Unavailable members are skipped; a group with none available gets nothing. Default: all are.
   */
  isAvailable?: (subscriber: S) => boolean;
}

const PLUS = 0x2b;
const HASH = 0x23;

/** Default `maxLevels`. */
export const DEFAULT_MAX_LEVELS = 128;

/**
 * MQTT subscriptions by topic filter: `+`, `#`, `$`-topics and `$share/{group}/{filter}`.
 * `S` is the subscriber (compared with `===`), `O` the options stored with each subscription.
 */
export class SubscriptionTrie<S, O extends SubscriptionOptions = SubscriptionOptions> {
  readonly maxLevels: number;
  private readonly root = new TrieNode<S, O>('');
  private readonly policy: SharePolicy;
  private readonly isAvailable: ((subscriber: S) => boolean) | undefined;
  private readonly matcher: Matcher<S, O>;
  /** Subscriber positions of every node with a big list (see `internal/entry-list.ts`). */
  private readonly bigLists: ListIndexes<S, O> = new Map();
  /** Reused by `remove` to walk back up; cleared after use so it pins no node. */
  private readonly path: (TrieNode<S, O> | undefined)[] = [];
  private subscriptionCount = 0;
  private nodes = 0;

  constructor(options: SubscriptionTrieOptions<S> = {}) {
    const maxLevels = options.maxLevels ?? DEFAULT_MAX_LEVELS;
    if (!Number.isInteger(maxLevels) || maxLevels < 1) {
      throw new RangeError(`maxLevels must be a positive integer, got ${maxLevels}`);
    }
    this.maxLevels = maxLevels;
    this.policy = options.sharePolicy ?? roundRobinSharePolicy();
    this.isAvailable = options.isAvailable;
    this.matcher = new Matcher<S, O>(maxLevels, this.policy, this.isAvailable);
  }

  /** Number of subscriptions (each share group member counts once). */
  get size(): number {
    return this.subscriptionCount;
  }

  /** Number of trie nodes below the root: 0 when empty. For tests and memory checks. */
  get experimental_nodeCount(): number {
    return this.nodes;
  }

  /**
   * Subscribes `subscriber` to `topicFilter` (a `$share/{group}/{filter}` joins that group of
   * that filter). Returns true if new; false if it existed, in which case its options are
   * replaced. Throws the `TopicError` of an invalid filter: validate first with
   * `topicFilterError` to reject SUBSCRIBE input without throwing.
   */
  add(topicFilter: string, subscriber: S, options: O): boolean {
    const error = topicFilterError(topicFilter, this.maxLevels);
    if (error !== undefined) throw error;
    let start = 0;
    let group: string | undefined;
    if (topicFilter.startsWith(SHARE_PREFIX)) {
      const slash = topicFilter.indexOf('/', SHARE_PREFIX.length);
      group = topicFilter.slice(SHARE_PREFIX.length, slash);
      start = slash + 1;
    }
    const node = this.createPath(topicFilter, start);
    const added =
      group === undefined
        ? this.addToList(node, topicFilter, subscriber, options)
        : this.addToGroup(node, group, topicFilter, start, subscriber, options);
    if (added) this.subscriptionCount++;
    return added;
  }

  /**
   * Unsubscribes `subscriber` from `topicFilter`; true if it was subscribed. Nodes left
   * empty are removed, so a trie whose subscriptions are all removed is back to one root.
   */
  remove(topicFilter: string, subscriber: S): boolean {
    if (!isValidTopicFilter(topicFilter, this.maxLevels)) return false;
    const { start, group } = splitShare(topicFilter);
    const depth = this.findPath(topicFilter, start);
    if (depth < 0) return false;
    const node = this.path[depth]!;
    const removed =
      group === undefined
        ? this.removeFromList(node, subscriber)
        : this.removeFromGroup(node, group, subscriber);
    if (removed) {
      this.subscriptionCount--;
      this.prune(depth);
    }
    this.path.fill(undefined, 0, depth + 1);
    return removed;
  }

  /** The subscription of `subscriber` to `topicFilter`, if any. */
  get(topicFilter: string, subscriber: S): Subscription<S, O> | undefined {
    if (!isValidTopicFilter(topicFilter, this.maxLevels)) return undefined;
    const { start, group } = splitShare(topicFilter);
    const depth = this.findPath(topicFilter, start);
    if (depth < 0) return undefined;
    const node = this.path[depth]!;
    this.path.fill(undefined, 0, depth + 1);
    if (group === undefined) return this.findInList(node, subscriber);
    const members = node.groups?.find((g) => g.name === group)?.members;
    return members?.find((m) => m.subscriber === subscriber);
  }

  /**
   * Every subscription matching `topicName`, non-shared ones all and one member per matching
   * share group (chosen by the share policy among available members). Writes into `out` when
   * given (its previous content is dropped) so a caller can reuse one array. `publisherId` is
   * passed to the share policy (`hashSharePolicy('publisher')` keys on it).
   *
   * `topicName` is assumed valid (see `topicNameError`): a wildcard character in it is only a
   * character. The walk never goes deeper than the trie, so a very deep topic costs one pass
   * over its characters and no more.
   */
  match(topicName: string, out?: Subscription<S, O>[], publisherId?: string): Subscription<S, O>[] {
    const result = out ?? [];
    let matcher = this.matcher;
    if (matcher.busy) matcher = new Matcher<S, O>(this.maxLevels, this.policy, this.isAvailable);
    const n = matcher.run(this.root, topicName, result, publisherId);
    // written by index, truncated once: a reused array keeps its backing store
    if (result.length !== n) result.length = n;
    return result;
  }

  /** Every subscription, depth first (for inspection and tests; allocates). */
  *subscriptions(): IterableIterator<Subscription<S, O>> {
    const stack: TrieNode<S, O>[] = [this.root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.subs instanceof SubscriptionEntry) yield node.subs;
      else if (node.subs !== undefined) yield* node.subs;
      for (const group of node.groups ?? []) yield* group.members;
      const children = node.children;
      if (children instanceof TrieNode) stack.push(children);
      else if (Array.isArray(children)) stack.push(...children);
      else if (children !== undefined) stack.push(...children.values());
      if (node.plusChild !== undefined) stack.push(node.plusChild);
      if (node.hashChild !== undefined) stack.push(node.hashChild);
    }
  }

  /** Removes every subscription. */
  clear(): void {
    const root = this.root;
    root.children = undefined;
    root.plusChild = undefined;
    root.hashChild = undefined;
    root.subs = undefined;
    root.groups = undefined;
    this.bigLists.clear();
    this.subscriptionCount = 0;
    this.nodes = 0;
  }

  /**
   * Walks (creating) the nodes of the filter's levels from `start`; returns the last. Levels
   * are compared in place; only a new node's level is sliced out of the filter.
   */
  private createPath(filter: string, start: number): TrieNode<S, O> {
    let node = this.root;
    let from = start;
    for (;;) {
      const slash = filter.indexOf('/', from);
      const end = slash === -1 ? filter.length : slash;
      const wildcard = end - from === 1 ? filter.charCodeAt(from) : 0;
      let next: TrieNode<S, O> | undefined;
      if (wildcard === PLUS) next = node.plusChild ??= this.newNode('+');
      else if (wildcard === HASH) next = node.hashChild ??= this.newNode('#');
      else {
        const hash = levelHash(filter, from, end);
        next = findChildAt(node, filter, from, end, hash);
        if (next === undefined) {
          next = this.newNode(filter.slice(from, end), hash);
          addChild(node, next);
        }
      }
      node = next;
      if (slash === -1) return node;
      from = slash + 1;
    }
  }

  /** Fills `path[0..depth]` with the nodes of the filter's levels; -1 if one is missing. */
  private findPath(filter: string, start: number): number {
    const path = this.path;
    let node: TrieNode<S, O> | undefined = this.root;
    let depth = 0;
    let from = start;
    path[0] = node;
    for (;;) {
      const slash = filter.indexOf('/', from);
      const end = slash === -1 ? filter.length : slash;
      const wildcard = end - from === 1 ? filter.charCodeAt(from) : 0;
      if (wildcard === PLUS) node = node.plusChild;
      else if (wildcard === HASH) node = node.hashChild;
      else node = findChildAt(node, filter, from, end, levelHash(filter, from, end));
      if (node === undefined) {
        path.fill(undefined, 0, depth + 1);
        return -1;
      }
      path[++depth] = node;
      if (slash === -1) return depth;
      from = slash + 1;
    }
  }

  /** Removes the empty nodes at the end of `path[0..depth]`, bottom up. */
  private prune(depth: number): void {
    const path = this.path;
    for (let d = depth; d > 0; d--) {
      const node = path[d]!;
      if (!node.isEmpty) return;
      const parent = path[d - 1]!;
      if (parent.plusChild === node) parent.plusChild = undefined;
      else if (parent.hashChild === node) parent.hashChild = undefined;
      else removeChild(parent, node);
      this.nodes--;
    }
  }

  private newNode(level: string, hash?: number): TrieNode<S, O> {
    this.nodes++;
    return new TrieNode<S, O>(level, hash);
  }

  private findInList(node: TrieNode<S, O>, subscriber: S): SubscriptionEntry<S, O> | undefined {
    return findEntry(node, subscriber, this.bigLists);
  }

  private addToList(node: TrieNode<S, O>, topicFilter: string, subscriber: S, options: O): boolean {
    const existing = findEntry(node, subscriber, this.bigLists);
    if (existing !== undefined) {
      existing.options = options;
      return false;
    }
    appendEntry(
      node,
      new SubscriptionEntry<S, O>(subscriber, topicFilter, undefined, options),
      this.bigLists,
    );
    return true;
  }

  private removeFromList(node: TrieNode<S, O>, subscriber: S): boolean {
    return removeEntry(node, subscriber, this.bigLists);
  }

  private addToGroup(
    node: TrieNode<S, O>,
    name: string,
    topicFilter: string,
    start: number,
    subscriber: S,
    options: O,
  ): boolean {
    let group = node.groups?.find((g) => g.name === name);
    if (group === undefined) {
      group = new ShareGroup<S, O>(name, topicFilter.slice(start));
      node.groups = node.groups === undefined ? [group] : node.groups.concat([group]);
    }
    const existing = group.members.find((m) => m.subscriber === subscriber);
    if (existing !== undefined) {
      existing.options = options;
      return false;
    }
    group.members.push(new SubscriptionEntry<S, O>(subscriber, topicFilter, name, options));
    return true;
  }

  private removeFromGroup(node: TrieNode<S, O>, name: string, subscriber: S): boolean {
    const groups = node.groups;
    const g = groups === undefined ? -1 : groups.findIndex((x) => x.name === name);
    if (groups === undefined || g === -1) return false;
    const group = groups[g]!;
    const index = group.members.findIndex((m) => m.subscriber === subscriber);
    if (index === -1) return false;
    group.members.splice(index, 1);
    // keep the round-robin turn on the member that had it
    if (index < group.cursor) group.cursor--;
    if (group.cursor >= group.members.length) group.cursor = 0;
    if (group.members.length === 0) {
      node.groups = groups.length === 1 ? undefined : groups.filter((x) => x !== group);
    }
    return true;
  }
}

function splitShare(topicFilter: string): { start: number; group: string | undefined } {
  if (!topicFilter.startsWith(SHARE_PREFIX)) return { start: 0, group: undefined };
  const slash = topicFilter.indexOf('/', SHARE_PREFIX.length);
  return { start: slash + 1, group: topicFilter.slice(SHARE_PREFIX.length, slash) };
}
