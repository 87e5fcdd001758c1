import type { Properties } from '../properties.js';
import { PROTOCOL_ERROR, TOPIC_ALIAS_INVALID } from './constants.js';

/** How a property value is encoded (MQTT 5.0 §2.2.2.2, Table 2-4). */
export const ValueType = {
  /** A byte that must be 0 or 1 (every byte-valued property in MQTT 5.0 is one). */
  Flag: 0,
  TwoByte: 1,
  FourByte: 2,
  /** Variable Byte Integer 1..268435455, collected into an array (Subscription Identifier). */
  Varint: 3,
  Utf8: 4,
  Binary: 5,
  /** UTF-8 String Pair, collected into an array (User Property). */
  Pair: 6,
} as const;
export type ValueType = (typeof ValueType)[keyof typeof ValueType];

/**
 * Where a property may appear: bit `1 << packetType`, and bit 0 for will properties (packet
 * type 0 is reserved, so its bit is free).
 */
export const WILL_PROPERTIES = 0;
const W = 1 << WILL_PROPERTIES;
const CONNECT = 1 << 1;
const CONNACK = 1 << 2;
const PUBLISH = 1 << 3;
const ACKS = (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7);
const SUBSCRIBE = 1 << 8;
const SUBACK = 1 << 9;
const UNSUBSCRIBE = 1 << 10;
const UNSUBACK = 1 << 11;
const DISCONNECT = 1 << 14;
const AUTH = 1 << 15;

export interface PropertyDef {
  id: number;
  key: keyof Properties;
  /** Lowercase spec name, for messages. */
  name: string;
  type: ValueType;
  /** Bit mask of the packet kinds that may carry it (see above). */
  allowedIn: number;
  /** Reason code when the value is 0 and 0 is not allowed; 0 when 0 is a valid value. */
  zeroReason: number;
}

function def(
  id: number,
  key: keyof Properties,
  name: string,
  type: ValueType,
  allowedIn: number,
  zeroReason = 0,
): PropertyDef {
  return { id, key, name, type, allowedIn, zeroReason };
}

/** Table 2-4 of MQTT 5.0, in identifier order. */
export const PROPERTY_DEFS: readonly PropertyDef[] = [
  def(0x01, 'payloadFormatIndicator', 'payload format indicator', ValueType.Flag, PUBLISH | W),
  def(0x02, 'messageExpiryInterval', 'message expiry interval', ValueType.FourByte, PUBLISH | W),
  def(0x03, 'contentType', 'content type', ValueType.Utf8, PUBLISH | W),
  def(0x08, 'responseTopic', 'response topic', ValueType.Utf8, PUBLISH | W),
  def(0x09, 'correlationData', 'correlation data', ValueType.Binary, PUBLISH | W),
  def(
    0x0b,
    'subscriptionIdentifiers',
    'subscription identifier',
    ValueType.Varint,
    PUBLISH | SUBSCRIBE,
    PROTOCOL_ERROR,
  ),
  def(
    0x11,
    'sessionExpiryInterval',
    'session expiry interval',
    ValueType.FourByte,
    CONNECT | CONNACK | DISCONNECT,
  ),
  def(0x12, 'assignedClientIdentifier', 'assigned client identifier', ValueType.Utf8, CONNACK),
  def(0x13, 'serverKeepAlive', 'server keep alive', ValueType.TwoByte, CONNACK),
  def(0x15, 'authenticationMethod', 'authentication method', ValueType.Utf8, CONNECT | CONNACK | AUTH),
  def(0x16, 'authenticationData', 'authentication data', ValueType.Binary, CONNECT | CONNACK | AUTH),
  def(0x17, 'requestProblemInformation', 'request problem information', ValueType.Flag, CONNECT),
  def(0x18, 'willDelayInterval', 'will delay interval', ValueType.FourByte, W),
  def(0x19, 'requestResponseInformation', 'request response information', ValueType.Flag, CONNECT),
  def(0x1a, 'responseInformation', 'response information', ValueType.Utf8, CONNACK),
  def(0x1c, 'serverReference', 'server reference', ValueType.Utf8, CONNACK | DISCONNECT),
  def(
    0x1f,
    'reasonString',
    'reason string',
    ValueType.Utf8,
    CONNACK | ACKS | SUBACK | UNSUBACK | DISCONNECT | AUTH,
  ),
  def(0x21, 'receiveMaximum', 'receive maximum', ValueType.TwoByte, CONNECT | CONNACK, PROTOCOL_ERROR),
  def(0x22, 'topicAliasMaximum', 'topic alias maximum', ValueType.TwoByte, CONNECT | CONNACK),
  def(0x23, 'topicAlias', 'topic alias', ValueType.TwoByte, PUBLISH, TOPIC_ALIAS_INVALID),
  def(0x24, 'maximumQoS', 'maximum qos', ValueType.Flag, CONNACK),
  def(0x25, 'retainAvailable', 'retain available', ValueType.Flag, CONNACK),
  def(
    0x26,
    'userProperties',
    'user property',
    ValueType.Pair,
    W | CONNECT | CONNACK | PUBLISH | ACKS | SUBSCRIBE | SUBACK | UNSUBSCRIBE | UNSUBACK | DISCONNECT | AUTH,
  ),
  def(
    0x27,
    'maximumPacketSize',
    'maximum packet size',
    ValueType.FourByte,
    CONNECT | CONNACK,
    PROTOCOL_ERROR,
  ),
  def(0x28, 'wildcardSubscriptionAvailable', 'wildcard subscription available', ValueType.Flag, CONNACK),
  def(0x29, 'subscriptionIdentifiersAvailable', 'subscription identifier available', ValueType.Flag, CONNACK),
  def(0x2a, 'sharedSubscriptionAvailable', 'shared subscription available', ValueType.Flag, CONNACK),
];

/** Definitions by identifier (one byte in MQTT 5.0; unknown identifiers are `undefined`). */
export const DEF_BY_ID: ReadonlyArray<PropertyDef | undefined> = (() => {
  const table = new Array<PropertyDef | undefined>(256).fill(undefined);
  for (const d of PROPERTY_DEFS) table[d.id] = d;
  return table;
})();

/** Definitions by `Properties` key. */
export const DEF_BY_KEY: ReadonlyMap<string, PropertyDef> = new Map(PROPERTY_DEFS.map((d) => [d.key, d]));

/** Properties that may appear more than once: User Property anywhere, Subscription Identifier in PUBLISH. */
export function mayRepeat(id: number, kind: number): boolean {
  return id === 0x26 || (id === 0x0b && kind === 3);
}
