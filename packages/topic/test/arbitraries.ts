import fc from 'fast-check';

// Few distinct level strings so random filters and topics actually meet (and enough, 12, for
// a node to switch its children to a Map at 9): empty levels,
// case differences, a '$' level and a level that looks like the share prefix.
const LEVELS = ['a', 'b', 'A', '', 'sport', '$SYS', '$share', 'x y', 'c', 'd', 'e', 'é'];

export const levelArb = fc.constantFrom(...LEVELS);

/** Topic names of 1..5 levels, '$'-topics included. */
export const topicArb = fc
  .array(levelArb, { minLength: 1, maxLength: 5 })
  .map((levels) => levels.join('/'))
  .filter((topic) => topic.length > 0);

/** Valid non-shared filters: levels, '+' anywhere, optionally a final '#'. */
export const plainFilterArb = fc
  .tuple(
    fc.array(fc.oneof({ weight: 3, arbitrary: levelArb }, { weight: 2, arbitrary: fc.constant('+') }), {
      minLength: 0,
      maxLength: 5,
    }),
    fc.boolean(),
  )
  .map(([levels, hash]) => (hash ? [...levels, '#'] : levels).join('/'))
  // '$share/...' would be a shared subscription: filterArb makes those on purpose
  .filter((filter) => filter.length > 0 && !filter.startsWith('$share/'));

/** Valid filters, a third of them shared in one of two groups. */
export const filterArb = fc.oneof(
  { weight: 2, arbitrary: plainFilterArb },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom('g1', 'g2'), plainFilterArb).map(([g, f]) => `$share/${g}/${f}`),
  },
);

export const subscriberArb = fc.constantFrom('c0', 'c1', 'c2', 'c3', 'c4');
export const qosArb = fc.constantFrom<0 | 1 | 2>(0, 1, 2);
