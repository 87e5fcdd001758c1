import type { Properties, QoS } from '@mqtt-adapt/codec';
import type { BrokerMessage, MessageProperties } from '@mqtt-adapt/mq';

/** The router's PUBLISH properties as the bridge reads them. */
export function toMessageProperties(properties: Properties | undefined): MessageProperties | undefined {
  if (properties === undefined) return undefined;
  const out: {
    -readonly [K in keyof MessageProperties]: MessageProperties[K];
  } = {};
  if (properties.correlationData !== undefined) out.correlationData = properties.correlationData;
  if (properties.responseTopic !== undefined) out.responseTopic = properties.responseTopic;
  if (properties.contentType !== undefined) out.contentType = properties.contentType;
  if (properties.payloadFormatIndicator !== undefined)
    out.payloadFormatIndicator = properties.payloadFormatIndicator === 1;
  if (properties.messageExpiryInterval !== undefined)
    out.messageExpiryInterval = properties.messageExpiryInterval;
  if (properties.userProperties !== undefined) {
    const user: Record<string, string | string[]> = {};
    for (const [name, value] of properties.userProperties) {
      const seen = user[name];
      if (seen === undefined) user[name] = value;
      else user[name] = Array.isArray(seen) ? [...seen, value] : [seen, value];
    }
    out.userProperties = user;
  }
  return out;
}

/** The bridge's properties as PUBLISH properties. */
export function toPacketProperties(properties: MessageProperties | undefined): Properties | undefined {
  if (properties === undefined) return undefined;
  const out: Properties = {};
  if (properties.correlationData !== undefined) out.correlationData = Buffer.from(properties.correlationData);
  if (properties.responseTopic !== undefined) out.responseTopic = properties.responseTopic;
  if (properties.contentType !== undefined) out.contentType = properties.contentType;
  if (properties.payloadFormatIndicator !== undefined)
    out.payloadFormatIndicator = properties.payloadFormatIndicator ? 1 : 0;
  if (properties.messageExpiryInterval !== undefined)
    out.messageExpiryInterval = properties.messageExpiryInterval;
  if (properties.userProperties !== undefined) {
    const pairs: Array<[string, string]> = [];
    for (const [name, value] of Object.entries(properties.userProperties)) {
      if (typeof value === 'string') pairs.push([name, value]);
      else for (const item of value) pairs.push([name, item]);
    }
    if (pairs.length > 0) out.userProperties = pairs;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

export function toBrokerMessage(
  topic: string,
  payload: Buffer,
  qos: QoS,
  retain: boolean,
  properties: Properties | undefined,
): BrokerMessage {
  const converted = toMessageProperties(properties);
  return converted === undefined
    ? { topic, payload, qos, retain }
    : { topic, payload, qos, retain, properties: converted };
}
