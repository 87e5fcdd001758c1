/**
 * fast-check arbitraries for valid MQTT packets of every type and protocol version, as the
 * codec models them (`../packets.ts`): every field present (`undefined` when absent),
 * `properties` `undefined` for 3.x and for an empty 5.0 property set, fields in interface
 * order. Values respect what the decoder enforces, so `decode(encode(p))` must equal `p`.
 *
 * Choices worth knowing when reading a counterexample:
 * - Strings are valid UTF-8 without U+0000 or lone surrogates; they mix ASCII, a few C0
 *   controls (allowed: the spec only says SHOULD NOT), 2- and 3-byte characters (including
 *   the noncharacters U+FFFE/U+FFFF) and astral characters (4 bytes, surrogate pairs in JS).
 * - Topic names never hold `+`, `#`; they are non-empty, except a 5.0 PUBLISH topic, which is
 *   empty only when a Topic Alias is set. Topic filters are valid (`+` a whole level, `#` the
 *   whole last level); 5.0 adds `$share/<group>/<filter>` (never with No Local, a Protocol
 *   Error [MQTT-3.8.3-4]).
 * - MQTT 3.1 (level 3): client id of 1..23 characters, CONNACK without Session Present (the
 *   byte is reserved in 3.1), SUBACK granted QoS 0..2 only (0x80 came with 3.1.1).
 * - 3.x: a password only with a username. Will QoS/retain only exist inside a will.
 * - CONNACK Session Present only with reason/return code 0 [MQTT-3.2.2-4/-6].
 * - Authentication Data only with an Authentication Method: without one it is a Protocol Error in
 *   CONNECT (§3.1.2.11.10, which the codec enforces both ways) and AUTH requires a method anyway.
 *
 * Longer than STYLE's ~400 lines on purpose: one job (valid packets), and the constraints
 * read best side by side.
 */
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { PacketType, ProtocolVersion, type QoS, type RetainHandling } from '../packet-types.js';
import type {
  AckPacket,
  AckPacketType,
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  Packet,
  PingreqPacket,
  PingrespPacket,
  PublishPacket,
  SubackPacket,
  SubscribePacket,
  Subscription,
  UnsubackPacket,
  UnsubscribePacket,
  Will,
} from '../packets.js';
import type { Properties } from '../properties.js';

/**
 * `base` runs scaled by the CODEC_PROP_SCALE environment variable (default 1), for a longer
 * hunt than CI affords: `CODEC_PROP_SCALE=20 npx vitest run --project codec`.
 */
export function numRuns(base: number): number {
  const scale = Number(process.env.CODEC_PROP_SCALE ?? 1);
  return Math.max(1, Math.round(base * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

export const VERSIONS: readonly ProtocolVersion[] = [
  ProtocolVersion.V3_1,
  ProtocolVersion.V3_1_1,
  ProtocolVersion.V5,
];

// ---------------------------------------------------------------------------------------
// Scalars

/** One Unicode scalar value that is valid in an MQTT UTF-8 string (no U+0000, no surrogate). */
export const utf8CharArbitrary: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 10, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 1, arbitrary: fc.integer({ min: 0x01, max: 0x1f }) },
    { weight: 2, arbitrary: fc.integer({ min: 0x80, max: 0x7ff }) },
    { weight: 2, arbitrary: fc.integer({ min: 0x800, max: 0xd7ff }) },
    { weight: 1, arbitrary: fc.integer({ min: 0xe000, max: 0xffff }) },
    { weight: 2, arbitrary: fc.integer({ min: 0x10000, max: 0x10ffff }) },
    // Encoding boundaries, U+FFFD (which a lenient UTF-8 decoder produces for bad input), BOM.
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        0x7f,
        0x80,
        0x7ff,
        0x800,
        0xd7ff,
        0xe000,
        0xfeff,
        0xfffd,
        0xfffe,
        0xffff,
        0x10000,
        0x10ffff,
      ),
    },
  )
  .map((codePoint) => String.fromCodePoint(codePoint));

