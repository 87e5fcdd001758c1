import { isUtf8 } from 'node:buffer';
import { MqError } from './errors.js';
import type { TemplateVars } from './template.js';
import type { ConsumedMessage, QoS } from './types.js';

/** One device message as the bridge sees it, before encoding for a destination. */
export interface DeviceMessage {
  /** Every placeholder value the topic template matched (`node_id`, `device_id`, ...). */
  readonly vars: TemplateVars;
  /** What the message is: `telemetry`, `status`, `event`, `alert`, `response`, ... */
  readonly kind: string;
  readonly payload: Uint8Array;
  /** Milliseconds since the epoch when the bridge got it. */
  readonly receivedAt: number;
  readonly topic: string;
  readonly qos: QoS;
  readonly contentType?: string;
  readonly correlationId?: string;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** How `payload` is written: parsed JSON, UTF-8 text, or base64 of bytes that are neither. */
export type PayloadEncoding = 'json' | 'utf8' | 'base64';

/** The JSON document the default codec sends to a destination. */
export interface DeviceEnvelope {
  readonly nodeId?: string;
  readonly deviceId?: string;
  readonly kind: string;
  readonly payload: JsonValue;
  readonly encoding: PayloadEncoding;
  /** ISO 8601 time the bridge received the message. */
  readonly receivedAt: string;
  readonly topic: string;
  readonly qos: QoS;
  readonly contentType?: string;
  readonly correlationId?: string;
  /** Placeholder values other than `node_id` and `device_id`, when the template has any. */
  readonly vars?: Readonly<Record<string, string>>;
}

/** A command for a device, decoded from a queue message. */
export interface DeviceCommand {
  /** Values for the command template (`node_id`, `device_id`, ...). */
  readonly vars: TemplateVars;
  readonly payload: Uint8Array;
  /** Publish here instead of the command template (MQTT-to-MQTT forwarding). */
  readonly topic?: string;
  readonly correlationId?: string;
  readonly contentType?: string;
}

export interface EncodedMessage {
  readonly body: Uint8Array;
  readonly contentType: string;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Turns device messages into destination bodies and queue messages into device commands.
 * Throw `MQ_MAPPING_FAILED` (or anything) for a message that cannot be mapped: it is dead-lettered.
 */
export interface EnvelopeCodec {
  readonly name: string;
  encode(message: DeviceMessage): EncodedMessage;
  decode(message: ConsumedMessage): DeviceCommand;
}

/** Header names every codec sets beside the body, so routing and raw consumers need no parsing. */
export const envelopeHeaders = {
  nodeId: 'mq-node-id',
  deviceId: 'mq-device-id',
  kind: 'mq-kind',
  topic: 'mq-topic',
  qos: 'mq-qos',
  receivedAt: 'mq-received-at',
  correlationId: 'mq-correlation-id',
  contentType: 'mq-content-type',
} as const;

const utf8 = new TextDecoder('utf-8');

/** The payload as JSON when it parses, UTF-8 text when it is valid text, base64 otherwise. */
export function describePayload(payload: Uint8Array): { payload: JsonValue; encoding: PayloadEncoding } {
  if (!isUtf8(payload)) return { payload: Buffer.from(payload).toString('base64'), encoding: 'base64' };
  const text = utf8.decode(payload);
  try {
    return { payload: JSON.parse(text) as JsonValue, encoding: 'json' };
  } catch {
    // Not JSON: plain text is still worth keeping readable.
    return { payload: text, encoding: 'utf8' };
  }
}

/** The bytes a described payload stands for (JSON is re-serialised, so whitespace may differ). */
export function payloadBytes(payload: unknown, encoding: PayloadEncoding | undefined): Uint8Array {
  const chosen = encoding ?? (typeof payload === 'string' ? 'utf8' : 'json');
  if (chosen === 'json') return Buffer.from(JSON.stringify(payload ?? null), 'utf8');
  if (typeof payload !== 'string') {
    throw new MqError(
      'MQ_MAPPING_FAILED',
      `payload with encoding ${chosen} must be a string, got ${typeof payload}`,
    );
  }
  return Buffer.from(payload, chosen === 'base64' ? 'base64' : 'utf8');
}

function metadataHeaders(message: DeviceMessage): Record<string, string> {
  const headers: Record<string, string> = {
    [envelopeHeaders.kind]: message.kind,
    [envelopeHeaders.topic]: message.topic,
    [envelopeHeaders.qos]: String(message.qos),
    [envelopeHeaders.receivedAt]: new Date(message.receivedAt).toISOString(),
  };
  if (message.vars.node_id !== undefined) headers[envelopeHeaders.nodeId] = message.vars.node_id;
  if (message.vars.device_id !== undefined) headers[envelopeHeaders.deviceId] = message.vars.device_id;
  if (message.correlationId !== undefined) headers[envelopeHeaders.correlationId] = message.correlationId;
  if (message.contentType !== undefined) headers[envelopeHeaders.contentType] = message.contentType;
  return headers;
}

/** Builds the JSON envelope of a device message. */
export function toEnvelope(message: DeviceMessage, requireJson = false): DeviceEnvelope {
  const described = describePayload(message.payload);
  if (requireJson && described.encoding !== 'json') {
    throw new MqError('MQ_MAPPING_FAILED', `payload on ${message.topic} is not JSON (${described.encoding})`);
  }
  const { node_id, device_id, ...rest } = message.vars;
  return {
    ...(node_id === undefined ? {} : { nodeId: node_id }),
    ...(device_id === undefined ? {} : { deviceId: device_id }),
    kind: message.kind,
    payload: described.payload,
    encoding: described.encoding,
    receivedAt: new Date(message.receivedAt).toISOString(),
    topic: message.topic,
    qos: message.qos,
    ...(message.contentType === undefined ? {} : { contentType: message.contentType }),
    ...(message.correlationId === undefined ? {} : { correlationId: message.correlationId }),
    ...(Object.keys(rest).length === 0 ? {} : { vars: rest }),
  };
}

export interface JsonCodecOptions {
  /** Dead-letter payloads that are not JSON instead of wrapping them as text or base64. */
  readonly requireJson?: boolean;
}

/**
 * The default codec. Uplink: a `DeviceEnvelope` as JSON. Downlink: a JSON object
 * `{ nodeId, deviceId, payload, encoding?, correlationId?, vars? }`.
 */
export function jsonCodec(options: JsonCodecOptions = {}): EnvelopeCodec {
  const requireJson = options.requireJson ?? false;
  return {
    name: 'json',
    encode(message) {
      const envelope = toEnvelope(message, requireJson);
      return {
        body: Buffer.from(JSON.stringify(envelope), 'utf8'),
        contentType: 'application/json',
        headers: metadataHeaders(message),
      };
    },
    decode(message) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(utf8.decode(message.body));
      } catch (error) {
        throw new MqError('MQ_MAPPING_FAILED', `command from ${message.source} is not JSON`, {
          cause: error,
        });
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new MqError('MQ_MAPPING_FAILED', `command from ${message.source} must be a JSON object`);
      }
      const command = parsed as Record<string, unknown>;
      const encoding = command.encoding;
      if (encoding !== undefined && encoding !== 'json' && encoding !== 'utf8' && encoding !== 'base64') {
        throw new MqError(
          'MQ_MAPPING_FAILED',
          `command encoding ${JSON.stringify(encoding)} is not json, utf8 or base64`,
        );
      }
      const vars: Record<string, string> = { ...stringRecord(command.vars) };
      if (typeof command.nodeId === 'string') vars.node_id = command.nodeId;
      if (typeof command.deviceId === 'string') vars.device_id = command.deviceId;
      const correlationId =
        typeof command.correlationId === 'string' ? command.correlationId : message.correlationId;
      return {
        vars,
        payload: payloadBytes(command.payload, encoding),
        ...(correlationId === undefined ? {} : { correlationId }),
        ...(typeof command.contentType === 'string' ? { contentType: command.contentType } : {}),
      };
    },
  };
}

