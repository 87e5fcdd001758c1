/**
 * Interoperability with mqtt-packet (the codec MQTT.js and Aedes use), both ways, for every
 * packet type and protocol version: what mqtt-packet generates we decode to the equivalent
 * packet, and what we encode mqtt-packet parses to the equivalent object.
 *
 * mqtt-packet cannot represent everything our model can; those inputs are mapped or filtered
 * explicitly (see `canonical` and `representable` below) rather than silently skipped:
 * - User properties are an object of name -> value | value[]: pairs with one name are grouped
 *   and names come in JS object key order (integer-like names first). We compare against the
 *   packet as it survives that round trip (`canonical`).
 * - Its parser tests `if (userProperties[name])`: a repeated name whose first value is ''
 *   loses that value. Inputs with such a pair are filtered out of the ours -> mqtt-packet side.
 * - Its parser reads a reason code from an AUTH of Remaining Length 0 (allowed by MQTT 5.0
 *   §3.15.2.1) and fails: such an AUTH is not offered to it.
 * - Its generator refuses a password without a username (allowed in 5.0) and an empty client
 *   id with clean = false (a CONNACK 0x85 matter, not malformed): not offered to it.
 * - Its parser reads a 5.0 DISCONNECT's reason code when the *buffer* (not the packet) has
 *   bytes left, so each packet is parsed alone, by a fresh parser.
 *
 * Longer than STYLE's ~400 lines: the two converters are one job and read best together.
 */
import fc from 'fast-check';
import * as mqtt from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import {
  decodePackets,
  encode,
  type Packet,
  PacketType,
  type Properties,
  ProtocolVersion,
  type PublishPacket,
  type QoS,
} from '../src/index.js';
import {
  comparable,
  numRuns,
  PROPERTY_ORDER,
  type PropertyName,
  packetArbitraries,
  VERSIONS,
} from '../src/testing/index.js';

const INTEROP_RUNS = 60;

type MqttObject = Record<string, unknown>;
type UserPropertyPairs = Array<[name: string, value: string]>;

const COMMAND: Record<Packet['type'], mqtt.PacketCmd> = {
  1: 'connect',
  2: 'connack',
  3: 'publish',
  4: 'puback',
  5: 'pubrec',
  6: 'pubrel',
  7: 'pubcomp',
  8: 'subscribe',
  9: 'suback',
  10: 'unsubscribe',
  11: 'unsuback',
  12: 'pingreq',
  13: 'pingresp',
  14: 'disconnect',
  15: 'auth',
};
const TYPE_OF_COMMAND = Object.fromEntries(
  Object.entries(COMMAND).map(([type, cmd]) => [cmd, Number(type)]),
) as Record<mqtt.PacketCmd, Packet['type']>;

/** mqtt-packet writes these one-byte properties from, and parses them to, booleans. */
const BOOLEAN_PROPERTIES = new Set<PropertyName>([
  'payloadFormatIndicator',
  'requestProblemInformation',
  'requestResponseInformation',
  'retainAvailable',
  'wildcardSubscriptionAvailable',
  'subscriptionIdentifiersAvailable',
  'sharedSubscriptionAvailable',
]);

// ---------------------------------------------------------------------------------------
// Converters: our packet model <-> mqtt-packet objects

function toMqttUserProperties(pairs: UserPropertyPairs): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [name, value] of pairs) {
    const current = out[name];
    if (current === undefined) out[name] = value;
    else if (Array.isArray(current)) current.push(value);
    else out[name] = [current, value];
  }
  return out;
}

function fromMqttUserProperties(object: Record<string, string | string[]>): UserPropertyPairs {
  const pairs: UserPropertyPairs = [];
  for (const name of Object.getOwnPropertyNames(object)) {
    const value = object[name] as string | string[];
    for (const v of Array.isArray(value) ? value : [value]) pairs.push([name, v]);
  }
  return pairs;
}