export interface StringConstraints {
  minLength?: number;
  maxLength?: number;
}

/** A valid MQTT UTF-8 string; lengths count code points (up to 4 bytes each). */
export function utf8StringArbitrary(constraints: StringConstraints = {}): fc.Arbitrary<string> {
  return fc.string({
    unit: utf8CharArbitrary,
    minLength: constraints.minLength ?? 0,
    maxLength: constraints.maxLength ?? 12,
  });
}

const levelChar = utf8CharArbitrary.filter((c) => c !== '/' && c !== '+' && c !== '#');
const topicLevel = fc.string({ unit: levelChar, maxLength: 6 });

/** A topic name: no wildcards, levels may be empty (`a//b`, `/a`), never empty as a whole. */
export const topicNameArbitrary: fc.Arbitrary<string> = fc
  .array(topicLevel, { minLength: 1, maxLength: 5 })
  .map((levels) => levels.join('/'))
  .filter((topic) => topic.length > 0);

/** A valid topic filter, non-empty, optionally `$share/<group>/...` when `shared` is allowed. */
export function topicFilterArbitrary(options: { shared?: boolean } = {}): fc.Arbitrary<string> {
  const plain = fc
    .tuple(
      fc.array(fc.oneof({ weight: 3, arbitrary: topicLevel }, { weight: 1, arbitrary: fc.constant('+') }), {
        maxLength: 5,
      }),
      fc.boolean(),
    )
    .map(([levels, multi]) => (multi ? [...levels, '#'] : levels).join('/'))
    .filter((filter) => filter.length > 0);
  if (options.shared !== true) return plain;
  const group = fc.string({ unit: levelChar, minLength: 1, maxLength: 6 });
  return fc.oneof(
    { weight: 5, arbitrary: plain },
    { weight: 1, arbitrary: fc.tuple(group, plain).map(([g, f]) => `$share/${g}/${f}`) },
  );
}

export const qosArbitrary: fc.Arbitrary<QoS> = fc.constantFrom<QoS>(0, 1, 2);
export const packetIdArbitrary: fc.Arbitrary<number> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(1, 0xff, 0x100, 0xffff) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 0xffff }) },
);
const uint16 = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 0xffff) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
);
const nonZeroUint16 = fc.integer({ min: 1, max: 0xffff });
/** fc.integer is limited to 32-bit signed values: build a uint32 from two halves. */
const uint32 = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }))
      .map(([high, low]) => high * 0x10000 + low),
  },
);
const nonZeroUint32 = uint32.map((n) => (n === 0 ? 1 : n));
/** Variable byte integer values 1..268435455, biased to the 1..4-byte boundaries. */
const subscriptionIdentifier = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 268_435_455 }) },
);
const bit = fc.constantFrom(0, 1);

export function binaryArbitrary(maxLength = 16): fc.Arbitrary<Buffer> {
  return fc.uint8Array({ maxLength }).map((bytes) => Buffer.from(bytes));
}

/** Pseudo-random bytes of an exact length, without generating one arbitrary per byte. */
export function filledBuffer(length: number, seed: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buffer[i] = x & 0xff;
  }
  return buffer;
}

function largeBinary(minLength: number, maxLength: number): fc.Arbitrary<Buffer> {
  return fc
    .tuple(fc.integer({ min: minLength, max: maxLength }), fc.integer())
    .map(([length, seed]) => filledBuffer(length, seed));
}

/** Mostly small payloads; sometimes large enough for a 2- or 3-byte Remaining Length. */
export const payloadArbitrary: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 12, arbitrary: binaryArbitrary(48) },
  { weight: 1, arbitrary: largeBinary(100, 300) },
  { weight: 1, arbitrary: largeBinary(16_000, 20_000) },
);

