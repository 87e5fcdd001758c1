import { describe, expect, it } from 'vitest';
import {
  type ConsumedMessage,
  type DeviceMessage,
  describePayload,
  isMqError,
  jsonCodec,
  rawCodec,
} from '../src/index.js';

const base: DeviceMessage = {
  vars: { node_id: 'n1', device_id: 'd1' },
  kind: 'telemetry',
  payload: Buffer.from('{"t":21.5}'),
  receivedAt: Date.UTC(2025, 0, 2, 3, 4, 5, 6),
  topic: 'n1/d1/telemetry',
  qos: 1,
};

function consumed(body: string | Uint8Array, extra: Partial<ConsumedMessage> = {}): ConsumedMessage {
  return {
    body: typeof body === 'string' ? Buffer.from(body) : body,
    headers: {},
    id: '1',
    source: 'q',
    ...extra,
  };
}

describe('describePayload', () => {
  it('keeps JSON as JSON, text as text and bytes as base64', () => {
    expect(describePayload(Buffer.from('{"a":[1,2]}'))).toEqual({ payload: { a: [1, 2] }, encoding: 'json' });
    expect(describePayload(Buffer.from('21.5'))).toEqual({ payload: 21.5, encoding: 'json' });
    expect(describePayload(Buffer.from('on ✓'))).toEqual({ payload: 'on ✓', encoding: 'utf8' });
    expect(describePayload(Buffer.from([0xff, 0x00, 0xfe]))).toEqual({ payload: '/wD+', encoding: 'base64' });
  });
});

describe('jsonCodec', () => {
  it('encodes the device envelope with metadata headers', () => {
    const encoded = jsonCodec().encode({ ...base, correlationId: 'c-1', contentType: 'application/json' });
    expect(encoded.contentType).toBe('application/json');
    expect(JSON.parse(Buffer.from(encoded.body).toString())).toEqual({
      nodeId: 'n1',
      deviceId: 'd1',
      kind: 'telemetry',
      payload: { t: 21.5 },
      encoding: 'json',
      receivedAt: '2025-01-02T03:04:05.006Z',
      topic: 'n1/d1/telemetry',
      qos: 1,
      contentType: 'application/json',
      correlationId: 'c-1',
    });
    expect(encoded.headers).toMatchObject({
      'mq-device-id': 'd1',
      'mq-node-id': 'n1',
      'mq-kind': 'telemetry',
    });
  });

  it('keeps extra template variables under vars and wraps binary payloads', () => {
    const encoded = jsonCodec().encode({
      ...base,
      vars: { ...base.vars, site: 's' },
      payload: Buffer.from([1, 2, 255]),
    });
    const envelope = JSON.parse(Buffer.from(encoded.body).toString());
    expect(envelope.vars).toEqual({ site: 's' });
    expect(envelope).toMatchObject({ payload: 'AQL/', encoding: 'base64' });
  });

  it('refuses non-JSON payloads when JSON is required', () => {
    try {
      jsonCodec({ requireJson: true }).encode({ ...base, payload: Buffer.from('not json') });
      expect.unreachable();
    } catch (error) {
      expect(isMqError(error) && error.code).toBe('MQ_MAPPING_FAILED');
      expect((error as Error).message).toBe('payload on n1/d1/telemetry is not JSON (utf8)');
    }
  });

  it('decodes commands', () => {
    const command = jsonCodec().decode(
      consumed('{"nodeId":"n1","deviceId":"d1","payload":{"on":true},"correlationId":"c"}'),
    );
    expect(command.vars).toEqual({ node_id: 'n1', device_id: 'd1' });
    expect(Buffer.from(command.payload).toString()).toBe('{"on":true}');
    expect(command.correlationId).toBe('c');
    const text = jsonCodec().decode(
      consumed('{"deviceId":"d","payload":"reboot"}', { correlationId: 'amqp' }),
    );
    expect(Buffer.from(text.payload).toString()).toBe('reboot');
    expect(text.correlationId).toBe('amqp');
    const bytes = jsonCodec().decode(consumed('{"deviceId":"d","payload":"AQL/","encoding":"base64"}'));
    expect([...bytes.payload]).toEqual([1, 2, 255]);
  });

  it.each(['nope', '[1]', '{"payload":1,"encoding":"hex"}', '{"payload":1,"encoding":"base64"}'])(
    'refuses command %j as a mapping failure',
    (body) => {
      expect(() => jsonCodec().decode(consumed(body))).toThrow(
        expect.objectContaining({ code: 'MQ_MAPPING_FAILED' }) as Error,
      );
    },
  );
});

describe('rawCodec', () => {
  it('passes bytes through and carries metadata in headers', () => {
    const encoded = rawCodec().encode({ ...base, payload: Buffer.from([0, 1]) });
    expect([...encoded.body]).toEqual([0, 1]);
    expect(encoded.contentType).toBe('application/octet-stream');
    expect(encoded.headers['mq-topic']).toBe('n1/d1/telemetry');
    const command = rawCodec().decode(
      consumed(Buffer.from([9]), {
        headers: { 'mq-node-id': 'n', 'mq-device-id': 'd', 'mq-correlation-id': 'c' },
      }),
    );
    expect(command).toEqual({
      vars: { node_id: 'n', device_id: 'd' },
      payload: Buffer.from([9]),
      correlationId: 'c',
    });
    expect(rawCodec().decode(consumed('x', { topic: 'local/a' })).topic).toBe('local/a');
  });
});
