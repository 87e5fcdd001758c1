import { describe, expect, it } from 'vitest';
import { compileTemplate, isMqError, standardTemplates } from '../src/index.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isMqError(error) ? error.code : `not MqError: ${String(error)}`;
  }
  return undefined;
}

describe('compileTemplate', () => {
  const telemetry = compileTemplate(standardTemplates.telemetry);

  it('derives the filter, names, format and parse', () => {
    expect(telemetry.filter).toBe('+/+/telemetry');
    expect(telemetry.names).toEqual(['node_id', 'device_id']);
    expect(telemetry.format({ node_id: 'n1', device_id: 'd-7' })).toBe('n1/d-7/telemetry');
    expect(telemetry.parse('n1/d-7/telemetry')).toEqual({ node_id: 'n1', device_id: 'd-7' });
  });

  it('parses to null when a topic does not fit', () => {
    expect(telemetry.parse('n1/d-7/status')).toBeNull();
    expect(telemetry.parse('n1/telemetry')).toBeNull();
    expect(telemetry.parse('n1/d/e/telemetry')).toBeNull();
    expect(telemetry.parse('n1//telemetry')).toBeNull();
  });

  it.each([
    ['a/b', 'MQ_TEMPLATE_INVALID_VALUE'],
    ['a+', 'MQ_TEMPLATE_INVALID_VALUE'],
    ['#', 'MQ_TEMPLATE_INVALID_VALUE'],
    ['a\u0000b', 'MQ_TEMPLATE_INVALID_VALUE'],
    ['', 'MQ_TEMPLATE_INVALID_VALUE'],
  ])('rejects value %j with %s', (value, code) => {
    expect(codeOf(() => telemetry.format({ node_id: 'n', device_id: value }))).toBe(code);
  });

  it('says which placeholder and character is wrong', () => {
    expect(() => telemetry.format({ node_id: 'n', device_id: 'x/y' })).toThrow(
      'template {node_id}/{device_id}/telemetry: {device_id} value "x/y" holds "/" at index 1',
    );
    expect(() => telemetry.format({ node_id: 'n', device_id: 'a\u0000' })).toThrow(/holds NUL at index 1/);
  });

  it('needs every value', () => {
    expect(codeOf(() => telemetry.format({ node_id: 'n' }))).toBe('MQ_TEMPLATE_MISSING_VALUE');
  });

  it.each([
    ['{a}/{a}', /appears twice/],
    ['x{a}/b', /whole \{placeholder\}/],
    ['+/{a}', /wildcard/],
    ['a/#', /wildcard/],
    ['{1a}/b', /whole \{placeholder\}/],
  ])('refuses to compile %j', (source, message) => {
    expect(codeOf(() => compileTemplate(source))).toBe('MQ_TEMPLATE_INVALID');
    expect(() => compileTemplate(source)).toThrow(message);
  });

  it('supports dotted keys for routing keys and subjects, refusing NATS wildcards in values', () => {
    const subject = compileTemplate('iot.{node_id}.{device_id}.{kind}', { separator: '.' });
    expect(subject.filter).toBe('iot.*.*.*');
    expect(subject.format({ node_id: 'n', device_id: 'd', kind: 'telemetry' })).toBe('iot.n.d.telemetry');
    for (const bad of ['a.b', 'a*', '>', 'a b']) {
      expect(codeOf(() => subject.format({ node_id: bad, device_id: 'd', kind: 'k' }))).toBe(
        'MQ_TEMPLATE_INVALID_VALUE',
      );
    }
  });

  it('ships the standard uplink and downlink templates', () => {
    expect(Object.keys(standardTemplates)).toEqual([
      'telemetry',
      'status',
      'event',
      'alert',
      'command',
      'response',
    ]);
    for (const source of Object.values(standardTemplates))
      expect(compileTemplate(source).names).toHaveLength(2);
  });
});