// ---------------------------------------------------------------------------------------
// Properties

export type PropertyName = keyof Properties;

/** Interface (and property identifier) order. */
export const PROPERTY_ORDER: readonly PropertyName[] = [
  'payloadFormatIndicator',
  'messageExpiryInterval',
  'contentType',
  'responseTopic',
  'correlationData',
  'subscriptionIdentifiers',
  'sessionExpiryInterval',
  'assignedClientIdentifier',
  'serverKeepAlive',
  'authenticationMethod',
  'authenticationData',
  'requestProblemInformation',
  'willDelayInterval',
  'requestResponseInformation',
  'responseInformation',
  'serverReference',
  'reasonString',
  'receiveMaximum',
  'topicAliasMaximum',
  'topicAlias',
  'maximumQoS',
  'retainAvailable',
  'userProperties',
  'maximumPacketSize',
  'wildcardSubscriptionAvailable',
  'subscriptionIdentifiersAvailable',
  'sharedSubscriptionAvailable',
];

/** Where a property list occurs: a packet type, or the will properties of CONNECT. */
export type PropertyContext =
  | 'connect'
  | 'will'
  | 'connack'
  | 'publish'
  | 'ack'
  | 'subscribe'
  | 'suback'
  | 'unsubscribe'
  | 'unsuback'
  | 'disconnect'
  | 'auth';

/** MQTT 5.0 Table 2-4: the properties each context allows. */
export const ALLOWED_PROPERTIES: Readonly<Record<PropertyContext, readonly PropertyName[]>> = {
  connect: [
    'sessionExpiryInterval',
    'authenticationMethod',
    'authenticationData',
    'requestProblemInformation',
    'requestResponseInformation',
    'receiveMaximum',
    'topicAliasMaximum',
    'userProperties',
    'maximumPacketSize',
  ],
  will: [
    'payloadFormatIndicator',
    'messageExpiryInterval',
    'contentType',
    'responseTopic',
    'correlationData',
    'willDelayInterval',
    'userProperties',
  ],
  connack: [
    'sessionExpiryInterval',
    'assignedClientIdentifier',
    'serverKeepAlive',
    'authenticationMethod',
    'authenticationData',
    'responseInformation',
    'serverReference',
    'reasonString',
    'receiveMaximum',
    'topicAliasMaximum',
    'maximumQoS',
    'retainAvailable',
    'userProperties',
    'maximumPacketSize',
    'wildcardSubscriptionAvailable',
    'subscriptionIdentifiersAvailable',
    'sharedSubscriptionAvailable',
  ],
  publish: [
    'payloadFormatIndicator',
    'messageExpiryInterval',
    'contentType',
    'responseTopic',
    'correlationData',
    'subscriptionIdentifiers',
    'topicAlias',
    'userProperties',
  ],
  ack: ['reasonString', 'userProperties'],
  subscribe: ['subscriptionIdentifiers', 'userProperties'],
  suback: ['reasonString', 'userProperties'],
  unsubscribe: ['userProperties'],
  unsuback: ['reasonString', 'userProperties'],
  disconnect: ['sessionExpiryInterval', 'serverReference', 'reasonString', 'userProperties'],
  auth: ['authenticationMethod', 'authenticationData', 'reasonString', 'userProperties'],
};

/** Names drawn from a small pool so that repeated names (allowed, kept in order) are common. */
const userPropertyName = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom('a', 'key', 'ключ', '名前') },
  { weight: 3, arbitrary: utf8StringArbitrary() },
);
export const userPropertiesArbitrary: fc.Arbitrary<Array<[name: string, value: string]>> = fc.array(
  fc.tuple(userPropertyName, utf8StringArbitrary()),
  { minLength: 1, maxLength: 4 },
);

