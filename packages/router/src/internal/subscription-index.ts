import { DeliveryMerger, type Subscription, SubscriptionTrie } from '@mqtt-adapt/topic';
import { ConnectionState } from '../connection.js';
import type { FanOutHook } from '../fan-out.js';
import type { Session, SubscriptionOptions } from '../session.js';

function isOnline(session: Session): boolean {
  return session.connection !== undefined && session.connection.state === ConnectionState.Connected;
}

/**
 * Subscriptions of every session, in the topic trie, merged per session for delivery. Match
 * buffers are reused across publishes; a re-entrant publish (from an event listener) gets
 * its own.
 */
export class SubscriptionIndex {
  private readonly trie: SubscriptionTrie<Session, SubscriptionOptions>;
  private readonly matches: Subscription<Session, SubscriptionOptions>[] = [];
  private readonly merger = new DeliveryMerger<Session, SubscriptionOptions>();
  private busy = false;
  /** Subscriptions per filter, kept only with a fan-out hook: it hears of first and last ones. */
  private readonly filterCounts: Map<string, number> | undefined;

  /** `maxLevels`: the broker's `maxTopicLevels`, which SUBSCRIBE checks before `add`. */
  constructor(
    maxLevels: number,
    private readonly fanOut?: FanOutHook,
  ) {
    // Shared subscriptions pick among online members only; offline ones are skipped.
    this.trie = new SubscriptionTrie<Session, SubscriptionOptions>({ isAvailable: isOnline, maxLevels });
    this.filterCounts = fanOut === undefined ? undefined : new Map();
  }

  get size(): number {
    return this.trie.size;
  }

  add(topicFilter: string, session: Session, options: SubscriptionOptions): void {
    const added = this.trie.add(topicFilter, session, options);
    const counts = this.filterCounts;
    if (counts === undefined || !added) return;
    const count = counts.get(topicFilter) ?? 0;
    counts.set(topicFilter, count + 1);
    if (count === 0) this.fanOut!.filterAdded(topicFilter);
  }

  remove(topicFilter: string, session: Session): boolean {
    const removed = this.trie.remove(topicFilter, session);
    const counts = this.filterCounts;
    if (counts === undefined || !removed) return removed;
    const count = counts.get(topicFilter) ?? 0;
    if (count <= 1) {
      counts.delete(topicFilter);
      this.fanOut!.filterRemoved(topicFilter);
    } else counts.set(topicFilter, count - 1);
    return removed;
  }

  /**
   * Deliveries for one publish, in `merger.deliveries[0 .. count)`: one per session for its
   * non-shared subscriptions (at the highest granted QoS), one per matching share group;
   * `noLocal` subscriptions of `publisher` are left out. Call `release(merger)` when done.
   */
  collect(topicName: string, publisher: Session | undefined): DeliveryMerger<Session, SubscriptionOptions> {
    if (this.busy) {
      // Re-entrant publish (from an event listener): fresh buffers, the shared ones are in use.
      const merger = new DeliveryMerger<Session, SubscriptionOptions>();
      merger.merge(this.trie.match(topicName, [], publisher?.clientId), publisher);
      return merger;
    }
    this.busy = true;
    this.merger.merge(this.trie.match(topicName, this.matches, publisher?.clientId), publisher);
    return this.merger;
  }

  /**
   * The online member of the share group `sharedFilter` (`$share/{group}/{filter}`) that the
   * group's policy picks for `topicName`, or `undefined` when none is online.
   */
  sharedMember(
    topicName: string,
    sharedFilter: string,
  ): Subscription<Session, SubscriptionOptions> | undefined {
    for (const subscription of this.trie.match(topicName, [])) {
      if (subscription.topicFilter === sharedFilter) return subscription;
    }
    return undefined;
  }

  release(merger: DeliveryMerger<Session, SubscriptionOptions>): void {
    if (merger !== this.merger) return;
    this.busy = false;
    // Drop references so the reused buffers pin no session between publishes.
    this.matches.length = 0;
  }
}