function stringRecord(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) if (typeof entry === 'string') out[key] = entry;
  return out;
}

/**
 * Pass-through: the body is the MQTT payload byte for byte; metadata travels in headers
 * (`mq-node-id`, `mq-device-id`, ...). Downlink reads the same headers, or the message's `topic`.
 */
export function rawCodec(): EnvelopeCodec {
  return {
    name: 'raw',
    encode(message) {
      return {
        body: message.payload,
        contentType: message.contentType ?? 'application/octet-stream',
        headers: metadataHeaders(message),
      };
    },
    decode(message) {
      const h = message.headers;
      const vars: Record<string, string> = {};
      const nodeId = h[envelopeHeaders.nodeId];
      const deviceId = h[envelopeHeaders.deviceId];
      if (nodeId !== undefined) vars.node_id = nodeId;
      if (deviceId !== undefined) vars.device_id = deviceId;
      const correlationId = message.correlationId ?? h[envelopeHeaders.correlationId];
      const contentType = h[envelopeHeaders.contentType];
      return {
        vars,
        payload: message.body,
        ...(message.topic === undefined ? {} : { topic: message.topic }),
        ...(correlationId === undefined ? {} : { correlationId }),
        ...(contentType === undefined ? {} : { contentType }),
      };
    },
  };
}
