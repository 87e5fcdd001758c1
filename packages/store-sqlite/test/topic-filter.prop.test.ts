import { filterLevelsMatch as topicMatches } from '@mqtt-adapt/router';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { retainedScan } from '../src/internal/topic-filter.js';

/** Reference matcher, written the slow and obvious way (MQTT 5.0 §4.7). */
function reference(filter: string[], topic: string[]): boolean {
  if (filter.length === 0) return topic.length === 0;
  const [head, ...rest] = filter;
  if (head === '#') return true;
  if (topic.length === 0) return false;
  if (head !== '+' && head !== topic[0]) return false;
  return reference(rest, topic.slice(1));
}

function matchesReference(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  return reference(filter.split('/'), topic.split('/'));
}

/** SQLite compares TEXT (BINARY collation) by UTF-8 bytes, not by UTF-16 code units as JS does. */
const sqliteCompare = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

const level = fc.constantFrom('a', 'b', 'ab', '', '$x', '0', '%', '_', 'é', '🙂', '\uffff', 'a0');
const topicLevels = fc.array(level, { minLength: 1, maxLength: 5 });
const filterLevels = fc
  .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 0, maxLength: 5 }), fc.boolean())
  .map(([levels, hash]) => (hash ? [...levels, '#'] : levels))
  .filter((levels) => levels.length > 0);

describe('retained topic matching', () => {
  it('topicMatches agrees with the reference matcher', () => {
    fc.assert(
      fc.property(filterLevels, topicLevels, (filter, topic) => {
        expect(topicMatches(filter, topic.join('/'))).toBe(
          matchesReference(filter.join('/'), topic.join('/')),
        );
      }),
      { numRuns: 5000 },
    );
  });

  it('the SQL key range of a filter holds every topic it matches', () => {
    fc.assert(
      fc.property(filterLevels, topicLevels, (filter, levels) => {
        const topic = levels.join('/');
        if (!topicMatches(filter, topic)) return;
        const scan = retainedScan(filter);
        if (scan.kind === 'exact') expect(scan.topicName).toBe(topic);
        if (scan.kind === 'range') {
          expect(sqliteCompare(scan.from, topic)).toBeLessThanOrEqual(0);
          expect(sqliteCompare(topic, scan.to)).toBeLessThan(0);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('scans: exact without wildcards, everything for a leading wildcard, else the literal prefix', () => {
    expect(retainedScan(['a', 'b'])).toEqual({ kind: 'exact', topicName: 'a/b' });
    expect(retainedScan(['#'])).toEqual({ kind: 'all' });
    expect(retainedScan(['+', 'x'])).toEqual({ kind: 'all' });
    expect(retainedScan(['a', 'b', '#'])).toEqual({ kind: 'range', from: 'a/b', to: 'a/b0' });
    expect(retainedScan(['', '+'])).toEqual({ kind: 'range', from: '', to: '0' });
  });
});
