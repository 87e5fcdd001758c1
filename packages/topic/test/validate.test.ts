import { describe, expect, it } from 'vitest';
import {
  isTopicError,
  isValidTopicFilter,
  isValidTopicName,
  MAX_TOPIC_BYTES,
  parseSharedFilter,
  TopicError,
  type TopicErrorCode,
  topicFilterError,
  topicNameError,
} from '../src/index.js';

function nameCode(name: string, maxLevels?: number): TopicErrorCode | undefined {
  return topicNameError(name, maxLevels)?.code;
}

function filterCode(filter: string, maxLevels?: number): TopicErrorCode | undefined {
  return topicFilterError(filter, maxLevels)?.code;
}

describe('topic names', () => {
  it.each([
    'a',
    'sport/tennis/player1',
    '/',
    '/a',
    'a/',
    '//',
    '$SYS/broker/uptime',
    'a b/ü/日本/😀',
    'A/a',
    '$share/g/x', // not special in a topic name
  ])('accepts %j', (name) => {
    expect(topicNameError(name)).toBeUndefined();
    expect(isValidTopicName(name)).toBe(true);
  });

  it.each<[string, TopicErrorCode]>([
    ['', 'TOPIC_EMPTY'],
    ['a/+', 'TOPIC_WILDCARD_IN_NAME'],
    ['+', 'TOPIC_WILDCARD_IN_NAME'],
    ['a/#', 'TOPIC_WILDCARD_IN_NAME'],
    ['a+b', 'TOPIC_WILDCARD_IN_NAME'],
    ['a#', 'TOPIC_WILDCARD_IN_NAME'],
    ['a\u0000b', 'TOPIC_NULL_CHARACTER'],
    ['\u0000', 'TOPIC_NULL_CHARACTER'],
  ])('rejects %j with %s', (name, code) => {
    expect(nameCode(name)).toBe(code);
    expect(isValidTopicName(name)).toBe(false);
  });

  it('says where and what in the message', () => {
    const error = topicNameError('a/b+')!;
    expect(error.message).toBe(`topic name "a/b+": wildcard '+' at index 3 is not allowed in a topic name`);
    expect(error.index).toBe(3);
    expect(error.topic).toBe('a/b+');
    expect(topicNameError('x#y+')!.index).toBe(1);
    expect(topicNameError('a\u0000')!.message).toBe('topic name "a\\u0000" contains U+0000 at index 1');
    expect(topicNameError('')!.message).toBe('topic name is empty');
  });

  it('bounds the length at 65535 bytes of UTF-8, not characters', () => {
    expect(nameCode('a'.repeat(MAX_TOPIC_BYTES))).toBeUndefined();
    const long = topicNameError('a'.repeat(MAX_TOPIC_BYTES + 1))!;
    expect(long.code).toBe('TOPIC_TOO_LONG');
    expect(long.actual).toBe(65536);
    expect(long.limit).toBe(65535);
    expect(long.message).toBe('topic name of 65536 bytes exceeds the maximum of 65535 bytes');
    // 21845 3-byte characters = 65535 bytes; one more byte is too many
    expect(nameCode('€'.repeat(21845))).toBeUndefined();
    expect(nameCode(`${'€'.repeat(21845)}a`)).toBe('TOPIC_TOO_LONG');
    // 2-byte characters and surrogate pairs (4 bytes for 2 UTF-16 units)
    expect(nameCode('é'.repeat(32767))).toBeUndefined();
    expect(nameCode('é'.repeat(32768))).toBe('TOPIC_TOO_LONG');
    expect(nameCode('😀'.repeat(16383))).toBeUndefined();
    expect(nameCode('😀'.repeat(16384))).toBe('TOPIC_TOO_LONG');
    expect(topicNameError('😀'.repeat(16384))!.actual).toBe(65536);
  });

  it('counts a lone surrogate as 3 bytes, as Buffer.byteLength does', () => {
    const lone = '\ud800'.repeat(21845);
    expect(Buffer.byteLength(lone)).toBe(65535);
    expect(nameCode(lone)).toBeUndefined();
    expect(nameCode(`${lone}a`)).toBe('TOPIC_TOO_LONG');
  });

  it('bounds the levels when maxLevels is given', () => {
    expect(nameCode('a/b/c', 3)).toBeUndefined();
    const deep = topicNameError('a/b/c/d', 3)!;
    expect(deep.code).toBe('TOPIC_TOO_DEEP');
    expect(deep.actual).toBe(4);
    expect(deep.limit).toBe(3);
    expect(deep.message).toBe('topic name "a/b/c/d" has 4 levels, more than maxLevels 3');
    expect(nameCode('///', 3)).toBe('TOPIC_TOO_DEEP');
    expect(nameCode('//', 3)).toBeUndefined();
    expect(isValidTopicName('a/b', 1)).toBe(false);
  });

  it('rejects a maxLevels that is not a positive integer as a bug', () => {
    expect(() => topicNameError('a', 0)).toThrow(RangeError);
    expect(() => isValidTopicFilter('a', 1.5)).toThrow('maxLevels must be a positive integer, got 1.5');
  });
});