function toMqttProperties(properties: Properties | undefined): MqttObject | undefined {
  if (properties === undefined) return undefined;
  const out: MqttObject = {};
  for (const name of PROPERTY_ORDER) {
    const value = properties[name];
    if (value === undefined) continue;
    if (name === 'subscriptionIdentifiers') {
      const ids = value as number[];
      out.subscriptionIdentifier = ids.length === 1 ? ids[0] : ids;
    } else if (name === 'userProperties') {
      out.userProperties = toMqttUserProperties(value as UserPropertyPairs);
    } else if (BOOLEAN_PROPERTIES.has(name)) {
      out[name] = value === 1;
    } else {
      out[name] = value;
    }
  }
  return out;
}

function fromMqttProperties(object: unknown): Properties | undefined {
  if (object === undefined) return undefined;
  const source = object as MqttObject;
  const known = new Set<string>(PROPERTY_ORDER);
  for (const key of Object.keys(source)) {
    if (!known.has(key) && key !== 'subscriptionIdentifier')
      throw new Error(`unmapped mqtt-packet property ${key}`);
  }
  const out: Record<string, unknown> = {};
  for (const name of PROPERTY_ORDER) {
    if (name === 'subscriptionIdentifiers') {
      const ids = source.subscriptionIdentifier;
      if (ids !== undefined) out[name] = Array.isArray(ids) ? ids : [ids];
      continue;
    }
    const value = source[name];
    if (value === undefined) continue;
    if (name === 'userProperties')
      out[name] = fromMqttUserProperties(value as Record<string, string | string[]>);
    else if (BOOLEAN_PROPERTIES.has(name)) out[name] = value === true ? 1 : 0;
    else out[name] = value;
  }
  return out as Properties;
}

function toMqttPacket(packet: Packet, version: ProtocolVersion): mqtt.Packet {
  const cmd = COMMAND[packet.type];
  let out: MqttObject;
  switch (packet.type) {
    case PacketType.Connect:
      out = {
        cmd,
        protocolId: packet.protocolName,
        protocolVersion: packet.protocolVersion,
        clean: packet.cleanStart,
        keepalive: packet.keepaliveSeconds,
        clientId: packet.clientId,
        will:
          packet.will === undefined
            ? undefined
            : {
                topic: packet.will.topicName,
                payload: packet.will.payload,
                qos: packet.will.qos,
                retain: packet.will.retain,
                properties: toMqttProperties(packet.will.properties),
              },
        username: packet.username,
        password: packet.password,
        properties: toMqttProperties(packet.properties),
      };
      break;
    case PacketType.Connack:
      out = {
        cmd,
        sessionPresent: packet.sessionPresent,
        [version === ProtocolVersion.V5 ? 'reasonCode' : 'returnCode']: packet.reasonCode,
        properties: toMqttProperties(packet.properties),
      };
      break;
    case PacketType.Publish:
      out = {
        cmd,
        topic: packet.topicName,
        payload: packet.payload,
        qos: packet.qos,
        dup: packet.dup,
        retain: packet.retain,
        messageId: packet.packetId,
        properties: toMqttProperties(packet.properties),
      };
      break;
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      out = {
        cmd,
        messageId: packet.packetId,
        reasonCode: packet.reasonCode,
        properties: toMqttProperties(packet.properties),
      };
      break;
    case PacketType.Subscribe:
      out = {
        cmd,
        messageId: packet.packetId,
        subscriptions: packet.subscriptions.map((s) => ({
          topic: s.topicFilter,
          qos: s.qos,
          nl: s.noLocal,
          rap: s.retainAsPublished,
          rh: s.retainHandling,
        })),
        properties: toMqttProperties(packet.properties),
      };
      break;
    case PacketType.Suback:
    case PacketType.Unsuback:
      out = {
        cmd,
        messageId: packet.packetId,
        granted: packet.reasonCodes,
        properties: toMqttProperties(packet.properties),
      };
      break;
    case PacketType.Unsubscribe:
      out = {
        cmd,
        messageId: packet.packetId,
        unsubscriptions: packet.topicFilters,
        properties: toMqttProperties(packet.properties),
      };
      break;
    case PacketType.Pingreq:
    case PacketType.Pingresp:
      out = { cmd };
      break;
    case PacketType.Disconnect:
    case PacketType.Auth:
      out = { cmd, reasonCode: packet.reasonCode, properties: toMqttProperties(packet.properties) };
      break;
  }
  return out as unknown as mqtt.Packet;
}

