import type { Properties } from '@mqtt-adapt/codec';

/**
 * The PUBLISH properties a server forwards to subscribers (MQTT 5.0 §3.3.2.3), built from an
 * allow-list, never copied: Topic Alias is per connection, Subscription Identifiers are set per
 * subscriber, and will-only properties (Will Delay Interval) stop at the broker. Binary values
 * are copied, so a kept message does not pin the socket chunk it arrived in. Returns
 * `undefined` when nothing is forwarded, so no object is allocated then.
 */
export function forwardedProperties(properties: Properties | undefined): Properties | undefined {
  if (properties === undefined) return undefined;
  const {
    payloadFormatIndicator,
    messageExpiryInterval,
    contentType,
    responseTopic,
    correlationData,
    userProperties,
  } = properties;
  if (
    payloadFormatIndicator === undefined &&
    messageExpiryInterval === undefined &&
    contentType === undefined &&
    responseTopic === undefined &&
    correlationData === undefined &&
    userProperties === undefined
  ) {
    return undefined;
  }
  // One shape for every forwarded properties object (STYLE §5): each key set, maybe undefined.
  return {
    payloadFormatIndicator,
    messageExpiryInterval,
    contentType,
    responseTopic,
    correlationData: correlationData === undefined ? undefined : Buffer.from(correlationData),
    userProperties,
  };
}