const propertyValueArbitraries: { [K in PropertyName]-?: fc.Arbitrary<NonNullable<Properties[K]>> } = {
  payloadFormatIndicator: bit,
  messageExpiryInterval: uint32,
  contentType: utf8StringArbitrary(),
  responseTopic: topicNameArbitrary,
  correlationData: binaryArbitrary(),
  subscriptionIdentifiers: fc.array(subscriptionIdentifier, { minLength: 1, maxLength: 4 }),
  sessionExpiryInterval: uint32,
  assignedClientIdentifier: utf8StringArbitrary(),
  serverKeepAlive: uint16,
  authenticationMethod: utf8StringArbitrary(),
  authenticationData: binaryArbitrary(),
  requestProblemInformation: bit,
  willDelayInterval: uint32,
  requestResponseInformation: bit,
  responseInformation: utf8StringArbitrary(),
  serverReference: utf8StringArbitrary(),
  reasonString: utf8StringArbitrary(),
  receiveMaximum: nonZeroUint16,
  topicAliasMaximum: uint16,
  topicAlias: nonZeroUint16,
  maximumQoS: bit,
  retainAvailable: bit,
  userProperties: userPropertiesArbitrary,
  maximumPacketSize: nonZeroUint32,
  wildcardSubscriptionAvailable: bit,
  subscriptionIdentifiersAvailable: bit,
  sharedSubscriptionAvailable: bit,
};

function withoutOrphanAuthenticationData(properties: Properties): Properties {
  if (properties.authenticationData === undefined || properties.authenticationMethod !== undefined) {
    return properties;
  }
  const { authenticationData: _dropped, ...rest } = properties;
  return rest;
}

/**
 * A 5.0 property set valid in `context`, or `undefined` (an empty set is always `undefined`,
 * as the decoder returns it). Picks a random subset of the allowed properties.
 */
export function propertiesArbitrary(context: PropertyContext): fc.Arbitrary<Properties | undefined> {
  const allowed = ALLOWED_PROPERTIES[context];
  const present = fc.subarray([...allowed], { minLength: 1 }).chain((names) => {
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    for (const name of PROPERTY_ORDER) {
      if (!names.includes(name)) continue;
      // SUBSCRIBE carries at most one Subscription Identifier; PUBLISH may carry several.
      model[name] =
        context === 'subscribe' && name === 'subscriptionIdentifiers'
          ? subscriptionIdentifier.map((id) => [id])
          : propertyValueArbitraries[name];
    }
    return fc.record(model).map((properties) => withoutOrphanAuthenticationData(properties as Properties));
  });
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: present.map((p) => (Object.keys(p).length === 0 ? undefined : p)) },
  );
}

function propertiesFor(
  version: ProtocolVersion,
  context: PropertyContext,
): fc.Arbitrary<Properties | undefined> {
  return version === ProtocolVersion.V5 ? propertiesArbitrary(context) : fc.constant(undefined);
}

// ---------------------------------------------------------------------------------------
// Reason codes valid for each packet type (MQTT 5.0 §3.x.2.1)

export const CONNACK_REASON_CODES = [
  0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a,
  0x9b, 0x9c, 0x9d, 0x9f,
] as const;
export const CONNACK_RETURN_CODES = [0, 1, 2, 3, 4, 5] as const;
export const PUBACK_REASON_CODES = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99] as const;
export const PUBREL_REASON_CODES = [0x00, 0x92] as const;
export const SUBACK_REASON_CODES = [
  0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2,
] as const;
export const UNSUBACK_REASON_CODES = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91] as const;
export const DISCONNECT_REASON_CODES = [
  0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97,
  0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
] as const;
export const AUTH_REASON_CODES = [0x00, 0x18, 0x19] as const;

/** Reason code 0 is the common case and the one with a short encoding: weight it up. */
function reasonCode(codes: readonly number[]): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.constantFrom(...codes) },
  );
}

// ---------------------------------------------------------------------------------------
// Packets

