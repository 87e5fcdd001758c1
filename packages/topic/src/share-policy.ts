import { levelHash } from './internal/child-table.js';
import type { Subscription, SubscriptionOptions } from './types.js';

/**
 * What a share policy sees of one shared subscription: the subscribers of `$share/{name}/{topicFilter}`.
 * `members` is in subscribe order (a member that leaves shifts the later ones down by one).
 */
export interface ShareGroupState<S = unknown, O extends SubscriptionOptions = SubscriptionOptions> {
  /** The ShareName. */
  readonly name: string;
  /** The filter without the `$share/{name}/` prefix. */
  readonly topicFilter: string;
  readonly members: readonly Subscription<S, O>[];
  /**
   * Free for the policy: round-robin keeps its next index here. Starts at 0; when a member
   * before it leaves the trie moves it down by one (it keeps pointing at the same member), and
   * when it is past the last member it goes back to 0.
   */
  cursor: number;
}

/**
 * Chooses which member of a share group gets a message. The trie offers the message to
 * `members[first(...)]`, then to the following members in order (wrapping) until its
 * `isAvailable` predicate accepts one, and tells the policy with `chosen`. When no member is
 * available the group gets nothing and `chosen` is not called. Both are plain method calls
 * per matching group; keep them allocation-free.
 */
export interface SharePolicy {
  /** Index of the member to try first; out-of-range values are wrapped into `[0, members.length)`. */
  first(group: ShareGroupState, topicName: string, publisherId: string | undefined): number;
  /** The member at `index` receives this message. */
  chosen(group: ShareGroupState, index: number): void;
}

/**
 * The default: members take turns. An unavailable member is skipped and the turn passes to
 * the next one, so over `n` messages each of `n` available members gets one.
 */
export function roundRobinSharePolicy(): SharePolicy {
  return {
    first: (group) => group.cursor,
    chosen: (group, index) => {
      group.cursor = index + 1 === group.members.length ? 0 : index + 1;
    },
  };
}

/** A uniformly random member; `random` returns `[0, 1)` like `Math.random` (inject one for tests). */
export function randomSharePolicy(random: () => number = Math.random): SharePolicy {
  return {
    first: (group) => Math.floor(random() * group.members.length),
    chosen: () => {},
  };
}

/**
 * Sticky: the same key always goes to the same member while the group's membership does not
 * change. `by: 'publisher'` keys on the `publisherId` given to `match` (falling back to the
 * topic name when there is none), `by: 'topic'` on the topic name, which keeps each topic's
 * messages in order on one consumer. An unavailable member's keys move to the next member
 * in order; the other members keep theirs. A join or leave remaps keys (hash modulo size).
 */
export function hashSharePolicy(by: 'publisher' | 'topic' = 'publisher'): SharePolicy {
  return {
    first: (group, topicName, publisherId) => {
      const key = by === 'publisher' && publisherId !== undefined ? publisherId : topicName;
      // FNV-1a over the UTF-16 code units: cheap, and the same in every process and run
      return (levelHash(key, 0, key.length) >>> 0) % group.members.length;
    },
    chosen: () => {},
  };
}
