import { describe, expect, it } from 'vitest';
import {
  Decoder,
  type DecoderOptions,
  decodePackets,
  encode,
  isCodecError,
  MalformedPacketError,
  type Packet,
  type ProtocolVersion,
  type PublishPacket,
} from '../src/index.js';
import { GOLDEN } from './fixtures/golden.js';
import { hex } from './fixtures/hex.js';
import { MALFORMED } from './fixtures/malformed.js';

interface Run {
  decoder: Decoder;
  packets: Packet[];
  errors: MalformedPacketError[];
}

function makeDecoder(options: Omit<DecoderOptions, 'onPacket' | 'onError'> = {}): Run {
  const packets: Packet[] = [];
  const errors: MalformedPacketError[] = [];
  const decoder = new Decoder({
    ...options,
    onPacket: (p) => packets.push(p),
    onError: (e) => errors.push(e),
  });
  return { decoder, packets, errors };
}

/** Feeds `bytes` in chunks cut at `cuts` (sorted offsets). */
function feedSplit(decoder: Decoder, bytes: Uint8Array, cuts: number[]): void {
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    decoder.feed(bytes.subarray(start, cut));
    start = cut;
  }
}

/** A small deterministic PRNG (mulberry32), so failures reproduce. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PINGREQ = hex('c0 00');

describe('malformed input', () => {
  describe.each(MALFORMED.map((v) => [v.name, v] as const))('%s', (_, vector) => {
    function check({ decoder, packets, errors }: Run): void {
      expect(errors).toHaveLength(1);
      const error = errors[0]!;
      expect(error).toBeInstanceOf(MalformedPacketError);
      expect(isCodecError(error)).toBe(true);
      expect({ code: error.code, reasonCode: error.reasonCode, packetType: error.packetType }).toEqual({
        code: vector.code,
        reasonCode: vector.reasonCode,
        packetType: vector.packetType,
      });
      if (vector.message !== undefined) expect(error.message).toContain(vector.message);
      expect(error.message).toBe(error.message.replace(/^[A-Z]/, (c) => c.toLowerCase()));
      expect(packets).toEqual([]);
      expect(decoder.failed).toBe(true);
      expect(decoder.bufferedBytes).toBe(0);
    }

    it('reports one error, then nothing, when fed whole with a valid packet after it', () => {
      const run = makeDecoder(vector.options);
      run.decoder.feed(Buffer.concat([vector.bytes, PINGREQ]));
      run.decoder.feed(PINGREQ);
      check(run);
    });

    it('reports the same error when fed one byte at a time', () => {
      const run = makeDecoder(vector.options);
      for (const byte of Buffer.concat([vector.bytes, PINGREQ])) run.decoder.feed(Uint8Array.of(byte));
      check(run);
    });

    it('throws the same error from decodePackets', () => {
      const { protocolVersion, ...options } = vector.options;
      expect(() => decodePackets(vector.bytes, protocolVersion, options)).toThrow(
        expect.objectContaining({ code: vector.code, reasonCode: vector.reasonCode }),
      );
    });
  });

  it('covers every error code but the ones only the api raises', () => {
    const codes = new Set(MALFORMED.map((v) => v.code));
    expect(codes.size).toBe(16);
  });
});

describe('chunking', () => {
  const streams = ([3, 4, 5] as const).map((version) => {
    const vectors = GOLDEN.filter((v) => v.version === version);
    // A server-side stream: the first CONNECT, then every other packet of that version.
    const connect = vectors.find((v) => v.packet.type === 1)!;
    const rest = vectors.filter((v) => v.packet.type !== 1);
    const ordered = [connect, ...rest];
    return {
      version,
      bytes: Buffer.concat(ordered.map((v) => v.bytes)),
      packets: ordered.map((v) => v.packet),
    };
  });

  function decodeStream(bytes: Uint8Array, cuts: number[]): Run {
    const run = makeDecoder({ requireConnectFirst: true });
    feedSplit(run.decoder, bytes, cuts);
    return run;
  }

  describe.each(streams.map((s) => [s.version, s] as const))('protocol level %s', (_, stream) => {
    it('decodes many packets from one chunk', () => {
      const run = decodeStream(stream.bytes, []);
      expect(run.errors).toEqual([]);
      expect(run.packets).toStrictEqual(stream.packets);
      expect(run.decoder.protocolVersion).toBe(stream.version);
    });

    it('decodes one byte at a time', () => {
      const cuts = Array.from({ length: stream.bytes.length - 1 }, (_, i) => i + 1);
      const run = decodeStream(stream.bytes, cuts);
      expect(run.errors).toEqual([]);
      expect(run.packets).toStrictEqual(stream.packets);
    });

    it('decodes the stream split in two at every offset', () => {
      for (let cut = 0; cut <= stream.bytes.length; cut++) {
        const run = decodeStream(stream.bytes, [cut]);
        expect(run.errors).toEqual([]);
        expect(run.packets).toStrictEqual(stream.packets);
        expect(run.decoder.bufferedBytes).toBe(0);
      }
    });

    it('decodes the stream split at random offsets', () => {
      const next = random(stream.version);
      for (let round = 0; round < 200; round++) {
        const cuts = new Set<number>();
        const count = 1 + Math.floor(next() * 12);
        for (let i = 0; i < count; i++) cuts.add(Math.floor(next() * stream.bytes.length));
        const run = decodeStream(
          stream.bytes,
          [...cuts].sort((a, b) => a - b),
        );
        expect(run.errors).toEqual([]);
        expect(run.packets).toStrictEqual(stream.packets);
      }
    });
  });

  it('reports bufferedBytes for a packet split across chunks, fixed header included', () => {
    const { decoder } = makeDecoder({ protocolVersion: 4 });
    decoder.feed(hex('30'));
    expect(decoder.bufferedBytes).toBe(1);
    decoder.feed(hex('dd'));
    expect(decoder.bufferedBytes).toBe(2);
    decoder.feed(hex('01 00 13'));
    expect(decoder.bufferedBytes).toBe(5);
    decoder.feed(Buffer.alloc(10));
    expect(decoder.bufferedBytes).toBe(15);
  });
});

describe('payload views', () => {
  const bytes = encode(
    {
      type: 3,
      dup: false,
      qos: 1,
      retain: false,
      topicName: 'a/b',
      packetId: 1,
      payload: Buffer.from('hello world'),
      properties: undefined,
    },
    4,
  );

  it('decodes the payload of a packet inside one chunk as a view into that chunk', () => {
    const chunk = Buffer.concat([PINGREQ, bytes, PINGREQ]);
    const { decoder, packets } = makeDecoder({ protocolVersion: 4 });
    decoder.feed(chunk);
    const publish = packets[1] as PublishPacket;
    expect(publish.payload.toString()).toBe('hello world');
    expect(publish.payload.buffer).toBe(chunk.buffer);
    expect(publish.payload.byteOffset).toBe(chunk.byteOffset + 2 + bytes.length - 11);
  });

  it('takes a plain Uint8Array without copying it', () => {
    const chunk = new Uint8Array(bytes.length + 4);
    chunk.set(bytes, 4);
    const { decoder, packets } = makeDecoder({ protocolVersion: 4 });
    decoder.feed(chunk.subarray(4));
    const publish = packets[0] as PublishPacket;
    expect(Buffer.isBuffer(publish.payload)).toBe(true);
    expect(publish.payload.buffer).toBe(chunk.buffer);
  });

  it('assembles a packet split across chunks into one buffer of its size', () => {
    const { decoder, packets } = makeDecoder({ protocolVersion: 4 });
    decoder.feed(bytes.subarray(0, 5));
    decoder.feed(bytes.subarray(5));
    const publish = packets[0] as PublishPacket;
    expect(publish.payload.toString()).toBe('hello world');
    expect(publish.payload.buffer).not.toBe(bytes.buffer);
  });
});

describe('limits from the fixed header', () => {
  it('rejects a packet over maxPacketSize before any of its body arrives', () => {
    const { decoder, errors } = makeDecoder({ protocolVersion: 5, maxPacketSize: 262144 });
    decoder.feed(hex('30 ff ff'));
    expect(errors).toEqual([]);
    expect(decoder.bufferedBytes).toBe(3);
    decoder.feed(hex('ff 7f'));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.code).toBe('CODEC_PACKET_TOO_LARGE');
    expect(errors[0]!.reasonCode).toBe(0x95);
    expect(errors[0]!.message).toBe('publish packet of 268435460 bytes exceeds maxPacketSize 262144');
    expect(decoder.bufferedBytes).toBe(0);
    decoder.feed(Buffer.alloc(1000));
    expect(decoder.bufferedBytes).toBe(0);
    expect(errors).toHaveLength(1);
  });

  it('accepts a packet of exactly maxPacketSize and rejects one byte more', () => {
    const ok = makeDecoder({ protocolVersion: 4, maxPacketSize: 6 });
    ok.decoder.feed(hex('30 04 00 01 74 78'));
    expect(ok.errors).toEqual([]);
    expect(ok.packets).toHaveLength(1);
    const tooBig = makeDecoder({ protocolVersion: 4, maxPacketSize: 6 });
    tooBig.decoder.feed(hex('30 05'));
    expect(tooBig.errors[0]?.message).toBe('publish packet of 7 bytes exceeds maxPacketSize 6');
  });

  it('buffers a large packet within the limit only as it arrives', () => {
    const { decoder, packets, errors } = makeDecoder({ protocolVersion: 4 });
    const payload = Buffer.alloc(1_000_000, 1);
    const bytes = encode(
      {
        type: 3,
        dup: false,
        qos: 0,
        retain: false,
        topicName: 't',
        packetId: undefined,
        payload,
        properties: undefined,
      },
      4,
    );
    decoder.feed(bytes.subarray(0, 4));
    expect(decoder.bufferedBytes).toBe(4);
    for (let i = 4; i < bytes.length; i += 65536) decoder.feed(bytes.subarray(i, i + 65536));
    expect(errors).toEqual([]);
    expect((packets[0] as PublishPacket).payload.equals(payload)).toBe(true);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('applies maxConnectPacketSize to CONNECT only', () => {
    const connect = GOLDEN.find((v) => v.version === 4 && v.packet.type === 1)!.bytes;
    const { decoder, packets, errors } = makeDecoder({
      maxConnectPacketSize: connect.length,
      maxPacketSize: 1000,
    });
    decoder.feed(connect);
    decoder.feed(
      encode(
        {
          type: 3,
          dup: false,
          qos: 0,
          retain: false,
          topicName: 't',
          packetId: undefined,
          payload: Buffer.alloc(500),
          properties: undefined,
        },
        4,
      ),
    );
    expect(errors).toEqual([]);
    expect(packets).toHaveLength(2);
    const small = makeDecoder({ maxConnectPacketSize: connect.length - 1 });
    small.decoder.feed(connect.subarray(0, 2));
    expect(small.errors[0]?.code).toBe('CODEC_PACKET_TOO_LARGE');
    expect(small.errors[0]?.message).toContain('maxConnectPacketSize');
  });

  it('rejects bad options', () => {
    const onPacket = () => {};
    const onError = () => {};
    expect(() => new Decoder({ onPacket, onError, maxPacketSize: 1 })).toThrow(RangeError);
    expect(() => new Decoder({ onPacket, onError, maxPacketSize: 268435461 })).toThrow(RangeError);
    expect(() => new Decoder({ onPacket, onError, maxConnectPacketSize: 1.5 })).toThrow(RangeError);
    expect(() => new Decoder({ onPacket, onError, protocolVersion: 6 as ProtocolVersion })).toThrow(
      RangeError,
    );
    expect(() => new Decoder({ onPacket } as unknown as DecoderOptions)).toThrow(TypeError);
  });
});

describe('protocol version and CONNECT first', () => {
  const connect = (version: 3 | 4 | 5) =>
    GOLDEN.find((v) => v.version === version && v.packet.type === 1)!.bytes;

  it('learns 3.1 from CONNECT and applies 3.x fixed lengths afterwards', () => {
    const { decoder, packets, errors } = makeDecoder({ requireConnectFirst: true });
    expect(decoder.protocolVersion).toBeUndefined();
    decoder.feed(Buffer.concat([connect(3), hex('40 02 00 01'), hex('40 03 00 01 00')]));
    expect(decoder.protocolVersion).toBe(3);
    expect(packets.map((p) => p.type)).toEqual([1, 4]);
    expect(errors[0]?.code).toBe('CODEC_LENGTH_OVERRUN');
  });

  it('learns 5.0 from CONNECT and reads properties afterwards', () => {
    const { decoder, packets, errors } = makeDecoder();
    decoder.feed(Buffer.concat([connect(5), hex('40 0b 00 03 00 07 26 00 01 6b 00 01 76')]));
    expect(errors).toEqual([]);
    expect(packets[1]).toEqual({
      type: 4,
      packetId: 3,
      reasonCode: 0,
      properties: { userProperties: [['k', 'v']] },
    });
  });

  it('learns the version before onPacket runs', () => {
    let seen: ProtocolVersion | undefined;
    const decoder = new Decoder({
      onPacket: () => {
        seen = decoder.protocolVersion;
      },
      onError: (e) => expect.fail(e.message),
    });
    decoder.feed(connect(4));
    expect(seen).toBe(4);
  });

  it('decodes a CONNECT by its own level without changing a known version', () => {
    const { decoder, packets } = makeDecoder({ protocolVersion: 4 });
    decoder.feed(connect(5));
    expect((packets[0] as { protocolVersion: number }).protocolVersion).toBe(5);
    expect(decoder.protocolVersion).toBe(4);
  });

  it('lets the version be set, and checks it', () => {
    const { decoder, packets } = makeDecoder();
    decoder.protocolVersion = 5;
    decoder.feed(hex('40 03 00 01 10'));
    expect(packets).toEqual([{ type: 4, packetId: 1, reasonCode: 0x10, properties: undefined }]);
    expect(() => {
      decoder.protocolVersion = 2 as ProtocolVersion;
    }).toThrow(RangeError);
  });

  it('accepts 5.0 CONNECT authentication data before its method, and AUTH/CONNACK data alone', () => {
    // §3.1.2.11.10 makes data without a method a Protocol Error in CONNECT only; order is free.
    const connectRun = makeDecoder();
    connectRun.decoder.feed(hex('10 15 00 04 4d 51 54 54 05 02 00 00 08 16 00 01 61 15 00 01 6d 00 00'));
    expect(connectRun.errors).toEqual([]);
    expect(connectRun.packets[0]).toMatchObject({
      type: 1,
      properties: { authenticationData: Buffer.from('a'), authenticationMethod: 'm' },
    });
    const v5 = makeDecoder({ protocolVersion: 5 });
    v5.decoder.feed(hex('f0 06 18 04 16 00 01 61 20 06 00 00 03 16 00 00'));
    expect(v5.errors).toEqual([]);
    expect(v5.packets.map((p) => p.type)).toEqual([15, 2]);
  });

  it('does not require CONNECT again after the first packet', () => {
    const { decoder, packets, errors } = makeDecoder({ requireConnectFirst: true });
    decoder.feed(Buffer.concat([connect(4), PINGREQ, connect(4)]));
    expect(errors).toEqual([]);
    expect(packets.map((p) => p.type)).toEqual([1, 12, 1]);
  });
});

describe('reset and callbacks', () => {
  it('reset clears the failed state, buffered bytes and a learnt version', () => {
    const { decoder, packets, errors } = makeDecoder({ requireConnectFirst: true });
    decoder.feed(GOLDEN.find((v) => v.version === 5 && v.packet.type === 1)!.bytes);
    decoder.feed(hex('00 00'));
    expect(decoder.failed).toBe(true);
    decoder.reset();
    expect(decoder.failed).toBe(false);
    expect(decoder.protocolVersion).toBeUndefined();
    decoder.feed(PINGREQ);
    expect(errors.map((e) => e.code)).toEqual(['CODEC_INVALID_PACKET_TYPE', 'CODEC_CONNECT_EXPECTED']);
    decoder.reset();
    decoder.feed(hex('10 0c 00 04'));
    expect(decoder.bufferedBytes).toBe(4);
    decoder.reset();
    expect(decoder.bufferedBytes).toBe(0);
    expect(packets).toHaveLength(1);
  });

  it('stops the current chunk when onPacket calls reset', () => {
    const types: number[] = [];
    const decoder = new Decoder({
      protocolVersion: 4,
      onPacket: (p) => {
        types.push(p.type);
        decoder.reset();
      },
      onError: (e) => expect.fail(e.message),
    });
    decoder.feed(Buffer.concat([PINGREQ, PINGREQ, PINGREQ]));
    expect(types).toEqual([12]);
  });

  it('rethrows a handler exception even after the handler called reset', () => {
    const errors: unknown[] = [];
    const decoder = new Decoder({
      protocolVersion: 4,
      onPacket: () => {
        decoder.reset();
        throw new MalformedPacketError('CODEC_INVALID_QOS', 0x81, 'thrown after reset');
      },
      onError: (e) => errors.push(e),
    });
    expect(() => decoder.feed(PINGREQ)).toThrow('thrown after reset');
    expect(errors).toEqual([]);
  });

  it('lets an exception from onPacket propagate and leaves the decoder failed', () => {
    const errors: unknown[] = [];
    const decoder = new Decoder({
      protocolVersion: 4,
      onPacket: () => {
        throw new MalformedPacketError('CODEC_INVALID_QOS', 0x81, 'thrown by the handler');
      },
      onError: (e) => errors.push(e),
    });
    expect(() => decoder.feed(PINGREQ)).toThrow('thrown by the handler');
    expect(errors).toEqual([]);
    expect(decoder.failed).toBe(true);
    decoder.feed(PINGREQ);
    expect(errors).toEqual([]);
  });
});

describe('many decoders', () => {
  // Decoders share one reader and keep the state of a split packet in an object of their own:
  // interleaved and nested feeds must not see each other's bytes.
  const publishes = (topic: string, count: number) =>
    Buffer.concat(
      Array.from({ length: count }, (_, i) =>
        encode(
          {
            type: 3,
            dup: false,
            qos: 0,
            retain: false,
            topicName: topic,
            packetId: undefined,
            payload: Buffer.from(`${topic}-${i}`),
            properties: undefined,
          },
          4,
        ),
      ),
    );

  it('decode interleaved chunks of their own streams, split anywhere', () => {
    const a = makeDecoder({ protocolVersion: 4 });
    const b = makeDecoder({ protocolVersion: 4 });
    const bytesA = publishes('a', 20);
    const bytesB = publishes('bb', 20);
    for (let i = 0; i < Math.max(bytesA.length, bytesB.length); i += 3) {
      a.decoder.feed(bytesA.subarray(i, i + 3));
      b.decoder.feed(bytesB.subarray(i, i + 3));
    }
    const payloads = (run: Run) => run.packets.map((p) => (p as PublishPacket).payload.toString());
    expect(payloads(a)).toEqual(Array.from({ length: 20 }, (_, i) => `a-${i}`));
    expect(payloads(b)).toEqual(Array.from({ length: 20 }, (_, i) => `bb-${i}`));
    expect([a.errors, b.errors]).toEqual([[], []]);
  });

  it("decode a feed nested in another decoder's onPacket", () => {
    const inner = makeDecoder({ protocolVersion: 4 });
    const outerPackets: Packet[] = [];
    const outer = new Decoder({
      protocolVersion: 4,
      onPacket: (packet) => {
        outerPackets.push(packet);
        inner.decoder.feed(publishes('in', 2));
      },
      onError: (e) => expect.fail(e.message),
    });
    outer.feed(publishes('out', 3));
    expect(outerPackets.map((p) => (p as PublishPacket).payload.toString())).toEqual([
      'out-0',
      'out-1',
      'out-2',
    ]);
    expect(inner.packets).toHaveLength(6);
  });

  it('recognise "MQTT" and "MQIsdp" as protocol names, and nothing else', () => {
    const v4 = GOLDEN.find((v) => v.version === 4 && v.packet.type === 1)!;
    expect(decodePackets(v4.bytes)[0]).toMatchObject({ protocolName: 'MQTT', protocolVersion: 4 });
    const v3 = GOLDEN.find((v) => v.version === 3 && v.packet.type === 1)!;
    expect(decodePackets(v3.bytes)[0]).toMatchObject({ protocolName: 'MQIsdp', protocolVersion: 3 });
    const wrong = Buffer.from(v4.bytes);
    wrong[7] = 0x55; // "MQTU"
    expect(() => decodePackets(wrong)).toThrow('connect protocol name "MQTU" is neither "MQTT" nor "MQIsdp"');
  });
});

describe('decodePackets', () => {
  it('decodes a sequence and throws on an incomplete last packet', () => {
    expect(decodePackets(Buffer.concat([PINGREQ, hex('d0 00')]), 4)).toEqual([{ type: 12 }, { type: 13 }]);
    expect(() => decodePackets(hex('30 05 00 01'), 4)).toThrow(
      expect.objectContaining({ code: 'CODEC_LENGTH_OVERRUN', reasonCode: 0x81 }),
    );
    expect(() => decodePackets(hex('30 ff'), 4)).toThrow(
      expect.objectContaining({ code: 'CODEC_LENGTH_OVERRUN' }),
    );
    expect(() => decodePackets(hex('30 05'), 4)).toThrow(
      'input ends inside a packet: 2 bytes of it were received',
    );
  });

  it('passes limits through', () => {
    expect(() => decodePackets(hex('30 04 00 01 74 78'), 4, { maxPacketSize: 5 })).toThrow(
      expect.objectContaining({ code: 'CODEC_PACKET_TOO_LARGE', reasonCode: 0x95 }),
    );
  });
});
