import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Decoder,
  type DecoderOptions,
  decodePackets,
  encode,
  encodedLength,
  encodeInto,
  type MalformedPacketError,
  type Packet,
  PacketType,
  ProtocolVersion,
  type PublishPacket,
} from '../src/index.js';
import {
  comparable,
  connectArbitrary,
  filledBuffer,
  numRuns,
  packetArbitraries,
  packetArbitrary,
  packetSequenceArbitrary,
  publishArbitrary,
  VERSIONS,
} from '../src/testing/index.js';

// Budget: the whole codec property suite should stay well under ~20 s on 2 cores.
const ROUND_TRIP_RUNS = 200;
const STREAM_RUNS = 200;

const VERSION_NAME: Record<ProtocolVersion, string> = { 3: '3.1', 4: '3.1.1', 5: '5.0' };

/** Cut points as fractions of the stream, so they shrink independently of its length. */
const cutsArbitrary = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.integer({ min: 0, max: 1_000_000 }), { maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constant('every-byte' as const) },
);

function split(bytes: Buffer, cuts: number[] | 'every-byte', asPlainUint8Array: boolean): Uint8Array[] {
  const points =
    cuts === 'every-byte' && bytes.length <= 4096
      ? Array.from({ length: bytes.length }, (_, i) => i)
      : cuts === 'every-byte'
        ? Array.from({ length: 64 }, (_, i) => Math.floor((i / 64) * bytes.length))
        : cuts.map((fraction) => Math.floor((fraction / 1_000_000) * bytes.length));
  const sorted = [...new Set([0, ...points, bytes.length])].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const chunk = bytes.subarray(sorted[i], sorted[i + 1]);
    // A plain Uint8Array view: the decoder must still hand out Buffer payloads.
    chunks.push(asPlainUint8Array ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length) : chunk);
  }
  return chunks;
}

interface StreamResult {
  packets: Packet[];
  errors: MalformedPacketError[];
  decoder: Decoder;
}

function feedAll(chunks: Uint8Array[], options: Omit<DecoderOptions, 'onPacket' | 'onError'>): StreamResult {
  const packets: Packet[] = [];
  const errors: MalformedPacketError[] = [];
  const decoder = new Decoder({
    ...options,
    onPacket: (packet) => packets.push(packet),
    onError: (error) => errors.push(error),
  });
  for (const chunk of chunks) decoder.feed(chunk);
  return { packets, errors, decoder };
}

/** Error code and message of the first error, for a readable assertion failure. */
function describeErrors(errors: MalformedPacketError[]): string[] {
  return errors.map((e) => `${e.code}: ${e.message}`);
}

