import { describe, expect, it } from 'vitest';
import {
  type ConnectPacket,
  decodePackets,
  encode,
  encodedLength,
  encodeInto,
  type Packet,
  type Properties,
  type ProtocolVersion,
  type PublishPacket,
} from '../src/index.js';
import { DECODE_ONLY, GOLDEN } from './fixtures/golden.js';

const publish = (fields: Partial<PublishPacket> = {}): PublishPacket => ({
  type: 3,
  dup: false,
  qos: 1,
  retain: false,
  topicName: 'a/b',
  packetId: 1,
  payload: Buffer.from('x'),
  properties: undefined,
  ...fields,
});

const connect = (fields: Partial<ConnectPacket> = {}): ConnectPacket => ({
  type: 1,
  protocolName: 'MQTT',
  protocolVersion: 4,
  cleanStart: true,
  keepaliveSeconds: 60,
  clientId: 'c',
  will: undefined,
  username: undefined,
  password: undefined,
  properties: undefined,
  ...fields,
});

const vectors = [...GOLDEN, ...DECODE_ONLY];

describe('encodedLength', () => {
  it.each(vectors.map((v) => [`${v.version}: ${v.name}`, v] as const))(
    'equals encode().length: %s',
    (_, v) => {
      expect(encodedLength(v.packet, v.version)).toBe(encode(v.packet, v.version).length);
    },
  );

  it('counts a 4-byte remaining length', () => {
    const packet = publish({ qos: 0, packetId: undefined, payload: Buffer.alloc(2_097_152) });
    expect(encodedLength(packet, 4)).toBe(1 + 4 + 5 + 2_097_152);
    expect(encode(packet, 4).subarray(0, 5).toString('hex')).toBe('3085808001');
  });
});

