import { filterLevelsMatch, parseSharedFilter, type Subscription, SubscriptionTrie } from '@mqtt-adapt/topic';
import { covers, intersects, specificity } from './acl-filters.js';

/** One ACL rule as the store keeps it. */
export interface AclRuleSpec {
  /** Whom it applies to: one user, every client without a user name, or everyone. */
  readonly subject: 'user' | 'anonymous' | 'all';
  /** The user, when `subject` is `user`. */
  readonly username: string | undefined;
  /** Topic filter; `%u` and `%c` stand for the client's user name and client id. */
  readonly topicFilter: string;
  /** `subscribe` also governs receiving: a topic one may not subscribe to is never delivered. */
  readonly action: 'publish' | 'subscribe' | 'all';
  readonly permission: 'allow' | 'deny';
}

interface CompiledRule {
  readonly spec: AclRuleSpec;
  readonly levels: readonly string[];
  readonly specificity: number;
  readonly deny: boolean;
}

const NO_OPTIONS = { qos: 0 } as const;
/** Per-client cache of decisions by topic; cleared when it grows past this. */
const CACHE_LIMIT = 1024;

/**
 * ACL rules compiled for lookups: rules without `%u`/`%c` in one topic trie shared by every
 * client, pattern rules instantiated once per client. Decision, documented in the README:
 * among the rules that apply to the client and the action and match the topic, the most
 * specific filter decides (literal levels over `+` over `#`), and deny wins a tie. With no rule
 * at all everything is allowed; once any rule exists, what no rule matches is denied.
 */
export class Acl {
  readonly ruleCount: number;
  /** Rules skipped because their filter is not valid (reported once by the loader). */
  readonly invalidRules: readonly AclRuleSpec[];
  /** @internal */
  readonly trie = new SubscriptionTrie<CompiledRule, typeof NO_OPTIONS>();
  /** @internal every valid non-pattern rule, for subscribe checks (rare: a scan is fine) */
  readonly plainRules: CompiledRule[] = [];
  /** @internal */
  readonly patternRules: AclRuleSpec[] = [];

  constructor(rules: readonly AclRuleSpec[]) {
    const invalid: AclRuleSpec[] = [];
    for (const spec of rules) {
      if (!isUsableFilter(spec.topicFilter)) {
        invalid.push(spec);
        continue;
      }
      if (spec.topicFilter.includes('%u') || spec.topicFilter.includes('%c')) {
        this.patternRules.push(spec);
        continue;
      }
      const rule = compile(spec, spec.topicFilter);
      this.plainRules.push(rule);
      this.trie.add(spec.topicFilter, rule, NO_OPTIONS);
    }
    this.invalidRules = invalid;
    this.ruleCount = rules.length - invalid.length;
  }

  /** The rules as they apply to one client, with its own decision cache. */
  forClient(username: string | undefined, clientId: string): ClientAcl {
    return new ClientAcl(this, username, clientId);
  }
}

/** One client's view of the ACL. Create it at CONNECT; it caches decisions per topic. */
export class ClientAcl {
  private readonly patterns: CompiledRule[] = [];
  private readonly readCache = new Map<string, boolean>();
  private lastPublishTopic: string | undefined = undefined;
  private lastPublishAllowed = false;
  private lastReadTopic: string | undefined = undefined;
  private lastReadAllowed = false;
  private readonly publishCache = new Map<string, boolean>();
  private readonly scratch: Array<Subscription<CompiledRule, typeof NO_OPTIONS>> = [];

  constructor(
    readonly acl: Acl,
    private readonly username: string | undefined,
    clientId: string,
  ) {
    for (const spec of acl.patternRules) {
      if (!this.appliesTo(spec)) continue;
      const filter = instantiate(spec.topicFilter, username, clientId);
      if (filter !== undefined) this.patterns.push(compile(spec, filter));
    }
  }

  mayPublish(topicName: string): boolean {
    // Clients mostly repeat their last topic: a string compare is cheaper than hashing a freshly
    // decoded topic for the cache.
    if (topicName === this.lastPublishTopic) return this.lastPublishAllowed;
    const allowed = this.cached(this.publishCache, topicName, 'publish');
    this.lastPublishTopic = topicName;
    this.lastPublishAllowed = allowed;
    return allowed;
  }