describe('topic filters', () => {
  it.each([
    'a',
    '#',
    '+',
    '+/+',
    '/+',
    '+/',
    'sport/#',
    'sport/tennis/#',
    'sport/+/player1',
    '+/tennis/#',
    '$SYS/#',
    '$SYS/+/x',
    '//',
    '$share', // not a shared subscription: no '/' after it
    '$sharegroup/a',
    '$share/g/#',
    '$share/g/+/a/#',
    '$share/group-1/a/b',
    '$share/g//',
    '$share/$share/a',
  ])('accepts %j', (filter) => {
    expect(topicFilterError(filter)).toBeUndefined();
    expect(isValidTopicFilter(filter)).toBe(true);
  });

  it.each<[string, TopicErrorCode]>([
    ['', 'TOPIC_EMPTY'],
    ['a\u0000', 'TOPIC_NULL_CHARACTER'],
    ['a+', 'TOPIC_INVALID_WILDCARD'],
    ['+a', 'TOPIC_INVALID_WILDCARD'],
    ['a/b+/c', 'TOPIC_INVALID_WILDCARD'],
    ['++', 'TOPIC_INVALID_WILDCARD'],
    ['a#', 'TOPIC_INVALID_WILDCARD'],
    ['#a', 'TOPIC_INVALID_WILDCARD'],
    ['a/#/b', 'TOPIC_INVALID_WILDCARD'],
    ['#/', 'TOPIC_INVALID_WILDCARD'],
    ['##', 'TOPIC_INVALID_WILDCARD'],
    ['a/#/#', 'TOPIC_INVALID_WILDCARD'],
    ['$share/', 'TOPIC_INVALID_SHARE'],
    ['$share//a', 'TOPIC_INVALID_SHARE'],
    ['$share/g', 'TOPIC_INVALID_SHARE'],
    ['$share/g/', 'TOPIC_INVALID_SHARE'],
    ['$share/g+/a', 'TOPIC_INVALID_SHARE'],
    ['$share/#/a', 'TOPIC_INVALID_SHARE'],
    ['$share/+/a', 'TOPIC_INVALID_SHARE'],
    ['$share/g/a+', 'TOPIC_INVALID_WILDCARD'],
    ['$share/g/#/a', 'TOPIC_INVALID_WILDCARD'],
  ])('rejects %j with %s', (filter, code) => {
    expect(filterCode(filter)).toBe(code);
    expect(isValidTopicFilter(filter)).toBe(false);
  });

  it('writes lowercase, specific messages', () => {
    expect(topicFilterError('a/#/b')!.message).toBe(`topic filter "a/#/b": '#' must be the last level`);
    expect(topicFilterError('a/b#')!.message).toBe(
      `topic filter "a/b#": '#' must occupy a whole level (index 3)`,
    );
    expect(topicFilterError('a/+b')!.message).toBe(
      `topic filter "a/+b": '+' must occupy a whole level (index 2)`,
    );
    expect(topicFilterError('$share//a')!.message).toBe(
      'shared subscription "$share//a": share name is empty',
    );
    expect(topicFilterError('$share/g')!.message).toBe(
      'shared subscription "$share/g": no topic filter after the share name',
    );
    expect(topicFilterError('$share/a#b/x')!.message).toBe(
      `shared subscription "$share/a#b/x": share name must not contain '+' or '#' (index 8)`,
    );
    expect(topicFilterError('')!.message).toBe('topic filter is empty');
  });

  it('quotes at most 100 characters of a long filter', () => {
    const error = topicFilterError(`${'a'.repeat(200)}+`)!;
    expect(error.message).toBe(
      `topic filter "${'a'.repeat(100)}…": '+' must occupy a whole level (index 200)`,
    );
    expect(error.topic).toHaveLength(201);
  });

  it('bounds the length at 65535 bytes and the levels at maxLevels, after the share prefix', () => {
    expect(filterCode(`${'a'.repeat(65533)}/#`)).toBeUndefined();
    expect(filterCode(`${'a'.repeat(65534)}/#`)).toBe('TOPIC_TOO_LONG');
    expect(filterCode('a/b/#', 3)).toBeUndefined();
    expect(filterCode('a/b/c/#', 3)).toBe('TOPIC_TOO_DEEP');
    expect(filterCode('$share/g/a/b/#', 3)).toBeUndefined();
    expect(filterCode('$share/g/a/b/c/#', 3)).toBe('TOPIC_TOO_DEEP');
    expect(topicFilterError('$share/g/a/b/c/#', 3)!.actual).toBe(4);
  });
});

describe('parseSharedFilter', () => {
  it('splits a valid shared subscription', () => {
    expect(parseSharedFilter('$share/g/a/+')).toEqual({ group: 'g', topicFilter: 'a/+' });
    expect(parseSharedFilter('$share/consumer-1/#')).toEqual({ group: 'consumer-1', topicFilter: '#' });
    expect(parseSharedFilter('$share/g//')).toEqual({ group: 'g', topicFilter: '/' });
    expect(parseSharedFilter('$share/g/$share/x')).toEqual({ group: 'g', topicFilter: '$share/x' });
  });

  it('returns undefined for other filters and for invalid shared ones', () => {
    for (const filter of [
      'a/b',
      '$share',
      '$SYS/#',
      '$share//a',
      '$share/g',
      '$share/g/',
      '$share/g+/a',
      '$share/g/a#',
    ]) {
      expect(parseSharedFilter(filter)).toBeUndefined();
    }
  });
});

describe('TopicError', () => {
  it('is detected by name and code, even across copies of the package', () => {
    const error = topicFilterError('a/#/b')!;
    expect(error).toBeInstanceOf(TopicError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('TopicError');
    expect(isTopicError(error)).toBe(true);
    const foreign = Object.assign(new Error('x'), { name: 'TopicError', code: 'TOPIC_EMPTY' });
    expect(isTopicError(foreign)).toBe(true);
    expect(isTopicError(new Error('x'))).toBe(false);
    expect(isTopicError(Object.assign(new Error('x'), { name: 'TopicError', code: 'CODEC_X' }))).toBe(false);
    expect(isTopicError('TOPIC_EMPTY')).toBe(false);
    expect(isTopicError(undefined)).toBe(false);
  });
});
