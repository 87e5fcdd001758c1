import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isValidTopicFilter,
  isValidTopicName,
  parseSharedFilter,
  topicFilterError,
  topicNameError,
} from '../src/index.js';
import { referenceShare, referenceValidFilter, referenceValidName } from './reference.js';

// Strings built from the pieces that matter to the rules, so every rule gets hit often.
const piece = fc.constantFrom('a', 'b', '/', '+', '#', '$share/', '$share', '$', '\u0000', 'é', '😀', '');
const candidate = fc.array(piece, { maxLength: 10 }).map((pieces) => pieces.join(''));

describe('validators agree with the spec written out plainly', () => {
  it('for topic names', () => {
    fc.assert(
      fc.property(candidate, (name) => {
        const valid = referenceValidName(name);
        expect(isValidTopicName(name)).toBe(valid);
        expect(topicNameError(name) === undefined).toBe(valid);
      }),
      { numRuns: 5000 },
    );
  });

  it('for topic filters, shared ones included', () => {
    fc.assert(
      fc.property(candidate, (filter) => {
        const valid = referenceValidFilter(filter);
        expect(isValidTopicFilter(filter)).toBe(valid);
        const error = topicFilterError(filter);
        expect(error === undefined).toBe(valid);
        if (error !== undefined) expect(error.topic).toBe(filter);
        const shared = parseSharedFilter(filter);
        if (valid && filter.startsWith('$share/')) {
          const { group, filter: inner } = referenceShare(filter);
          expect(shared).toEqual({ group, topicFilter: inner });
        } else {
          expect(shared).toBeUndefined();
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('for any string: never throws, and a filter without wildcards is valid iff it is a valid name', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 30 }), (s) => {
        expect(isValidTopicName(s)).toBe(referenceValidName(s));
        expect(isValidTopicFilter(s)).toBe(referenceValidFilter(s));
        if (!/[+#]/.test(s) && !s.startsWith('$share/'))
          expect(isValidTopicFilter(s)).toBe(isValidTopicName(s));
      }),
      { numRuns: 2000 },
    );
  });

  it('counts levels like split does', () => {
    fc.assert(
      fc.property(candidate, fc.integer({ min: 1, max: 6 }), (name, maxLevels) => {
        if (!referenceValidName(name)) return;
        const levels = name.split('/').length;
        expect(isValidTopicName(name, maxLevels)).toBe(levels <= maxLevels);
        expect(topicNameError(name, maxLevels)?.actual).toBe(levels <= maxLevels ? undefined : levels);
      }),
      { numRuns: 2000 },
    );
  });
});
