import type { SubscriptionOptions } from '../types.js';
import { SubscriptionEntry, type TrieNode } from './trie-node.js';

/**
 * The non-shared subscriptions of one node (`node.subs`): undefined, one entry, or an array.
 * Arrays below `BIG_LIST` are replaced on every change so they stay exactly sized (a pushed
 * array reserves 16+ spare slots); from `BIG_LIST` on they grow by `push`, shrink by
 * swap-remove, and get a subscriber -> position index so add and remove stay O(1) for a
 * filter with 100k subscribers.
 */
export const BIG_LIST = 16;

/** Position indexes of the big lists, by node. */
export type ListIndexes<S, O extends SubscriptionOptions> = Map<TrieNode<S, O>, Map<S, number>>;

export function findEntry<S, O extends SubscriptionOptions>(
  node: TrieNode<S, O>,
  subscriber: S,
  indexes: ListIndexes<S, O>,
): SubscriptionEntry<S, O> | undefined {
  const subs = node.subs;
  if (subs === undefined) return undefined;
  if (subs instanceof SubscriptionEntry) return subs.subscriber === subscriber ? subs : undefined;
  if (subs.length >= BIG_LIST) {
    const position = indexes.get(node)!.get(subscriber);
    return position === undefined ? undefined : subs[position];
  }
  for (let i = 0; i < subs.length; i++) {
    const entry = subs[i]!;
    if (entry.subscriber === subscriber) return entry;
  }
  return undefined;
}

/** Appends an entry whose subscriber is known to be absent. */
export function appendEntry<S, O extends SubscriptionOptions>(
  node: TrieNode<S, O>,
  entry: SubscriptionEntry<S, O>,
  indexes: ListIndexes<S, O>,
): void {
  const subs = node.subs;
  if (subs === undefined) {
    node.subs = entry;
  } else if (subs instanceof SubscriptionEntry) {
    node.subs = [subs, entry];
  } else if (subs.length < BIG_LIST - 1) {
    node.subs = subs.concat([entry]);
  } else if (subs.length === BIG_LIST - 1) {
    const big = subs.concat([entry]);
    const index = new Map<S, number>();
    for (let i = 0; i < big.length; i++) index.set(big[i]!.subscriber, i);
    indexes.set(node, index);
    node.subs = big;
  } else {
    indexes.get(node)!.set(entry.subscriber, subs.length);
    subs.push(entry);
  }
}

/** Removes `subscriber`'s entry; false if it has none. */
export function removeEntry<S, O extends SubscriptionOptions>(
  node: TrieNode<S, O>,
  subscriber: S,
  indexes: ListIndexes<S, O>,
): boolean {
  const subs = node.subs;
  if (subs === undefined) return false;
  if (subs instanceof SubscriptionEntry) {
    if (subs.subscriber !== subscriber) return false;
    node.subs = undefined;
    return true;
  }
  if (subs.length >= BIG_LIST) return removeFromBig(node, subs, subscriber, indexes);
  const i = subs.findIndex((entry) => entry.subscriber === subscriber);
  if (i === -1) return false;
  node.subs = subs.length === 2 ? subs[1 - i] : subs.slice(0, i).concat(subs.slice(i + 1));
  return true;
}

function removeFromBig<S, O extends SubscriptionOptions>(
  node: TrieNode<S, O>,
  subs: SubscriptionEntry<S, O>[],
  subscriber: S,
  indexes: ListIndexes<S, O>,
): boolean {
  const index = indexes.get(node)!;
  const i = index.get(subscriber);
  if (i === undefined) return false;
  index.delete(subscriber);
  const last = subs.pop()!;
  if (i < subs.length) {
    // swap-remove: order within one filter carries no meaning
    subs[i] = last;
    index.set(last.subscriber, i);
  }
  if (subs.length < BIG_LIST) {
    indexes.delete(node);
    node.subs = subs.slice(); // back to an exactly sized array
  }
  return true;
}
