import type { Consumer, Producer } from '@mqtt-adapt/mq';
import type { BridgeConfig, BridgeDownlinkConfig } from './bridge-config.js';

/** The producer and consumers of one bridge, created by its type; `close` ends what they share. */
export interface BridgeEngine {
  /** Present when the bridge has uplinks or dead letters to write. */
  readonly producer: Producer | undefined;
  readonly consumers: ReadonlyMap<string, Consumer>;
  /** Releases what the producer and consumers share (the mqtt bridge's client). */
  close(): Promise<void>;
}

/**
 * Creates the engine's client objects. Adapters are imported here, on demand, so that a broker
 * without bridges never loads amqplib, ioredis, nats or mqtt.
 */
export async function createEngine(config: BridgeConfig): Promise<BridgeEngine> {
  const needsProducer = config.uplinks.length > 0 || config.downlinks.some((d) => d.deadLetter !== undefined);
  switch (config.type) {
    case 'rabbitmq': {
      const { createRabbitMqConsumer, createRabbitMqProducer } = await import('@mqtt-adapt/mq/rabbitmq');
      const exchange = config.exchange;
      const producer =
        needsProducer && exchange !== undefined
          ? createRabbitMqProducer({ url: config.url, exchange, queues: config.queues })
          : undefined;
      return engine(producer, config.downlinks, (d) =>
        createRabbitMqConsumer({
          url: config.url,
          queue: { name: d.source, ...(d.bindings.length > 0 ? { bindings: d.bindings } : {}) },
          ...(exchange !== undefined && d.bindings.length > 0 ? { exchange } : {}),
          prefetch: Math.min(d.maxInFlight, 65_535),
        }),
      );
    }
    case 'nats': {
      const { createJetStreamConsumer, createJetStreamProducer } = await import('@mqtt-adapt/mq/nats');
      const servers = config.url.split(',').map((s) => s.trim());
      const stream = config.stream!;
      const producer = needsProducer ? createJetStreamProducer({ servers, stream }) : undefined;
      return engine(producer, config.downlinks, (d) =>
        createJetStreamConsumer({
          servers,
          stream,
          durable: d.consumer,
          filterSubject: d.source,
          maxAckPending: d.maxInFlight,
        }),
      );
    }
    case 'redis': {
      const { createRedisStreamConsumer, createRedisStreamProducer } = await import('@mqtt-adapt/mq/redis');
      const producer = needsProducer
        ? createRedisStreamProducer({
            url: config.url,
            ...(config.maxLen === undefined ? {} : { maxLen: config.maxLen }),
          })
        : undefined;
      return engine(producer, config.downlinks, (d) =>
        createRedisStreamConsumer({
          url: config.url,
          stream: d.source,
          group: d.group ?? 'mqtt-adapt',
          consumer: d.consumer,
          count: Math.min(d.maxInFlight, 1024),
        }),
      );
    }
    case 'mqtt': {
      const { createMqttConsumer, createMqttProducer } = await import('@mqtt-adapt/mq/mqtt');
      const mqtt = await import('mqtt');
      // One client, persistent session on the remote broker; MQTT.js reconnects by itself and
      // sends what it did not get acknowledged again.
      const client = mqtt.connect(config.url, {
        clientId: config.clientId ?? `mqtt-adapt-bridge-${config.name}`,
        clean: false,
        protocolVersion: 5,
        properties: { sessionExpiryInterval: 0xffff_ffff },
        reconnectPeriod: 1000,
        connectTimeout: 5000,
      });
      client.on('error', () => {}); // reconnects; failed sends report the cause
      const prefixes = config.prefixes.length > 0 ? config.prefixes : undefined;
      const producer = needsProducer
        ? createMqttProducer({ client, ...(prefixes ? { prefixes } : {}), qos: 1, keepOpen: true })
        : undefined;
      const built = engine(producer, config.downlinks, (d) =>
        createMqttConsumer({
          client,
          filters: [d.source],
          ...(prefixes ? { prefixes } : {}),
          qos: d.qos,
          keepOpen: true,
        }),
      );
      return { ...built, close: () => client.endAsync(!client.connected) };
    }
  }
}

function engine(
  producer: Producer | undefined,
  downlinks: readonly BridgeDownlinkConfig[],
  consumer: (downlink: BridgeDownlinkConfig) => Consumer,
): BridgeEngine {
  return {
    producer,
    consumers: new Map(downlinks.map((d) => [d.name, consumer(d)])),
    close: async () => {},
  };
}
