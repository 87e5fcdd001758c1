import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { filterLevelsMatch } from '../src/index.js';
import { plainFilterArb, topicArb } from './arbitraries.js';
import { referenceMatches } from './reference.js';

describe('filterLevelsMatch', () => {
  it('agrees with the reference matcher', () => {
    fc.assert(
      fc.property(plainFilterArb, topicArb, (filter, topic) => {
        expect(filterLevelsMatch(filter.split('/'), topic)).toBe(referenceMatches(filter, topic));
      }),
      { numRuns: 2000 },
    );
  });

  it('follows the spec examples', () => {
    expect(filterLevelsMatch(['sport', '#'], 'sport')).toBe(true);
    expect(filterLevelsMatch(['+'], '')).toBe(true);
    expect(filterLevelsMatch(['#'], '$SYS/x')).toBe(false);
    expect(filterLevelsMatch(['$SYS', '#'], '$SYS/x')).toBe(true);
    expect(filterLevelsMatch(['a', '+'], 'a/b/c')).toBe(false);
  });
});