export function willArbitrary(version: ProtocolVersion): fc.Arbitrary<Will> {
  return fc.record({
    topicName: topicNameArbitrary,
    payload: fc.oneof(
      { weight: 8, arbitrary: binaryArbitrary(32) },
      { weight: 1, arbitrary: largeBinary(100, 300) },
    ),
    qos: qosArbitrary,
    retain: fc.boolean(),
    properties: propertiesFor(version, 'will'),
  });
}

const noCredentials = { username: undefined, password: undefined };

function credentialsArbitrary(
  version: ProtocolVersion,
): fc.Arbitrary<{ username: string | undefined; password: Buffer | undefined }> {
  const password = fc.option(binaryArbitrary(), { nil: undefined });
  const withUsername = fc.record({ username: utf8StringArbitrary(), password });
  if (version !== ProtocolVersion.V5) {
    // 3.x: a password requires a username (3.1.1 [MQTT-3.1.2-22]).
    return fc.oneof(fc.constant(noCredentials), withUsername);
  }
  return fc.oneof(
    fc.constant(noCredentials),
    withUsername,
    fc.record({ username: fc.constant(undefined), password }),
  );
}

export function connectArbitrary(version: ProtocolVersion): fc.Arbitrary<ConnectPacket> {
  // 3.1 requires a client id of 1..23 characters; 3.1.1 and 5.0 allow an empty one.
  const clientId =
    version === ProtocolVersion.V3_1
      ? utf8StringArbitrary({ minLength: 1, maxLength: 23 })
      : utf8StringArbitrary({ maxLength: 30 });
  return fc
    .record({
      cleanStart: fc.boolean(),
      keepaliveSeconds: uint16,
      clientId,
      will: fc.option(willArbitrary(version), { nil: undefined }),
      credentials: credentialsArbitrary(version),
      properties: propertiesFor(version, 'connect'),
    })
    .map(
      (r): ConnectPacket => ({
        type: PacketType.Connect,
        protocolName: version === ProtocolVersion.V3_1 ? 'MQIsdp' : 'MQTT',
        protocolVersion: version,
        cleanStart: r.cleanStart,
        keepaliveSeconds: r.keepaliveSeconds,
        clientId: r.clientId,
        will: r.will,
        username: r.credentials.username,
        password: r.credentials.password,
        properties: r.properties,
      }),
    );
}

export function connackArbitrary(version: ProtocolVersion): fc.Arbitrary<ConnackPacket> {
  const code =
    version === ProtocolVersion.V5 ? reasonCode(CONNACK_REASON_CODES) : reasonCode(CONNACK_RETURN_CODES);
  return fc
    .record({ sessionPresent: fc.boolean(), reasonCode: code, properties: propertiesFor(version, 'connack') })
    .map(
      (r): ConnackPacket => ({
        type: PacketType.Connack,
        // Reserved in 3.1; only with an accepted connection in 3.1.1 and 5.0.
        sessionPresent: version !== ProtocolVersion.V3_1 && r.reasonCode === 0 && r.sessionPresent,
        reasonCode: r.reasonCode,
        properties: r.properties,
      }),
    );
}

export function publishArbitrary(version: ProtocolVersion): fc.Arbitrary<PublishPacket> {
  return fc
    .record({
      dup: fc.boolean(),
      qos: qosArbitrary,
      retain: fc.boolean(),
      topicName: topicNameArbitrary,
      emptyTopic: fc.boolean(),
      packetId: packetIdArbitrary,
      payload: payloadArbitrary,
      properties: propertiesFor(version, 'publish'),
    })
    .map(
      (r): PublishPacket => ({
        type: PacketType.Publish,
        dup: r.qos > 0 && r.dup,
        qos: r.qos,
        retain: r.retain,
        // 5.0: an empty topic name is valid only together with a Topic Alias.
        topicName: r.emptyTopic && r.properties?.topicAlias !== undefined ? '' : r.topicName,
        packetId: r.qos > 0 ? r.packetId : undefined,
        payload: r.payload,
        properties: r.properties,
      }),
    );
}