  /** May this client receive a message on `topicName` (through any subscription)? */
  mayRead(topicName: string): boolean {
    if (topicName === this.lastReadTopic) return this.lastReadAllowed;
    const allowed = this.cached(this.readCache, topicName, 'subscribe');
    this.lastReadTopic = topicName;
    this.lastReadAllowed = allowed;
    return allowed;
  }

  /**
   * May this client subscribe to `topicFilter` (`$share/{group}/` is looked through)? The most
   * specific rule covering the whole filter decides; a filter wider than what the client may
   * read (`#` with only `sensors/#` allowed) is granted when an allowing rule overlaps it, and
   * every delivery through it is then checked with `mayRead`.
   */
  maySubscribe(topicFilter: string): boolean {
    if (this.acl.ruleCount === 0) return true;
    const filter = parseSharedFilter(topicFilter)?.topicFilter ?? topicFilter;
    const levels = filter.split('/');
    const decision = new Decision();
    let overlapsAllowed = false;
    const consider = (rule: CompiledRule): void => {
      if (!this.appliesTo(rule.spec) || rule.spec.action === 'publish') return;
      if (covers(rule.levels, levels)) decision.add(rule);
      else if (!rule.deny && intersects(rule.levels, levels)) overlapsAllowed = true;
    };
    for (const rule of this.acl.plainRules) consider(rule);
    for (const rule of this.patterns) consider(rule);
    if (decision.found) return decision.allowed;
    return overlapsAllowed;
  }

  private cached(cache: Map<string, boolean>, topicName: string, action: 'publish' | 'subscribe'): boolean {
    if (this.acl.ruleCount === 0) return true;
    const known = cache.get(topicName);
    if (known !== undefined) return known;
    const allowed = this.decide(topicName, action);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(topicName, allowed);
    return allowed;
  }

  private decide(topicName: string, action: 'publish' | 'subscribe'): boolean {
    const decision = new Decision();
    const scratch = this.acl.trie.match(topicName, this.scratch);
    for (const { subscriber: rule } of scratch) {
      if (this.appliesTo(rule.spec) && (rule.spec.action === 'all' || rule.spec.action === action))
        decision.add(rule);
    }
    scratch.length = 0;
    for (const rule of this.patterns) {
      if (
        (rule.spec.action === 'all' || rule.spec.action === action) &&
        filterLevelsMatch(rule.levels, topicName)
      )
        decision.add(rule);
    }
    // Nothing matched while rules exist: denied, as Mosquitto does with an ACL file.
    return decision.found && decision.allowed;
  }

  private appliesTo(spec: AclRuleSpec): boolean {
    if (spec.subject === 'all') return true;
    if (spec.subject === 'anonymous') return this.username === undefined;
    return this.username !== undefined && spec.username === this.username;
  }
}

/** The most specific matching rule wins; deny wins among equally specific ones. */
class Decision {
  private best = -1;
  private deny = false;

  get found(): boolean {
    return this.best >= 0;
  }

  get allowed(): boolean {
    return !this.deny;
  }

  add(rule: CompiledRule): void {
    if (rule.specificity > this.best) {
      this.best = rule.specificity;
      this.deny = rule.deny;
    } else if (rule.specificity === this.best && rule.deny) {
      this.deny = true;
    }
  }
}

function compile(spec: AclRuleSpec, filter: string): CompiledRule {
  const levels = filter.split('/');
  return { spec, levels, specificity: specificity(levels), deny: spec.permission === 'deny' };
}

/**
 * Replaces `%u` and `%c`. A rule whose value is missing (`%u` for an anonymous client) or
 * would change the filter's shape (a `/`, `+` or `#` in a user name or client id) does not
 * apply: a client id must not widen its own rules.
 */
function instantiate(filter: string, username: string | undefined, clientId: string): string | undefined {
  if (filter.includes('%u') && (username === undefined || /[/+#]/.test(username))) return undefined;
  if (filter.includes('%c') && /[/+#]/.test(clientId)) return undefined;
  return filter.replaceAll('%u', username ?? '').replaceAll('%c', clientId);
}

/** A filter an ACL rule may hold: a valid non-shared topic filter (patterns checked as written). */
export function isUsableFilter(filter: string): boolean {
  if (filter.length === 0 || filter.startsWith('$share/')) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level === '#' ? i !== levels.length - 1 : level !== '+' && /[+#]/.test(level)) return false;
  }
  return true;
}
