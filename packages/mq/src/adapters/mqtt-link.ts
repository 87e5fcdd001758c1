import { filterLevelsMatch } from '@mqtt-adapt/topic';
import type { IClientPublishOptions, IPublishPacket, MqttClient } from 'mqtt';
import { MqError, rejected, unavailable } from '../errors.js';
import type {
  BrokerLink,
  BrokerMessage,
  LinkHandler,
  LinkPublishOptions,
  Logger,
  MessageProperties,
  QoS,
} from '../types.js';
import { silentLogger } from '../types.js';

interface Route {
  readonly levels: readonly string[];
  readonly handler: LinkHandler;
}

/**
 * A BrokerLink over an MQTT.js client connected to any broker. QoS 1/2 messages are acknowledged
 * (PUBACK/PUBREC) only when every matching handler resolved; a rejected handler leaves the
 * message unacknowledged, and the broker redelivers it when the client reconnects with its
 * session. MQTT.js reads the next packet only after this, so inbound work is one message at a
 * time per client (and MQTT wants acks in order anyway): the TCP window is the backpressure.
 * Use a fixed `clientId` with `clean: false` (v3) or a `sessionExpiryInterval` (v5) so
 * unacknowledged messages survive a restart of the bridge.
 */
export class MqttClientLink implements BrokerLink {
  readonly client: MqttClient;
  readonly publisher: MqttClient;
  readonly supportsProperties: boolean;
  readonly #routes = new Map<string, Route>();
  readonly #logger: Logger;

  /**
   * `publisher`: a second client for publishing. MQTT.js handles one inbound packet at a time, so
   * a PUBACK for a publish from inside a slow handler would wait behind it; with a publisher of
   * its own, downlink commands keep flowing while an uplink destination is down.
   */
  constructor(client: MqttClient, options: { logger?: Logger; publisher?: MqttClient } = {}) {
    this.client = client;
    this.publisher = options.publisher ?? client;
    this.#logger = options.logger ?? silentLogger;
    this.supportsProperties = client.options.protocolVersion === 5;
    // QoS 1 and 2: decide the ack in customHandleAcks, which MQTT.js runs before PUBACK/PUBREC.
    client.options.customHandleAcks = (_topic, _message, packet: IPublishPacket, done) => {
      this.#dispatch(packet).then(
        () => done(0),
        (error: unknown) => {
          this.#logger.warn({ topic: packet.topic, err: String(error) }, 'message left unacknowledged');
          done(error instanceof Error ? error : new Error(String(error)));
        },
      );
    };
    // QoS 0 (and the PUBACK step of QoS 1, already handled above).
    client.handleMessage = (packet, callback) => {
      if (packet.qos !== 0) return callback();
      this.#dispatch(packet).then(
        () => callback(),
        () => callback(),
      );
    };
    // MQTT.js reports a refused ack as a client 'error'; without a listener that would throw.
    client.on('error', (error) => this.#logger.warn({ err: error.message }, 'mqtt client error'));
  }

  async subscribe(topicFilter: string, options: { readonly qos: QoS }, handler: LinkHandler): Promise<void> {
    this.#routes.set(topicFilter, { levels: topicFilter.split('/'), handler });
    const grants = await this.client.subscribeAsync(topicFilter, { qos: options.qos });
    const refused = grants.find((grant) => grant.qos === 128 || grant.qos > 2);
    if (refused) throw rejected(`subscribe to ${topicFilter}`, `refused with code ${refused.qos}`);
  }

  async unsubscribe(topicFilter: string): Promise<void> {
    this.#routes.delete(topicFilter);
    await this.client.unsubscribeAsync(topicFilter);
  }

  async publish(topicName: string, payload: Uint8Array, options: LinkPublishOptions): Promise<void> {
    if (!this.publisher.connected)
      throw new MqError('MQ_DESTINATION_UNAVAILABLE', 'mqtt client is not connected');
    const publishOptions: IClientPublishOptions = { qos: options.qos, retain: options.retain ?? false };
    if (options.properties && this.supportsProperties)
      publishOptions.properties = toPacketProperties(options.properties);
    try {
      await this.publisher.publishAsync(
        topicName,
        Buffer.from(payload.buffer, payload.byteOffset, payload.length),
        publishOptions,
      );
    } catch (error) {
      const code: unknown = (error as { code?: unknown }).code;
      if (typeof code === 'number' && code >= 0x80) throw rejected(`publish to ${topicName}`, error);
      throw unavailable(`publish to ${topicName}`, error);
    }
  }

  /** Removes the handlers this link installed; the client stays connected. */
  detach(): void {
    this.#routes.clear();
  }

  async #dispatch(packet: IPublishPacket): Promise<void> {
    const message = toBrokerMessage(packet);
    const handlers: Promise<void>[] = [];
    for (const route of this.#routes.values()) {
      if (filterLevelsMatch(route.levels, message.topic)) handlers.push(route.handler(message));
    }
    await Promise.all(handlers);
  }
}

function toBrokerMessage(packet: IPublishPacket): BrokerMessage {
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
  const p = packet.properties;
  const properties: MessageProperties | undefined = p
    ? {
        ...(p.correlationData === undefined ? {} : { correlationData: p.correlationData }),
        ...(p.responseTopic === undefined ? {} : { responseTopic: p.responseTopic }),
        ...(p.contentType === undefined ? {} : { contentType: p.contentType }),
        ...(p.payloadFormatIndicator === undefined
          ? {}
          : { payloadFormatIndicator: p.payloadFormatIndicator }),
        ...(p.messageExpiryInterval === undefined ? {} : { messageExpiryInterval: p.messageExpiryInterval }),
        ...(p.userProperties === undefined ? {} : { userProperties: p.userProperties }),
      }
    : undefined;
  return {
    topic: packet.topic,
    payload,
    qos: packet.qos,
    retain: packet.retain,
    ...(properties ? { properties } : {}),
  };
}

/** MessageProperties as MQTT.js wants them. */
export function toPacketProperties(properties: MessageProperties): NonNullable<IPublishPacket['properties']> {
  const out: NonNullable<IPublishPacket['properties']> = {};
  if (properties.correlationData) out.correlationData = Buffer.from(properties.correlationData);
  if (properties.responseTopic !== undefined) out.responseTopic = properties.responseTopic;
  if (properties.contentType !== undefined) out.contentType = properties.contentType;
  if (properties.payloadFormatIndicator !== undefined)
    out.payloadFormatIndicator = properties.payloadFormatIndicator;
  if (properties.messageExpiryInterval !== undefined)
    out.messageExpiryInterval = properties.messageExpiryInterval;
  if (properties.userProperties !== undefined) {
    out.userProperties = Object.fromEntries(
      Object.entries(properties.userProperties).map(([k, v]) => [k, typeof v === 'string' ? v : [...v]]),
    );
  }
  return out;
}