export function ackArbitrary<T extends AckPacketType>(
  type: T,
  version: ProtocolVersion,
): fc.Arbitrary<AckPacket<T>> {
  const codes =
    type === PacketType.Puback || type === PacketType.Pubrec ? PUBACK_REASON_CODES : PUBREL_REASON_CODES;
  const code = version === ProtocolVersion.V5 ? reasonCode(codes) : fc.constant(0);
  return fc
    .record({ packetId: packetIdArbitrary, reasonCode: code, properties: propertiesFor(version, 'ack') })
    .map(
      (r): AckPacket<T> => ({
        type,
        packetId: r.packetId,
        reasonCode: r.reasonCode,
        properties: r.properties,
      }),
    );
}

export const pubackArbitrary = (version: ProtocolVersion) => ackArbitrary(PacketType.Puback, version);
export const pubrecArbitrary = (version: ProtocolVersion) => ackArbitrary(PacketType.Pubrec, version);
export const pubrelArbitrary = (version: ProtocolVersion) => ackArbitrary(PacketType.Pubrel, version);
export const pubcompArbitrary = (version: ProtocolVersion) => ackArbitrary(PacketType.Pubcomp, version);

export function subscriptionArbitrary(version: ProtocolVersion): fc.Arbitrary<Subscription> {
  if (version !== ProtocolVersion.V5) {
    return fc.record({
      topicFilter: topicFilterArbitrary(),
      qos: qosArbitrary,
      noLocal: fc.constant(false),
      retainAsPublished: fc.constant(false),
      retainHandling: fc.constant<RetainHandling>(0),
    });
  }
  return fc
    .record({
      topicFilter: topicFilterArbitrary({ shared: true }),
      qos: qosArbitrary,
      noLocal: fc.boolean(),
      retainAsPublished: fc.boolean(),
      retainHandling: fc.constantFrom<RetainHandling>(0, 1, 2),
    })
    .map((s) => (s.noLocal && s.topicFilter.startsWith('$share/') ? { ...s, noLocal: false } : s));
}

export function subscribeArbitrary(version: ProtocolVersion): fc.Arbitrary<SubscribePacket> {
  return fc
    .record({
      packetId: packetIdArbitrary,
      subscriptions: fc.array(subscriptionArbitrary(version), { minLength: 1, maxLength: 5 }),
      properties: propertiesFor(version, 'subscribe'),
    })
    .map((r): SubscribePacket => ({ type: PacketType.Subscribe, ...r }));
}

export function subackArbitrary(version: ProtocolVersion): fc.Arbitrary<SubackPacket> {
  const codes =
    version === ProtocolVersion.V5
      ? fc.constantFrom(...SUBACK_REASON_CODES)
      : version === ProtocolVersion.V3_1_1
        ? fc.constantFrom(0, 1, 2, 0x80)
        : fc.constantFrom(0, 1, 2);
  return fc
    .record({
      packetId: packetIdArbitrary,
      reasonCodes: fc.array(codes, { minLength: 1, maxLength: 6 }),
      properties: propertiesFor(version, 'suback'),
    })
    .map((r): SubackPacket => ({ type: PacketType.Suback, ...r }));
}

export function unsubscribeArbitrary(version: ProtocolVersion): fc.Arbitrary<UnsubscribePacket> {
  return fc
    .record({
      packetId: packetIdArbitrary,
      topicFilters: fc.array(topicFilterArbitrary({ shared: version === ProtocolVersion.V5 }), {
        minLength: 1,
        maxLength: 5,
      }),
      properties: propertiesFor(version, 'unsubscribe'),
    })
    .map((r): UnsubscribePacket => ({ type: PacketType.Unsubscribe, ...r }));
}