function fromMqttPacket(parsed: mqtt.Packet, version: ProtocolVersion): Packet {
  const o = parsed as unknown as MqttObject;
  const type = TYPE_OF_COMMAND[parsed.cmd];
  const v5 = version === ProtocolVersion.V5;
  const properties = fromMqttProperties(o.properties);
  switch (type) {
    case PacketType.Connect: {
      const will = o.will as MqttObject | undefined;
      return {
        type,
        protocolName: o.protocolId as string,
        protocolVersion: o.protocolVersion as ProtocolVersion,
        cleanStart: o.clean as boolean,
        keepaliveSeconds: o.keepalive as number,
        clientId: o.clientId as string,
        will:
          will === undefined
            ? undefined
            : {
                topicName: will.topic as string,
                payload: will.payload as Buffer,
                qos: will.qos as QoS,
                retain: will.retain as boolean,
                properties: fromMqttProperties(will.properties),
              },
        username: o.username as string | undefined,
        password: o.password as Buffer | undefined,
        properties,
      };
    }
    case PacketType.Connack:
      return {
        type,
        sessionPresent: o.sessionPresent as boolean,
        reasonCode: (v5 ? o.reasonCode : o.returnCode) as number,
        properties,
      };
    case PacketType.Publish: {
      const qos = o.qos as PublishPacket['qos'];
      return {
        type,
        dup: o.dup as boolean,
        qos,
        retain: o.retain as boolean,
        topicName: o.topic as string,
        packetId: qos > 0 ? (o.messageId as number) : undefined,
        payload: o.payload as Buffer,
        properties,
      };
    }
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      return {
        type,
        packetId: o.messageId as number,
        reasonCode: v5 ? ((o.reasonCode as number | undefined) ?? 0) : 0,
        properties,
      };
    case PacketType.Subscribe:
      return {
        type,
        packetId: o.messageId as number,
        subscriptions: (o.subscriptions as mqtt.ISubscription[]).map((s) => ({
          topicFilter: s.topic,
          qos: s.qos,
          noLocal: s.nl ?? false,
          retainAsPublished: s.rap ?? false,
          retainHandling: (s.rh ?? 0) as 0 | 1 | 2,
        })),
        properties,
      };
    case PacketType.Suback:
      return { type, packetId: o.messageId as number, reasonCodes: o.granted as number[], properties };
    case PacketType.Unsubscribe:
      return {
        type,
        packetId: o.messageId as number,
        topicFilters: o.unsubscriptions as string[],
        properties,
      };
    case PacketType.Unsuback:
      return {
        type,
        packetId: o.messageId as number,
        reasonCodes: v5 ? (o.granted as number[]) : [],
        properties,
      };
    case PacketType.Pingreq:
    case PacketType.Pingresp:
      return { type };
    case PacketType.Disconnect:
    case PacketType.Auth:
      return { type, reasonCode: v5 ? ((o.reasonCode as number | undefined) ?? 0) : 0, properties };
  }
}

// ---------------------------------------------------------------------------------------
// What survives mqtt-packet's representation

function propertyLists(packet: Packet): Array<Properties | undefined> {
  const lists: Array<Properties | undefined> = 'properties' in packet ? [packet.properties] : [];
  if (packet.type === PacketType.Connect && packet.will !== undefined) lists.push(packet.will.properties);
  return lists;
}

function canonicalProperties(properties: Properties | undefined): Properties | undefined {
  if (properties?.userProperties === undefined) return properties;
  return {
    ...properties,
    userProperties: fromMqttUserProperties(toMqttUserProperties(properties.userProperties)),
  };
}

