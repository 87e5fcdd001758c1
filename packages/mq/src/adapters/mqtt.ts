import type { MqttClient } from 'mqtt';
import type { DownlinkRule } from '../downlink.js';
import { rawCodec } from '../envelope.js';
import { MqError, rejected, unavailable } from '../errors.js';
import type { ConsumedMessage, Consumer, ConsumerHandler, Producer, ProducerRecord, QoS } from '../types.js';
import type { UplinkRule } from '../uplink.js';
import { MqttClientLink, toPacketProperties } from './mqtt-link.js';

export { MqttClientLink };

/** Local topic prefix to remote topic prefix; the first entry whose prefix matches wins. */
export type TopicPrefixMap = readonly { readonly local: string; readonly remote: string }[];

/** The remote topic for a local one; throws `MQ_MAPPING_FAILED` when no prefix matches. */
export function toRemoteTopic(prefixes: TopicPrefixMap, localTopic: string): string {
  for (const { local, remote } of prefixes) {
    if (localTopic.startsWith(local)) return remote + localTopic.slice(local.length);
  }
  throw new MqError('MQ_MAPPING_FAILED', `no prefix in the map matches local topic ${localTopic}`);
}

/** The local topic for a remote one; throws `MQ_MAPPING_FAILED` when no prefix matches. */
export function toLocalTopic(prefixes: TopicPrefixMap, remoteTopic: string): string {
  for (const { local, remote } of prefixes) {
    if (remoteTopic.startsWith(remote)) return local + remoteTopic.slice(remote.length);
  }
  throw new MqError('MQ_MAPPING_FAILED', `no prefix in the map matches remote topic ${remoteTopic}`);
}

export interface MqttProducerOptions {
  /** Connected MQTT.js client of the remote broker. Closed by `close()` unless `keepOpen`. */
  readonly client: MqttClient;
  /** Maps the record's destination (a local topic) to the remote topic. Default: unchanged. */
  readonly prefixes?: TopicPrefixMap;
  /** QoS on the remote broker. Default 1: the send resolves after its PUBACK. */
  readonly qos?: QoS;
  readonly keepOpen?: boolean;
}

/** Publishes records to another MQTT broker; headers become MQTT 5 user properties. */
export function createMqttProducer(options: MqttProducerOptions): Producer {
  const { client } = options;
  const isV5 = client.options.protocolVersion === 5;
  return {
    name: 'mqtt',
    keySeparator: '/',
    async send(record: ProducerRecord) {
      const topic = options.prefixes
        ? toRemoteTopic(options.prefixes, record.destination)
        : record.destination;
      if (!client.connected)
        throw new MqError('MQ_DESTINATION_UNAVAILABLE', 'remote mqtt broker is not connected');
      try {
        await client.publishAsync(topic, Buffer.from(record.body), {
          qos: options.qos ?? 1,
          ...(isV5
            ? {
                properties: toPacketProperties({
                  contentType: record.contentType,
                  userProperties: record.headers,
                }),
              }
            : {}),
        });
      } catch (error) {
        const code: unknown = (error as { code?: unknown }).code;
        if (typeof code === 'number' && code >= 0x80) throw rejected(`publish to ${topic}`, error);
        throw unavailable(`publish to ${topic}`, error);
      }
      return undefined;
    },
    async close() {
      // A graceful end waits for unacknowledged publishes, which never come while disconnected.
      if (!options.keepOpen) await client.endAsync(!client.connected);
    },
  };
}

export interface MqttConsumerOptions {
  /** Connected MQTT.js client of the remote broker. Use a fixed clientId and a persistent session. */
  readonly client: MqttClient;
  /** Remote filters to forward. */
  readonly filters: readonly string[];
  /** Maps remote topics to local ones (`ConsumedMessage.topic`). Default: unchanged. */
  readonly prefixes?: TopicPrefixMap;
  readonly qos?: QoS;
  readonly keepOpen?: boolean;
}

/**
 * Takes messages from another broker; each is acknowledged there (PUBACK) only after the local
 * publish resolved. A v5 Response Topic becomes `replyTo`, answered on the remote broker.
 */
export function createMqttConsumer(options: MqttConsumerOptions): Consumer {
  const link = new MqttClientLink(options.client);
  return {
    name: 'mqtt',
    async start(handler: ConsumerHandler) {
      for (const filter of options.filters) {
        await link.subscribe(filter, { qos: options.qos ?? 1 }, async (message) => {
          const properties = message.properties;
          const responseTopic = properties?.responseTopic;
          const correlationData = properties?.correlationData;
          const headers: Record<string, string> = {};
          for (const [key, value] of Object.entries(properties?.userProperties ?? {})) {
            headers[key] = typeof value === 'string' ? value : value.join(',');
          }
          const consumed: ConsumedMessage = {
            body: message.payload,
            headers,
            id: '',
            source: message.topic,
            topic: options.prefixes ? toLocalTopic(options.prefixes, message.topic) : message.topic,
            ...(correlationData ? { correlationId: Buffer.from(correlationData).toString('utf8') } : {}),
            ...(responseTopic === undefined
              ? {}
              : {
                  replyTo: responseTopic,
                  reply: (body: Uint8Array) =>
                    link.publish(responseTopic, body, {
                      qos: 1,
                      ...(correlationData ? { properties: { correlationData } } : {}),
                    }),
                }),
          };
          await handler(consumed);
        });
      }
    },
    async close() {
      for (const filter of options.filters) await link.unsubscribe(filter).catch(() => {});
      link.detach();
      if (!options.keepOpen) await options.client.endAsync(!options.client.connected);
    },
  };
}

export interface MqttForwardingOptions {
  /** Connected MQTT.js client of the remote broker (v5 keeps content type and user properties). */
  readonly remote: MqttClient;
  /** Local filters whose messages go to the remote broker. */
  readonly outbound?: readonly string[];
  /** Remote filters whose messages come to the local broker. */
  readonly inbound?: readonly string[];
  readonly prefixes: TopicPrefixMap;
  readonly qos?: QoS;
  /** Rule name prefix. Default `mqtt`. */
  readonly name?: string;
}

/**
 * Bridge rules that forward topics to and from another MQTT broker, byte for byte, through a
 * prefix map. Keep `outbound` and `inbound` from overlapping after mapping, or messages loop.
 */
export function mqttForwardingRules(options: MqttForwardingOptions): {
  uplinks: UplinkRule[];
  downlinks: DownlinkRule[];
} {
  const name = options.name ?? 'mqtt';
  const qos = options.qos ?? 1;
  const producer = createMqttProducer({
    client: options.remote,
    prefixes: options.prefixes,
    qos,
    keepOpen: true,
  });
  const uplinks = (options.outbound ?? []).map(
    (filter, i): UplinkRule => ({
      name: `${name}-out-${i}`,
      filter,
      qos,
      producer,
      codec: rawCodec(),
      destination: (message) => message.topic,
    }),
  );
  const downlinks: DownlinkRule[] =
    options.inbound && options.inbound.length > 0
      ? [
          {
            name: `${name}-in`,
            consumer: createMqttConsumer({
              client: options.remote,
              filters: options.inbound,
              prefixes: options.prefixes,
              qos,
              keepOpen: true,
            }),
            codec: rawCodec(),
            qos,
          },
        ]
      : [];
  return { uplinks, downlinks };
}
