import { TopicError, type TopicErrorCode } from './errors.js';
import { SHARE_PREFIX, utf8ByteLength } from './internal/levels.js';

/** Longest topic name or filter MQTT can carry: a UTF-8 string of at most 65535 bytes. */
export const MAX_TOPIC_BYTES = 65535;

/** What `parseSharedFilter` returns for `$share/{group}/{topicFilter}`. */
export interface SharedFilter {
  /** The ShareName. */
  readonly group: string;
  /** The topic filter after the share name, e.g. `a/+` for `$share/g/a/+`. */
  readonly topicFilter: string;
}

// Problems as small numbers so the boolean validators never allocate; `details` builds the
// error only when one is asked for. `problemIndex`/`problemActual` are scratch outputs of the
// last check (synchronous, so no caller can observe another call's values).
const OK = 0;
const EMPTY = 1;
const TOO_LONG = 2;
const NULL_CHARACTER = 3;
const WILDCARD_IN_NAME = 4;
const PLUS_NOT_ALONE = 5;
const HASH_NOT_ALONE = 6;
const HASH_NOT_LAST = 7;
const SHARE_EMPTY_GROUP = 8;
const SHARE_WILDCARD_GROUP = 9;
const SHARE_NO_FILTER = 10;
const TOO_DEEP = 11;

const SLASH = 0x2f;
/** Below this many UTF-16 units a string cannot exceed 65535 UTF-8 bytes (3 bytes per unit at most). */
const SURELY_SHORT = Math.floor(MAX_TOPIC_BYTES / 3);

let problemIndex = 0;
let problemActual = 0;

function checkMaxLevels(maxLevels: number | undefined): number {
  if (maxLevels === undefined) return Number.POSITIVE_INFINITY;
  if (!Number.isInteger(maxLevels) || maxLevels < 1) {
    throw new RangeError(`maxLevels must be a positive integer, got ${maxLevels}`);
  }
  return maxLevels;
}

/** Empty, too long, U+0000: the rules names and filters share. */
function checkString(s: string): number {
  const length = s.length;
  if (length === 0) return EMPTY;
  if (length > SURELY_SHORT) {
    const bytes = utf8ByteLength(s);
    if (bytes > MAX_TOPIC_BYTES) {
      problemActual = bytes;
      return TOO_LONG;
    }
  }
  const nul = s.indexOf('\u0000');
  if (nul !== -1) {
    problemIndex = nul;
    return NULL_CHARACTER;
  }
  return OK;
}

/** Counts levels from `start` only when they could exceed `maxLevels`. */
function checkDepth(s: string, start: number, maxLevels: number): number {
  if (s.length - start < maxLevels) return OK; // n characters hold at most n levels
  let levels = 1;
  let slash = s.indexOf('/', start);
  while (slash !== -1) {
    levels++;
    slash = s.indexOf('/', slash + 1);
  }
  if (levels <= maxLevels) return OK;
  problemActual = levels;
  return TOO_DEEP;
}

function checkName(name: string, maxLevels: number): number {
  const problem = checkString(name);
  if (problem !== OK) return problem;
  const plus = name.indexOf('+');
  const hash = name.indexOf('#');
  if (plus !== -1 || hash !== -1) {
    problemIndex = plus === -1 ? hash : hash === -1 ? plus : Math.min(plus, hash);
    return WILDCARD_IN_NAME;
  }
  return checkDepth(name, 0, maxLevels);
}

/** Checks `$share/{group}/` and returns where the inner filter starts (or a negative problem). */
function checkShare(filter: string): number {
  const slash = filter.indexOf('/', SHARE_PREFIX.length);
  if (slash === SHARE_PREFIX.length) return -SHARE_EMPTY_GROUP;
  if (slash === -1 || slash === filter.length - 1) {
    problemIndex = filter.length;
    return -SHARE_NO_FILTER;
  }
  for (let i = SHARE_PREFIX.length; i < slash; i++) {
    const c = filter.charCodeAt(i);
    if (c === 0x2b || c === 0x23) {
      problemIndex = i;
      return -SHARE_WILDCARD_GROUP;
    }
  }
  return slash + 1;
}

function checkWildcards(filter: string, start: number): number {
  const end = filter.length;
  let plus = filter.indexOf('+', start);
  while (plus !== -1) {
    if (
      (plus !== start && filter.charCodeAt(plus - 1) !== SLASH) ||
      (plus + 1 !== end && filter.charCodeAt(plus + 1) !== SLASH)
    ) {
      problemIndex = plus;
      return PLUS_NOT_ALONE;
    }
    plus = filter.indexOf('+', plus + 1);
  }
  const hash = filter.indexOf('#', start);
  if (hash === -1) return OK;
  problemIndex = hash;
  if (hash !== start && filter.charCodeAt(hash - 1) !== SLASH) return HASH_NOT_ALONE;
  if (hash + 1 === end) return OK;
  return filter.charCodeAt(hash + 1) === SLASH ? HASH_NOT_LAST : HASH_NOT_ALONE;
}

function checkFilter(filter: string, maxLevels: number): number {
  const problem = checkString(filter);
  if (problem !== OK) return problem;
  let start = 0;
  if (filter.startsWith(SHARE_PREFIX)) {
    start = checkShare(filter);
    if (start < 0) return -start;
  }
  const wildcards = checkWildcards(filter, start);
  if (wildcards !== OK) return wildcards;
  return checkDepth(filter, start, maxLevels);
}