/** `packet` with user properties in the order mqtt-packet's object form gives them. */
function canonical(packet: Packet): Packet {
  if (!('properties' in packet)) return packet;
  const properties = canonicalProperties(packet.properties);
  if (packet.type === PacketType.Connect && packet.will !== undefined) {
    return {
      ...packet,
      will: { ...packet.will, properties: canonicalProperties(packet.will.properties) },
      properties,
    };
  }
  return { ...packet, properties };
}

/** mqtt-packet's parser drops a repeated user property name's first value when it is ''. */
function parserCanRead(packet: Packet, encoded: Buffer): boolean {
  if (packet.type === PacketType.Auth && encoded.length === 2) return false;
  return propertyLists(packet).every((properties) => {
    const pairs = properties?.userProperties ?? [];
    return pairs.every(
      ([name, value], i) => value !== '' || !pairs.some(([other], j) => j > i && other === name),
    );
  });
}

function generatorCanWrite(packet: Packet): boolean {
  if (packet.type !== PacketType.Connect) return true;
  if (packet.password !== undefined && packet.username === undefined) return false;
  return packet.clientId !== '' || packet.cleanStart;
}

function parseWithMqttPacket(bytes: Buffer, version: ProtocolVersion): mqtt.Packet {
  const parser = mqtt.parser({ protocolVersion: version });
  const packets: mqtt.Packet[] = [];
  const errors: string[] = [];
  parser.on('packet', (p) => packets.push(p));
  parser.on('error', (e: Error) => errors.push(e.message));
  const left = parser.parse(bytes);
  expect(errors).toStrictEqual([]);
  expect(left).toBe(0);
  expect(packets).toHaveLength(1);
  return packets[0] as mqtt.Packet;
}

function generateWithMqttPacket(packet: Packet, version: ProtocolVersion): Buffer {
  return mqtt.generate(toMqttPacket(packet, version), { protocolVersion: version });
}

// ---------------------------------------------------------------------------------------

describe.each(VERSIONS)('interop with mqtt-packet, MQTT level %i', (version) => {
  for (const [name, arbitrary] of Object.entries(packetArbitraries(version))) {
    it(`${name}: ours -> mqtt-packet`, () => {
      fc.assert(
        fc.property(arbitrary, (packet) => {
          const bytes = encode(packet, version);
          fc.pre(parserCanRead(packet, bytes));
          const parsed = parseWithMqttPacket(bytes, version);
          expect(comparable(fromMqttPacket(parsed, version))).toStrictEqual(comparable(canonical(packet)));
        }),
        { numRuns: numRuns(INTEROP_RUNS) },
      );
    });

    it(`${name}: mqtt-packet -> ours`, () => {
      fc.assert(
        fc.property(
          arbitrary.filter((p) => generatorCanWrite(p)),
          (packet) => {
            const bytes = generateWithMqttPacket(packet, version);
            const decoded = decodePackets(bytes, version);
            expect(decoded.map((p) => comparable(p))).toStrictEqual([comparable(canonical(packet))]);
            // 3.x leaves an encoder no choices: both must write the very same bytes.
            if (version !== ProtocolVersion.V5)
              expect(bytes.toString('hex')).toBe(encode(packet, version).toString('hex'));
          },
        ),
        { numRuns: numRuns(INTEROP_RUNS) },
      );
    });
  }
});