describe('encodeInto', () => {
  it('writes at an offset and leaves the bytes around it alone', () => {
    for (const v of vectors) {
      const expected = encode(v.packet, v.version);
      const target = Buffer.alloc(expected.length + 10, 0xee);
      expect(encodeInto(v.packet, v.version, target, 3)).toBe(expected.length);
      expect(target.subarray(3, 3 + expected.length).equals(expected)).toBe(true);
      expect(target.subarray(0, 3).every((byte) => byte === 0xee)).toBe(true);
      expect(target.subarray(3 + expected.length).every((byte) => byte === 0xee)).toBe(true);
    }
  });

  it('writes into a plain Uint8Array, offset 0 by default', () => {
    const packet = publish({ topicName: 'tëst', properties: undefined });
    const target = new Uint8Array(64);
    const written = encodeInto(packet, 4, target);
    expect(Buffer.from(target.subarray(0, written)).equals(encode(packet, 4))).toBe(true);
  });

  it('throws RangeError and writes nothing when the packet does not fit', () => {
    const packet = publish();
    const size = encodedLength(packet, 4);
    const target = Buffer.alloc(size + 1, 0xee);
    expect(() => encodeInto(packet, 4, target, 2)).toThrow(RangeError);
    expect(() => encodeInto(packet, 4, target, 2)).toThrow(
      `packet of ${size} bytes does not fit in ${size - 1} bytes`,
    );
    expect(target.every((byte) => byte === 0xee)).toBe(true);
    expect(encodeInto(packet, 4, target, 1)).toBe(size);
  });

  it('checks the offset and the target', () => {
    const packet = publish();
    expect(() => encodeInto(packet, 4, Buffer.alloc(10), -1)).toThrow(RangeError);
    expect(() => encodeInto(packet, 4, Buffer.alloc(10), 11)).toThrow(RangeError);
    expect(() => encodeInto(packet, 4, Buffer.alloc(10), 1.5)).toThrow(RangeError);
    expect(() => encodeInto(packet, 4, [] as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('encode', () => {
  it('returns prebuilt bytes for constant packets', () => {
    expect(encode({ type: 12 }, 4)).toBe(encode({ type: 12 }, 5));
    expect(encode({ type: 13 }, 4).toString('hex')).toBe('d000');
    expect(encode({ type: 14, reasonCode: 0, properties: undefined }, 3).toString('hex')).toBe('e000');
  });

  it('writes nothing of 5.0 into 3.x packets', () => {
    const ack = { type: 4, packetId: 1, reasonCode: 0x10, properties: { reasonString: 'x' } } as const;
    expect(encode(ack, 4).toString('hex')).toBe('40020001');
    const disconnect = { type: 14, reasonCode: 0x8e, properties: undefined } as const;
    expect(encode(disconnect, 3).toString('hex')).toBe('e000');
    const unsuback: Packet = { type: 11, packetId: 2, reasonCodes: [0x11], properties: undefined };
    expect(encode(unsuback, 4).toString('hex')).toBe('b0020002');
    const sub = {
      type: 8,
      packetId: 1,
      subscriptions: [
        { topicFilter: 't', qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 },
      ],
      properties: { userProperties: [['k', 'v']] },
    } as const satisfies Packet;
    expect(encode(sub, 4).toString('hex')).toBe('8206000100017401');
  });

  it('treats empty properties as no properties (shortest form)', () => {
    expect(encode({ type: 4, packetId: 1, reasonCode: 0, properties: {} }, 5).toString('hex')).toBe(
      '40020001',
    );
    const empty: Properties = { userProperties: [], reasonString: undefined };
    expect(encode({ type: 14, reasonCode: 0, properties: empty }, 5).toString('hex')).toBe('e000');
  });

  it('ignores packetId on qos 0 publish', () => {
    expect(encode(publish({ qos: 0, packetId: 7 }), 4).toString('hex')).toBe('30060003612f6278');
  });

  it('round-trips strings that need the utf-8 slow paths', () => {
    const topics = ['x'.repeat(16), 'x'.repeat(17), 'ü'.repeat(30), '😀/€/ß', 'a'.repeat(65535)];
    for (const topicName of topics) {
      const packet = publish({ topicName });
      expect(decodePackets(encode(packet, 4), 4)).toStrictEqual([packet]);
    }
  });
});

describe('argument errors', () => {
  type Case = [name: string, packet: unknown, version: number, error: typeof RangeError | typeof TypeError];
  const huge = Object.create(Uint8Array.prototype, { length: { value: 268_435_450 } }) as Buffer;
  const cases: Case[] = [
    ['protocol version 6', publish(), 6, RangeError],
    ['protocol version undefined', publish(), undefined as unknown as number, RangeError],
    ['packet null', null, 4, TypeError],
    ['unknown packet type', { type: 0 }, 4, TypeError],
    ['packet type 16', { type: 16 }, 4, TypeError],
    ['auth in 3.1.1', { type: 15, reasonCode: 0, properties: undefined }, 4, TypeError],
    ['publish packetId 0', publish({ packetId: 0 }), 4, RangeError],
    ['publish packetId 65536', publish({ packetId: 65536 }), 4, RangeError],
    ['publish qos 1 without packetId', publish({ packetId: undefined }), 4, RangeError],
    ['publish qos 3', publish({ qos: 3 as 0 }), 4, RangeError],
    ['publish qos 0 with dup', publish({ qos: 0, dup: true, packetId: undefined }), 4, RangeError],
    ['publish payload string', publish({ payload: 'x' as unknown as Buffer }), 4, TypeError],
    ['publish topic of 65536 bytes', publish({ topicName: 'a'.repeat(65536) }), 4, RangeError],
    ['publish topic of 65536 utf-8 bytes', publish({ topicName: 'ü'.repeat(32768) }), 4, RangeError],
    ['publish topic with u+0000', publish({ topicName: 'a\0b' }), 4, TypeError],
    ['publish topic with a lone surrogate', publish({ topicName: 'a\ud800b' }), 4, TypeError],
    ['publish topic with a lone low surrogate', publish({ topicName: '\udc00' }), 4, TypeError],
    ['publish topic not a string', publish({ topicName: 5 as unknown as string }), 4, TypeError],
    ['publish empty topic in 3.1.1', publish({ topicName: '' }), 4, RangeError],
    ['publish empty topic without alias in 5.0', publish({ topicName: '' }), 5, RangeError],
    ['remaining length over 268435455', publish({ payload: huge }), 4, RangeError],
    ['puback packetId 0', { type: 4, packetId: 0, reasonCode: 0, properties: undefined }, 5, RangeError],
    ['pubrel packetId 1.5', { type: 6, packetId: 1.5, reasonCode: 0, properties: undefined }, 4, RangeError],
    [
      'puback reasonCode 256',
      { type: 4, packetId: 1, reasonCode: 256, properties: undefined },
      5,
      RangeError,
    ],
    [
      'connack reasonCode -1',
      { type: 2, sessionPresent: false, reasonCode: -1, properties: undefined },
      4,
      RangeError,
    ],
    [
      'subscribe without subscriptions',
      { type: 8, packetId: 1, subscriptions: [], properties: undefined },
      4,
      RangeError,
    ],
    [
      'subscribe qos 3',
      {
        type: 8,
        packetId: 1,
        subscriptions: [
          { topicFilter: 't', qos: 3, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        ],
        properties: undefined,
      },
      4,
      RangeError,
    ],
    [
      'subscribe retainHandling 3',
      {
        type: 8,
        packetId: 1,
        subscriptions: [
          { topicFilter: 't', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 3 },
        ],
        properties: undefined,
      },
      5,
      RangeError,
    ],
    [
      'unsubscribe without filters',
      { type: 10, packetId: 1, topicFilters: [], properties: undefined },
      4,
      RangeError,
    ],
    [
      'suback reason code 300',
      { type: 9, packetId: 1, reasonCodes: [300], properties: undefined },
      4,
      RangeError,
    ],
    ['connect keepalive 65536', connect({ keepaliveSeconds: 65536 }), 4, RangeError],
    ['connect version mismatch', connect({ protocolVersion: 5 }), 4, RangeError],
    ['connect protocol name MQIsdp at level 4', connect({ protocolName: 'MQIsdp' }), 4, RangeError],
    ['connect password without username in 3.1.1', connect({ password: Buffer.from('p') }), 4, RangeError],
    [
      'connect will qos 3',
      connect({
        will: { topicName: 'w', payload: Buffer.alloc(0), qos: 3 as 0, retain: false, properties: undefined },
      }),
      4,
      RangeError,
    ],
    [
      'connect password of 65536 bytes',
      connect({ username: 'u', password: Buffer.alloc(65536) }),
      4,
      RangeError,
    ],
    ['unknown property', publish({ properties: { topicAlais: 1 } as Properties }), 5, TypeError],
    ['property not allowed on the packet', publish({ properties: { reasonString: 'x' } }), 5, TypeError],
    [
      'will property in connect',
      connect({ protocolVersion: 5, properties: { willDelayInterval: 1 } }),
      5,
      TypeError,
    ],
    [
      'connect authenticationData without authenticationMethod',
      connect({ protocolVersion: 5, properties: { authenticationData: Buffer.from('d') } }),
      5,
      TypeError,
    ],
    [
      'connect authenticationData with an undefined authenticationMethod',
      connect({
        protocolVersion: 5,
        properties: { authenticationMethod: undefined, authenticationData: Buffer.alloc(0) },
      }),
      5,
      TypeError,
    ],
    ['subscription identifier 0', publish({ properties: { subscriptionIdentifiers: [0] } }), 5, RangeError],
    [
      'subscription identifier 268435456',
      publish({ properties: { subscriptionIdentifiers: [268_435_456] } }),
      5,
      RangeError,
    ],
    [
      'two subscription identifiers in subscribe',
      {
        type: 8,
        packetId: 1,
        subscriptions: [
          { topicFilter: 't', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        ],
        properties: { subscriptionIdentifiers: [1, 2] },
      },
      5,
      RangeError,
    ],
    ['topic alias 0', publish({ properties: { topicAlias: 0 } }), 5, RangeError],
    ['receive maximum 0', connect({ protocolVersion: 5, properties: { receiveMaximum: 0 } }), 5, RangeError],
    [
      'maximum packet size 0',
      connect({ protocolVersion: 5, properties: { maximumPacketSize: 0 } }),
      5,
      RangeError,
    ],
    ['payload format indicator 2', publish({ properties: { payloadFormatIndicator: 2 } }), 5, RangeError],
    [
      'message expiry interval 2^32',
      publish({ properties: { messageExpiryInterval: 2 ** 32 } }),
      5,
      RangeError,
    ],
    [
      'correlation data string',
      publish({ properties: { correlationData: 'x' as unknown as Buffer } }),
      5,
      TypeError,
    ],
    [
      'user property not a pair',
      publish({ properties: { userProperties: [['a']] as unknown as Array<[string, string]> } }),
      5,
      TypeError,
    ],
    [
      'user property value with u+0000',
      publish({ properties: { userProperties: [['a', '\0']] } }),
      5,
      TypeError,
    ],
  ];

  it.each(cases)('%s', (_, packet, version, error) => {
    expect(() => encode(packet as Packet, version as ProtocolVersion)).toThrow(error);
    expect(() => encodedLength(packet as Packet, version as ProtocolVersion)).toThrow(error);
    expect(() => encodeInto(packet as Packet, version as ProtocolVersion, Buffer.alloc(100))).toThrow(error);
  });

  it('writes connect authenticationData with authenticationMethod in either key order', () => {
    const data = Buffer.from('d');
    for (const properties of [
      { authenticationMethod: 'm', authenticationData: data },
      { authenticationData: data, authenticationMethod: 'm' },
    ]) {
      const packet = connect({ protocolVersion: 5, properties });
      expect(decodePackets(encode(packet, 5), 5)).toEqual([packet]);
    }
  });

  it('gives messages that name the field and the value', () => {
    expect(() => encode(publish({ packetId: 0 }), 4)).toThrow(
      'publish packetId must be an integer in 1..65535, got 0',
    );
    expect(() => encode(publish({ topicName: 'a'.repeat(70000) }), 4)).toThrow(
      'publish topicName is 70000 bytes of utf-8, over the limit of 65535',
    );
  });
});
