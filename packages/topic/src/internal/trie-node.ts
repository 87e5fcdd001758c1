import type { ShareGroupState } from '../share-policy.js';
import type { Subscription, SubscriptionOptions } from '../types.js';
import { ChildTable, levelHash } from './child-table.js';

/**
 * A stored subscription; also the object `match` returns (no copy per match). One class,
 * every field set in the constructor: one shape.
 */
export class SubscriptionEntry<S, O extends SubscriptionOptions> implements Subscription<S, O> {
  readonly subscriber: S;
  readonly topicFilter: string;
  readonly shareGroup: string | undefined;
  options: O;

  constructor(subscriber: S, topicFilter: string, shareGroup: string | undefined, options: O) {
    this.subscriber = subscriber;
    this.topicFilter = topicFilter;
    this.shareGroup = shareGroup;
    this.options = options;
  }
}

/** The members of `$share/{name}/{topicFilter}`, in subscribe order. */
export class ShareGroup<S, O extends SubscriptionOptions> implements ShareGroupState<S, O> {
  readonly name: string;
  readonly topicFilter: string;
  readonly members: SubscriptionEntry<S, O>[] = [];
  cursor = 0;

  constructor(name: string, topicFilter: string) {
    this.name = name;
    this.topicFilter = topicFilter;
  }
}

/**
 * Children by level: nothing, one node, a small array searched linearly, or a `ChildTable`
 * once a node has more than `MAX_ARRAY_CHILDREN`. Most nodes of a real topic tree have 0 or 1
 * child, and a Map per node is the biggest part of qlobber's per-node cost.
 */
export type Children<S, O extends SubscriptionOptions> =
  | TrieNode<S, O>
  | TrieNode<S, O>[]
  | ChildTable<TrieNode<S, O>>
  | undefined;

/** Above this many children a node switches from an array to a table. */
export const MAX_ARRAY_CHILDREN = 4;
/** At or below this many children a table goes back to an array (hysteresis against thrashing). */
const MIN_TABLE_CHILDREN = 2;

/**
 * One level of the trie. `plusChild` and `hashChild` hold the `+` and `#` children apart from
 * the named ones; a `#` node only ever holds subscriptions. Share groups whose filter ends
 * here are in `groups`. One class, every field set at construction: one shape for all nodes.
 */
export class TrieNode<S, O extends SubscriptionOptions> {
  readonly level: string;
  /** `levelHash(level)`: compared before `level`, so a non-matching child's string is not read. */
  readonly levelHash: number;
  children: Children<S, O> = undefined;
  plusChild: TrieNode<S, O> | undefined = undefined;
  hashChild: TrieNode<S, O> | undefined = undefined;
  /**
   * The non-shared subscriptions whose filter ends here: one entry alone (the common case:
   * no array), else an array, so `match` copies pointers without touching the entries.
   */
  subs: SubscriptionEntry<S, O> | SubscriptionEntry<S, O>[] | undefined = undefined;
  groups: ShareGroup<S, O>[] | undefined = undefined;

  constructor(level: string, hash = levelHash(level, 0, level.length)) {
    this.level = level;
    this.levelHash = hash;
  }

  get isEmpty(): boolean {
    return (
      this.children === undefined &&
      this.plusChild === undefined &&
      this.hashChild === undefined &&
      this.subs === undefined &&
      this.groups === undefined
    );
  }
}

/**
 * The child named `s[start..end)` (whose `levelHash` is `hash`), read in place: no slice.
 * Compares hash, then length, then characters, so a non-matching child's string is not read.
 */
export function findChildAt<S, O extends SubscriptionOptions>(
  node: TrieNode<S, O>,
  s: string,
  start: number,
  end: number,
  hash: number,
): TrieNode<S, O> | undefined {
  const children = node.children;
  if (children === undefined) return undefined;
  const length = end - start;
  if (children instanceof TrieNode) {
    const level = children.level;
    return children.levelHash === hash && level.length === length && s.startsWith(level, start)
      ? children
      : undefined;
  }
  if (Array.isArray(children)) {
    for (let c = 0; c < children.length; c++) {
      const child = children[c]!;
      const level = child.level;
      if (child.levelHash === hash && level.length === length && s.startsWith(level, start)) return child;
    }
    return undefined;
  }
  return children.find(s, start, end, hash);
}

/** Adds a child known to be absent. Arrays are replaced, not grown, so they stay exactly sized. */
export function addChild<S, O extends SubscriptionOptions>(
  node: TrieNode<S, O>,
  child: TrieNode<S, O>,
): void {
  const children = node.children;
  if (children === undefined) {
    node.children = child;
  } else if (children instanceof TrieNode) {
    node.children = [children, child];
  } else if (Array.isArray(children)) {
    if (children.length < MAX_ARRAY_CHILDREN) {
      node.children = children.concat([child]);
    } else {
      const table = new ChildTable<TrieNode<S, O>>();
      for (const c of children) table.add(c);
      table.add(child);
      node.children = table;
    }
  } else {
    children.add(child);
  }
}

export function removeChild<S, O extends SubscriptionOptions>(
  node: TrieNode<S, O>,
  child: TrieNode<S, O>,
): void {
  const children = node.children;
  if (children === child) {
    node.children = undefined;
  } else if (Array.isArray(children)) {
    const index = children.indexOf(child);
    if (index === -1) throw new RangeError(`trie invariant broken: no child "${child.level}"`);
    node.children =
      children.length === 2
        ? children[1 - index]
        : children.slice(0, index).concat(children.slice(index + 1));
  } else if (children instanceof ChildTable) {
    children.delete(child.level);
    if (children.size <= MIN_TABLE_CHILDREN) node.children = children.values().slice();
  } else {
    throw new RangeError(`trie invariant broken: no child "${child.level}"`);
  }
}