describe('interop with mqtt-packet, hand-picked', () => {
  it('decodes the README publish bytes', () => {
    const bytes = Buffer.from('300a00047465737474657374', 'hex');
    expect(decodePackets(bytes, 4).map((p) => comparable(p))).toStrictEqual([
      comparable({
        type: PacketType.Publish,
        dup: false,
        qos: 0,
        retain: false,
        topicName: 'test',
        packetId: undefined,
        payload: Buffer.from('test'),
        properties: undefined,
      }),
    ]);
  });

  it('3.1.1 CONNECT with will and credentials, both ways', () => {
    const packet: Packet = {
      type: PacketType.Connect,
      protocolName: 'MQTT',
      protocolVersion: 4,
      cleanStart: false,
      keepaliveSeconds: 60,
      clientId: 'sensor-42',
      will: {
        topicName: 'sensors/42/status',
        payload: Buffer.from('offline'),
        qos: 1,
        retain: true,
        properties: undefined,
      },
      username: 'ünïcödé 🚀',
      password: Buffer.from([0, 1, 2, 255]),
      properties: undefined,
    };
    const theirs = mqtt.generate(toMqttPacket(packet, 4), { protocolVersion: 4 });
    expect(theirs.equals(encode(packet, 4))).toBe(true);
    const parsed = parseWithMqttPacket(encode(packet, 4), 4) as mqtt.IConnectPacket;
    expect(parsed.will?.topic).toBe('sensors/42/status');
    expect(parsed.username).toBe('ünïcödé 🚀');
    expect(parsed.password?.equals(Buffer.from([0, 1, 2, 255]))).toBe(true);
  });

  it('3.1 CONNECT (MQIsdp) from mqtt-packet', () => {
    const bytes = mqtt.generate(
      { cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clientId: 'c', clean: true, keepalive: 10 },
      { protocolVersion: 3 },
    );
    const [decoded] = decodePackets(bytes, 3);
    expect(decoded).toMatchObject({
      type: PacketType.Connect,
      protocolName: 'MQIsdp',
      protocolVersion: 3,
      clientId: 'c',
    });
  });

  it('5.0 PUBLISH with repeated user properties and several subscription identifiers', () => {
    const packet: Packet = {
      type: PacketType.Publish,
      dup: true,
      qos: 2,
      retain: false,
      topicName: 'a/b',
      packetId: 65535,
      payload: Buffer.from('hello'),
      properties: {
        payloadFormatIndicator: 1,
        contentType: 'text/plain',
        subscriptionIdentifiers: [1, 268_435_455],
        userProperties: [
          ['k', 'v1'],
          ['k', 'v2'],
          ['x', 'y'],
        ],
      },
    };
    const parsed = parseWithMqttPacket(encode(packet, 5), 5) as mqtt.IPublishPacket;
    expect(parsed.properties).toEqual({
      payloadFormatIndicator: true,
      contentType: 'text/plain',
      subscriptionIdentifier: [1, 268_435_455],
      userProperties: { k: ['v1', 'v2'], x: 'y' },
    });
    const [decoded] = decodePackets(generateWithMqttPacket(packet, 5), 5);
    expect(comparable(decoded)).toStrictEqual(comparable(packet));
  });

  it('5.0 acks with reason code 0 and no properties use mqtt-packet short form', () => {
    const bytes = mqtt.generate({ cmd: 'puback', messageId: 7, reasonCode: 0 }, { protocolVersion: 5 });
    expect(bytes.toString('hex')).toBe('40020007');
    expect(decodePackets(bytes, 5).map((p) => comparable(p))).toStrictEqual([
      comparable({ type: PacketType.Puback, packetId: 7, reasonCode: 0, properties: undefined }),
    ]);
  });

  it('5.0 DISCONNECT and AUTH as mqtt-packet writes them (reason code and empty property length)', () => {
    const disconnect = mqtt.generate({ cmd: 'disconnect', reasonCode: 0x8e }, { protocolVersion: 5 });
    expect(decodePackets(disconnect, 5).map((p) => comparable(p))).toStrictEqual([
      comparable({ type: PacketType.Disconnect, reasonCode: 0x8e, properties: undefined }),
    ]);
    const auth = mqtt.generate(
      { cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM-SHA-1' } },
      { protocolVersion: 5 },
    );
    expect(decodePackets(auth, 5).map((p) => comparable(p))).toStrictEqual([
      comparable({
        type: PacketType.Auth,
        reasonCode: 0x18,
        properties: { authenticationMethod: 'SCRAM-SHA-1' },
      }),
    ]);
  });
});