describe.each(VERSIONS)('MQTT level %i', (version) => {
  describe(`decode(encode(p)) equals p (${VERSION_NAME[version]})`, () => {
    for (const [name, arbitrary] of Object.entries(packetArbitraries(version))) {
      it(name, () => {
        fc.assert(
          fc.property(arbitrary, (packet) => {
            const expected = comparable(packet);
            const bytes = encode(packet, version);
            expect(Buffer.isBuffer(bytes)).toBe(true);
            // encode must not change its argument.
            expect(comparable(packet)).toStrictEqual(expected);

            const decoded = decodePackets(bytes, version);
            expect(decoded.map((p) => comparable(p))).toStrictEqual([expected]);
            // The decoded packet is a valid encoder input and encodes to the same bytes.
            expect(encode(decoded[0] as Packet, version).equals(bytes)).toBe(true);

            expect(encodedLength(packet, version)).toBe(bytes.length);

            const offset = 3;
            const target = new Uint8Array(bytes.length + 6).fill(0xee);
            const written = encodeInto(packet, version, target, offset);
            expect(written).toBe(bytes.length);
            expect(Buffer.from(target.subarray(offset, offset + bytes.length)).equals(bytes)).toBe(true);
            expect(target[offset - 1]).toBe(0xee);
            expect(target[offset + bytes.length]).toBe(0xee);
          }),
          { numRuns: numRuns(ROUND_TRIP_RUNS) },
        );
      });
    }
  });

  it('a stream split at any points yields the same packets', () => {
    fc.assert(
      fc.property(packetSequenceArbitrary(version), cutsArbitrary, fc.boolean(), (packets, cuts, plain) => {
        const expected = packets.map((p) => comparable(p));
        const bytes = Buffer.concat(packets.map((p) => encode(p, version)));
        const {
          packets: decoded,
          errors,
          decoder,
        } = feedAll(split(bytes, cuts, plain), {
          protocolVersion: version,
        });
        expect(describeErrors(errors)).toStrictEqual([]);
        // Compared after the whole stream: a payload view must not be clobbered by later chunks.
        expect(decoded.map((p) => comparable(p))).toStrictEqual(expected);
        expect(decoder.failed).toBe(false);
        expect(decoder.bufferedBytes).toBe(0);
      }),
      { numRuns: numRuns(STREAM_RUNS) },
    );
  });

  it('a PUBLISH inside one chunk is delivered with its payload as a view of that chunk', () => {
    fc.assert(
      fc.property(publishArbitrary(version), (packet) => {
        const bytes = encode(packet, version);
        const { packets, errors } = feedAll([bytes], { protocolVersion: version });
        expect(describeErrors(errors)).toStrictEqual([]);
        const payload = (packets[0] as PublishPacket).payload;
        expect(Buffer.isBuffer(payload)).toBe(true);
        // Same memory, at the payload's place in the frame: not a copy.
        expect(payload.buffer).toBe(bytes.buffer);
        expect(payload.byteOffset).toBe(bytes.byteOffset + bytes.length - packet.payload.length);
      }),
      { numRuns: numRuns(STREAM_RUNS / 2) },
    );
  });

  it('decodePackets of a concatenation equals the packets', () => {
    fc.assert(
      fc.property(packetSequenceArbitrary(version), (packets) => {
        const bytes = Buffer.concat(packets.map((p) => encode(p, version)));
        expect(decodePackets(bytes, version).map((p) => comparable(p))).toStrictEqual(
          packets.map((p) => comparable(p)),
        );
      }),
      { numRuns: numRuns(STREAM_RUNS / 2) },
    );
  });

  it('learns the protocol version from a leading CONNECT', () => {
    fc.assert(
      fc.property(
        connectArbitrary(version),
        fc.array(packetArbitrary(version), { maxLength: 4 }),
        fc.boolean(),
        cutsArbitrary,
        (connect, rest, requireConnectFirst, cuts) => {
          const packets = [connect, ...rest];
          const bytes = Buffer.concat(packets.map((p) => encode(p, version)));
          const {
            packets: decoded,
            errors,
            decoder,
          } = feedAll(split(bytes, cuts, false), {
            requireConnectFirst,
          });
          expect(describeErrors(errors)).toStrictEqual([]);
          expect(decoded.map((p) => comparable(p))).toStrictEqual(packets.map((p) => comparable(p)));
          expect(decoder.protocolVersion).toBe(version);
        },
      ),
      { numRuns: numRuns(STREAM_RUNS / 2) },
    );
  });
});

describe('Remaining Length boundaries', () => {
  // PUBLISH QoS 0 to topic "a": Remaining Length = 2 + 1 (+ 1 property length in 5.0) + payload.
  const boundaries = [127, 128, 16_383, 16_384, 2_097_151, 2_097_152];
  const cases = VERSIONS.flatMap((version) => boundaries.map((remaining) => ({ version, remaining })));

  it.each(cases)('level $version, remaining length $remaining', ({ version, remaining }) => {
    const overhead = version === ProtocolVersion.V5 ? 4 : 3;
    const packet: PublishPacket = {
      type: PacketType.Publish,
      dup: false,
      qos: 0,
      retain: false,
      topicName: 'a',
      packetId: undefined,
      payload: filledBuffer(remaining - overhead, remaining),
      properties: undefined,
    };
    const bytes = encode(packet, version);
    const varintBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
    expect(bytes.length).toBe(1 + varintBytes + remaining);
    expect(encodedLength(packet, version)).toBe(bytes.length);
    // Fed in 64 KiB socket-sized chunks.
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 65_536) chunks.push(bytes.subarray(i, i + 65_536));
    const { packets, errors } = feedAll(chunks, { protocolVersion: version, maxPacketSize: 8 * 1024 * 1024 });
    expect(describeErrors(errors)).toStrictEqual([]);
    expect(packets).toHaveLength(1);
    expect((packets[0] as PublishPacket).payload.equals(packet.payload)).toBe(true);
  });
});