function quote(s: string): string {
  return JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}…` : s);
}

type Details = ConstructorParameters<typeof TopicError>[3];

/** Builds the error for a problem found by a check (error path only: allocating is fine). */
function toError(
  problem: number,
  kind: 'topic name' | 'topic filter',
  s: string,
  maxLevels: number,
): TopicError {
  const index = problemIndex;
  const actual = problemActual;
  const what = `${kind} ${quote(s)}`;
  const fail = (code: TopicErrorCode, message: string, details?: Details) =>
    new TopicError(code, message, s, details);
  switch (problem) {
    case EMPTY:
      return fail('TOPIC_EMPTY', `${kind} is empty`);
    case TOO_LONG:
      return fail(
        'TOPIC_TOO_LONG',
        `${kind} of ${actual} bytes exceeds the maximum of ${MAX_TOPIC_BYTES} bytes`,
        { actual, limit: MAX_TOPIC_BYTES },
      );
    case NULL_CHARACTER:
      return fail('TOPIC_NULL_CHARACTER', `${what} contains U+0000 at index ${index}`, { index });
    case WILDCARD_IN_NAME:
      return fail(
        'TOPIC_WILDCARD_IN_NAME',
        `${what}: wildcard '${s[index]}' at index ${index} is not allowed in a topic name`,
        { index },
      );
    case TOO_DEEP:
      return fail('TOPIC_TOO_DEEP', `${what} has ${actual} levels, more than maxLevels ${maxLevels}`, {
        actual,
        limit: maxLevels,
      });
    default:
      return filterRuleError(problem, what, s, index);
  }
}

/** The errors only a filter can have: misplaced wildcards and malformed `$share/`. */
function filterRuleError(problem: number, what: string, s: string, index: number): TopicError {
  const share = `shared subscription ${quote(s)}`;
  const fail = (code: TopicErrorCode, message: string, details: Details) =>
    new TopicError(code, message, s, details);
  switch (problem) {
    case PLUS_NOT_ALONE:
      return fail('TOPIC_INVALID_WILDCARD', `${what}: '+' must occupy a whole level (index ${index})`, {
        index,
      });
    case HASH_NOT_ALONE:
      return fail('TOPIC_INVALID_WILDCARD', `${what}: '#' must occupy a whole level (index ${index})`, {
        index,
      });
    case HASH_NOT_LAST:
      return fail('TOPIC_INVALID_WILDCARD', `${what}: '#' must be the last level`, { index });
    case SHARE_EMPTY_GROUP:
      return fail('TOPIC_INVALID_SHARE', `${share}: share name is empty`, { index: SHARE_PREFIX.length });
    case SHARE_WILDCARD_GROUP:
      return fail(
        'TOPIC_INVALID_SHARE',
        `${share}: share name must not contain '+' or '#' (index ${index})`,
        {
          index,
        },
      );
    case SHARE_NO_FILTER:
      return fail('TOPIC_INVALID_SHARE', `${share}: no topic filter after the share name`, { index });
    default:
      throw new RangeError(`unknown topic problem ${problem}`);
  }
}

/**
 * Why `topicName` cannot be a PUBLISH topic name, or `undefined` if it can: non-empty, at most
 * 65535 UTF-8 bytes, no U+0000, no `+` or `#`, and at most `maxLevels` levels when given.
 * Never throws for bad input (a bad `maxLevels` is a RangeError).
 */
export function topicNameError(topicName: string, maxLevels?: number): TopicError | undefined {
  const max = checkMaxLevels(maxLevels);
  const problem = checkName(topicName, max);
  return problem === OK ? undefined : toError(problem, 'topic name', topicName, max);
}

/**
 * Why `topicFilter` cannot be a SUBSCRIBE topic filter, or `undefined` if it can: the rules of
 * names, except that `+` may fill a level and `#` may fill the last one, and a
 * `$share/{group}/{filter}` needs a non-empty group without `+`, `#` or `/` and a valid filter.
 * `maxLevels` bounds the levels of the filter (after any `$share/{group}/`).
 */
export function topicFilterError(topicFilter: string, maxLevels?: number): TopicError | undefined {
  const max = checkMaxLevels(maxLevels);
  const problem = checkFilter(topicFilter, max);
  return problem === OK ? undefined : toError(problem, 'topic filter', topicFilter, max);
}

/** `topicNameError(topicName, maxLevels) === undefined`, without allocating. */
export function isValidTopicName(topicName: string, maxLevels?: number): boolean {
  return checkName(topicName, checkMaxLevels(maxLevels)) === OK;
}

/** `topicFilterError(topicFilter, maxLevels) === undefined`, without allocating. */
export function isValidTopicFilter(topicFilter: string, maxLevels?: number): boolean {
  return checkFilter(topicFilter, checkMaxLevels(maxLevels)) === OK;
}

/**
 * Splits a valid shared subscription `$share/{group}/{topicFilter}`; `undefined` for any other
 * filter, including an invalid shared one (ask `topicFilterError` why).
 */
export function parseSharedFilter(filter: string): SharedFilter | undefined {
  if (!filter.startsWith(SHARE_PREFIX)) return undefined;
  if (checkFilter(filter, Number.POSITIVE_INFINITY) !== OK) return undefined;
  const slash = filter.indexOf('/', SHARE_PREFIX.length);
  return { group: filter.slice(SHARE_PREFIX.length, slash), topicFilter: filter.slice(slash + 1) };
}