export function unsubackArbitrary(version: ProtocolVersion): fc.Arbitrary<UnsubackPacket> {
  const reasonCodes =
    version === ProtocolVersion.V5
      ? fc.array(fc.constantFrom(...UNSUBACK_REASON_CODES), { minLength: 1, maxLength: 6 })
      : fc.constant<number[]>([]);
  return fc
    .record({ packetId: packetIdArbitrary, reasonCodes, properties: propertiesFor(version, 'unsuback') })
    .map((r): UnsubackPacket => ({ type: PacketType.Unsuback, ...r }));
}

export const pingreqArbitrary = (_version?: ProtocolVersion): fc.Arbitrary<PingreqPacket> =>
  fc.constant({ type: PacketType.Pingreq }).map((p) => ({ ...p }));
export const pingrespArbitrary = (_version?: ProtocolVersion): fc.Arbitrary<PingrespPacket> =>
  fc.constant({ type: PacketType.Pingresp }).map((p) => ({ ...p }));

export function disconnectArbitrary(version: ProtocolVersion): fc.Arbitrary<DisconnectPacket> {
  const code = version === ProtocolVersion.V5 ? reasonCode(DISCONNECT_REASON_CODES) : fc.constant(0);
  return fc
    .record({ reasonCode: code, properties: propertiesFor(version, 'disconnect') })
    .map((r): DisconnectPacket => ({ type: PacketType.Disconnect, ...r }));
}

/** AUTH exists in MQTT 5.0 only. */
export function authArbitrary(): fc.Arbitrary<AuthPacket> {
  return fc
    .record({ reasonCode: reasonCode(AUTH_REASON_CODES), properties: propertiesArbitrary('auth') })
    .map((r): AuthPacket => ({ type: PacketType.Auth, ...r }));
}

export type PacketTypeName =
  | 'connect'
  | 'connack'
  | 'publish'
  | 'puback'
  | 'pubrec'
  | 'pubrel'
  | 'pubcomp'
  | 'subscribe'
  | 'suback'
  | 'unsubscribe'
  | 'unsuback'
  | 'pingreq'
  | 'pingresp'
  | 'disconnect'
  | 'auth';

/** One arbitrary per packet type valid in `version` (AUTH only for 5.0), keyed by type name. */
export function packetArbitraries(
  version: ProtocolVersion,
): Partial<Record<PacketTypeName, fc.Arbitrary<Packet>>> {
  const arbitraries: Partial<Record<PacketTypeName, fc.Arbitrary<Packet>>> = {
    connect: connectArbitrary(version),
    connack: connackArbitrary(version),
    publish: publishArbitrary(version),
    puback: pubackArbitrary(version),
    pubrec: pubrecArbitrary(version),
    pubrel: pubrelArbitrary(version),
    pubcomp: pubcompArbitrary(version),
    subscribe: subscribeArbitrary(version),
    suback: subackArbitrary(version),
    unsubscribe: unsubscribeArbitrary(version),
    unsuback: unsubackArbitrary(version),
    pingreq: pingreqArbitrary(version),
    pingresp: pingrespArbitrary(version),
    disconnect: disconnectArbitrary(version),
  };
  if (version === ProtocolVersion.V5) arbitraries.auth = authArbitrary();
  return arbitraries;
}

/** Any valid packet of `version`; PUBLISH is weighted up as the packet that matters most. */
export function packetArbitrary(version: ProtocolVersion): fc.Arbitrary<Packet> {
  const all = Object.entries(packetArbitraries(version)).map(([name, arbitrary]) => ({
    weight: name === 'publish' ? 4 : 1,
    arbitrary: arbitrary as fc.Arbitrary<Packet>,
  }));
  return fc.oneof(...all);
}

/** A non-empty sequence of valid packets of `version`, as a connection might carry them. */
export function packetSequenceArbitrary(version: ProtocolVersion, maxLength = 8): fc.Arbitrary<Packet[]> {
  return fc.array(packetArbitrary(version), { minLength: 1, maxLength });
}
