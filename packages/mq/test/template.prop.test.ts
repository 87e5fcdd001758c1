import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileTemplate, isMqError } from '../src/index.js';

const hasForbidden = (s: string) => ['/', '+', '#', '\u0000'].some((c) => s.includes(c));
const safeValue = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !hasForbidden(s));
const names = ['node_id', 'device_id', 'site'];

describe('template properties', () => {
  it('parse(format(vars)) returns vars', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...names), { minLength: 1, maxLength: 3 }).map((a) => [...new Set(a)]),
        fc.array(fc.stringMatching(/^[a-z]{1,5}$/), { maxLength: 2 }),
        fc.array(safeValue, { minLength: 3, maxLength: 3 }),
        (chosen, literals, values) => {
          const source = [...chosen.map((n) => `{${n}}`), ...literals].join('/');
          const template = compileTemplate(source);
          const vars = Object.fromEntries(chosen.map((n, i) => [n, values[i]!]));
          expect(template.parse(template.format(vars))).toEqual(vars);
        },
      ),
    );
  });

  it('format either refuses a value or produces a topic that parses back to it', () => {
    const template = compileTemplate('{node_id}/{device_id}/telemetry');
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), (value) => {
        try {
          const topic = template.format({ node_id: 'n', device_id: value });
          expect(template.parse(topic)).toEqual({ node_id: 'n', device_id: value });
        } catch (error) {
          expect(isMqError(error) && error.code).toBe('MQ_TEMPLATE_INVALID_VALUE');
          expect(value === '' || hasForbidden(value)).toBe(true);
        }
      }),
    );
  });
});
