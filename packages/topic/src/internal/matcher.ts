import type { SharePolicy } from '../share-policy.js';
import type { Subscription, SubscriptionOptions } from '../types.js';
import { FNV_OFFSET, FNV_PRIME } from './child-table.js';
import { findChildAt, type ShareGroup, SubscriptionEntry, type TrieNode } from './trie-node.js';

const DOLLAR = 0x24;
const SLASH = 0x2f;
/** Holds no matches; `out` points here between runs so the caller's array is not kept. */
const NO_OUT: never[] = [];

/**
 * One match: walks the trie along a topic name without splitting it. One pass over the
 * characters stores where each level ends and its hash in reused `Int32Array`s; a child is
 * compared by hash, then length, then `startsWith` at the level's offset, so a non-matching
 * child's string is never read and no slice of the topic is ever made (measured: `split`
 * plus `Map.get` on slices cost as much as the rest of a 3-level walk). Recursion depth is
 * bounded by the trie's depth (`maxLevels`). The trie keeps one Matcher and makes a spare one
 * if a callback (share policy, isAvailable) matches again during a match.
 */
export class Matcher<S, O extends SubscriptionOptions> {
  /** True while `run` is on the stack. */
  busy = false;
  private topic = '';
  private publisherId: string | undefined = undefined;
  /** Number of levels, or `ends.length + 1` for a topic deeper than any filter can be. */
  private levels = 0;
  /** `ends[i]` is the index just past level `i`; level `i` starts at `ends[i - 1] + 1`. */
  private readonly ends: Int32Array;
  /** `hashes[i]` is the `levelHash` of level `i`. */
  private readonly hashes: Int32Array;
  private out: Subscription<S, O>[] = NO_OUT;
  private n = 0;
  private readonly policy: SharePolicy;
  private readonly isAvailable: ((subscriber: S) => boolean) | undefined;

  constructor(maxLevels: number, policy: SharePolicy, isAvailable: ((subscriber: S) => boolean) | undefined) {
    this.ends = new Int32Array(maxLevels);
    this.hashes = new Int32Array(maxLevels);
    this.policy = policy;
    this.isAvailable = isAvailable;
  }

  /** Writes the matches of `topic` to `out` from index 0 and returns their number. */
  run(
    root: TrieNode<S, O>,
    topic: string,
    out: Subscription<S, O>[],
    publisherId: string | undefined,
  ): number {
    this.busy = true;
    this.topic = topic;
    this.publisherId = publisherId;
    this.out = out;
    this.n = 0;
    this.findLevels(topic);
    try {
      // MQTT-4.7.2-1: filters starting with a wildcard do not match topics starting with '$'
      if (topic.charCodeAt(0) === DOLLAR) this.walkChildren(root, 0);
      else this.walk(root, 0);
      return this.n;
    } finally {
      this.out = NO_OUT;
      this.topic = '';
      this.publisherId = undefined;
      this.busy = false;
    }
  }

  /** One pass over the topic: where each level ends and its hash (FNV-1a, as `levelHash`). */
  private findLevels(topic: string): void {
    const ends = this.ends;
    const hashes = this.hashes;
    const max = ends.length;
    const length = topic.length;
    let levels = 0;
    let hash = FNV_OFFSET;
    for (let i = 0; i < length; i++) {
      const c = topic.charCodeAt(i);
      if (c !== SLASH) {
        hash = Math.imul(hash ^ c, FNV_PRIME);
        continue;
      }
      ends[levels] = i;
      hashes[levels] = hash;
      hash = FNV_OFFSET;
      if (++levels === max) {
        this.levels = max + 1; // deeper than any filter: only '#' can match, the rest is never read
        return;
      }
    }
    ends[levels] = length;
    hashes[levels] = hash;
    this.levels = levels + 1;
  }

  private walk(node: TrieNode<S, O>, i: number): void {
    // '#' matches the rest, including nothing: 'a/#' matches 'a' (MQTT-4.7.1-2)
    const hashChild = node.hashChild;
    if (hashChild !== undefined) this.collect(hashChild);
    if (i === this.levels) {
      this.collect(node);
      return;
    }
    const plusChild = node.plusChild;
    if (plusChild !== undefined) this.walk(plusChild, i + 1);
    this.walkChildren(node, i);
  }

  /** Follows the child named like level `i`, if any. */
  private walkChildren(node: TrieNode<S, O>, i: number): void {
    if (node.children === undefined) return;
    const start = i === 0 ? 0 : this.ends[i - 1]! + 1;
    const child = findChildAt(node, this.topic, start, this.ends[i]!, this.hashes[i]!);
    if (child !== undefined) this.walk(child, i + 1);
  }

  private collect(node: TrieNode<S, O>): void {
    const out = this.out;
    let n = this.n;
    const subs = node.subs;
    if (subs instanceof SubscriptionEntry) {
      out[n++] = subs;
    } else if (subs !== undefined) {
      for (let s = 0; s < subs.length; s++) out[n++] = subs[s]!;
    }
    const groups = node.groups;
    if (groups !== undefined) {
      for (let g = 0; g < groups.length; g++) {
        const member = this.pick(groups[g]!);
        if (member !== undefined) out[n++] = member;
      }
    }
    this.n = n;
  }

  /** One available member of `group`, starting where the policy says; undefined if none. */
  private pick(group: ShareGroup<S, O>): SubscriptionEntry<S, O> | undefined {
    const members = group.members;
    const n = members.length;
    let i = this.policy.first(group, this.topic, this.publisherId);
    if (!(i >= 0 && i < n && Number.isInteger(i))) i = wrapIndex(i, n);
    const isAvailable = this.isAvailable;
    for (let tried = 0; tried < n; tried++) {
      const member = members[i]!;
      if (isAvailable === undefined || isAvailable(member.subscriber)) {
        this.policy.chosen(group, i);
        return member;
      }
      i = i + 1 === n ? 0 : i + 1;
    }
    return undefined;
  }
}

/** A policy's out-of-range, fractional or non-finite index, wrapped into `[0, n)`. */
function wrapIndex(i: number, n: number): number {
  if (!Number.isFinite(i)) return 0;
  return ((Math.trunc(i) % n) + n) % n;
}
