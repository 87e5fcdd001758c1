/**
 * The decoder against hostile input: arbitrary bytes, plausible-looking frames and mutated
 * valid encodings. It must never throw, report at most one error, deliver nothing after it,
 * never buffer more than maxPacketSize, and only ever deliver packets the encoder accepts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Decoder,
  type DecoderOptions,
  decodePackets,
  encode,
  isCodecError,
  MalformedPacketError,
  type Packet,
  PacketType,
  type ProtocolVersion,
} from '../src/index.js';
import {
  comparable,
  numRuns,
  packetArbitrary,
  packetSequenceArbitrary,
  VERSIONS,
} from '../src/testing/index.js';

const FUZZ_RUNS = 1000;
const MUTATION_RUNS = 300;
const MAX_PACKET_SIZE = 1024;
const ERROR_REASON_CODES = [0x81, 0x82, 0x84, 0x95];
const PINGREQ = Buffer.from([0xc0, 0x00]);

type Options = Omit<DecoderOptions, 'onPacket' | 'onError'>;

interface Delivered {
  packet: Packet;
  /** The version the decoder was at when it delivered the packet. */
  version: ProtocolVersion | undefined;
}

interface Run {
  delivered: Delivered[];
  errors: unknown[];
  packetsAfterError: number;
  maxBufferedBytes: number;
  /** Largest `experimental_bufferCapacity` seen: memory held, not only bytes received. */
  maxBufferCapacity: number;
  decoder: Decoder;
}

function run(chunks: Uint8Array[], options: Options): Run {
  const totalBytes = chunks.reduce((n, c) => n + c.length, 0);
  const delivered: Delivered[] = [];
  const errors: unknown[] = [];
  let packetsAfterError = 0;
  const decoder: Decoder = new Decoder({
    ...options,
    onPacket: (packet) => {
      if (errors.length > 0) packetsAfterError++;
      delivered.push({ packet, version: decoder.protocolVersion });
      // Every packet takes at least 2 bytes: more means the decoder re-emits (a hang, soon).
      // The slack covers the few bytes tests feed after `run` returns.
      if (delivered.length > totalBytes / 2 + 8) throw new Error(`runaway: ${delivered.length} packets`);
    },
    onError: (error) => errors.push(error),
  });
  let maxBufferedBytes = 0;
  let maxBufferCapacity = 0;
  for (const chunk of chunks) {
    decoder.feed(chunk);
    maxBufferedBytes = Math.max(maxBufferedBytes, decoder.bufferedBytes);
    maxBufferCapacity = Math.max(maxBufferCapacity, decoder.experimental_bufferCapacity);
  }
  return { delivered, errors, packetsAfterError, maxBufferedBytes, maxBufferCapacity, decoder };
}

/** The invariants every run must satisfy, whatever the input. */
function expectInvariants(r: Run, maxPacketSize: number): void {
  expect(r.errors.length).toBeLessThanOrEqual(1);
  expect(r.packetsAfterError).toBe(0);
  expect(r.decoder.failed).toBe(r.errors.length === 1);
  expect(r.maxBufferedBytes).toBeLessThanOrEqual(maxPacketSize);
  expect(r.maxBufferCapacity).toBeLessThanOrEqual(maxPacketSize);
  const error = r.errors[0];
  if (error !== undefined) {
    expect(error).toBeInstanceOf(MalformedPacketError);
    expect(isCodecError(error)).toBe(true);
    const e = error as MalformedPacketError;
    expect(e.code).toMatch(/^CODEC_[A-Z0-9_]+$/);
    expect(ERROR_REASON_CODES).toContain(e.reasonCode);
    expect(e.message.length).toBeGreaterThan(0);
    // Terminal: more bytes, even a valid packet, produce nothing.
    const before = r.delivered.length;
    r.decoder.feed(PINGREQ);
    expect(r.delivered.length).toBe(before);
    expect(r.errors).toHaveLength(1);
    expect(r.decoder.failed).toBe(true);
  }
  // Whatever the decoder accepts is a valid packet: it encodes, and decodes to itself.
  for (const { packet, version } of r.delivered) {
    const v = packet.type === PacketType.Connect ? packet.protocolVersion : version;
    expect(v).toBeDefined();
    const again = decodePackets(encode(packet, v as ProtocolVersion), v, { maxPacketSize: 1 << 28 });
    expect(again.map((p) => comparable(p))).toStrictEqual([comparable(packet)]);
  }
}

function encodeVarint(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}

/** A first byte that is valid for its type (so the body gets parsed), or any byte. */
const firstByte = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      0x10,
      0x20,
      0x30,
      0x31,
      0x32,
      0x34,
      0x3b,
      0x3d,
      0x40,
      0x50,
      0x62,
      0x70,
      0x82,
      0x90,
      0xa2,
      0xb0,
      0xc0,
      0xd0,
      0xe0,
      0xf0,
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);

/** A frame whose Remaining Length is right, a little off, or a raw (possibly bad) varint. */
const frameish = fc
  .record({
    first: firstByte,
    body: fc.uint8Array({ maxLength: 40 }),
    lengthDelta: fc.oneof(
      { weight: 4, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: -3, max: 3 }) },
    ),
    rawLength: fc.option(fc.uint8Array({ minLength: 1, maxLength: 5 }), { freq: 8, nil: undefined }),
  })
  .map(({ first, body, lengthDelta, rawLength }) => {
    const length = rawLength ?? Uint8Array.from(encodeVarint(Math.max(0, body.length + lengthDelta)));
    return Buffer.concat([Buffer.from([first]), length, body]);
  });

const hugeLength = fc
  .tuple(firstByte, fc.integer({ min: MAX_PACKET_SIZE, max: 268_435_455 }), fc.uint8Array({ maxLength: 64 }))
  .map(([first, length, body]) => Buffer.from([first, ...encodeVarint(length), ...body]));

const hostileBytes = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)) },
  { weight: 3, arbitrary: fc.array(frameish, { minLength: 1, maxLength: 6 }).map((f) => Buffer.concat(f)) },
  // A huge announced Remaining Length must be refused before anything is buffered.
  { weight: 1, arbitrary: hugeLength },
);

const chunkSizes = fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 });

function chunk(bytes: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let offset = 0;
  for (let i = 0; offset < bytes.length; i++) {
    const size = sizes[i % sizes.length] ?? bytes.length;
    chunks.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

// Mostly a known version without the CONNECT-first rule, so that bodies get parsed: the other
// settings refuse most hostile streams at their first byte.
const optionsArbitrary: fc.Arbitrary<Options> = fc.record({
  protocolVersion: fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 6, arbitrary: fc.constantFrom<ProtocolVersion>(3, 4, 5) },
  ),
  maxPacketSize: fc.constant(MAX_PACKET_SIZE),
  maxConnectPacketSize: fc.constantFrom(256, MAX_PACKET_SIZE),
  requireConnectFirst: fc.oneof(
    { weight: 1, arbitrary: fc.constant(true) },
    { weight: 5, arbitrary: fc.constant(false) },
  ),
});

describe('Decoder on arbitrary bytes', () => {
  it('never throws, errors at most once, delivers nothing after, buffers at most maxPacketSize', () => {
    fc.assert(
      fc.property(hostileBytes, chunkSizes, optionsArbitrary, (bytes, sizes, options) => {
        expectInvariants(run(chunk(bytes, sizes), options), MAX_PACKET_SIZE);
      }),
      { numRuns: numRuns(FUZZ_RUNS) },
    );
  });

  it('is usable again after reset()', () => {
    fc.assert(
      fc.property(hostileBytes, fc.constantFrom<ProtocolVersion>(3, 4, 5), (bytes, version) => {
        const r = run([bytes], { protocolVersion: version, maxPacketSize: MAX_PACKET_SIZE });
        r.decoder.reset();
        expect(r.decoder.failed).toBe(false);
        expect(r.decoder.bufferedBytes).toBe(0);
        const before = r.delivered.length;
        r.decoder.feed(PINGREQ);
        expect(r.delivered.slice(before).map((d) => d.packet)).toStrictEqual([{ type: PacketType.Pingreq }]);
      }),
      { numRuns: numRuns(100) },
    );
  });
});

type Mutation =
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'extend'; bytes: Uint8Array }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number };

const position = fc.integer({ min: 0, max: 1_000_000 });
const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: position, xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: position,
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: position, count: fc.integer({ min: 1, max: 8 }) }),
);

function mutate(bytes: Buffer, mutation: Mutation): Buffer {
  const at = Math.floor((('at' in mutation ? mutation.at : 0) / 1_000_001) * bytes.length);
  switch (mutation.kind) {
    case 'flip': {
      const copy = Buffer.from(bytes);
      if (copy.length > 0) copy[at] = (copy[at] as number) ^ mutation.xor;
      return copy;
    }
    case 'truncate':
      return bytes.subarray(0, at);
    case 'extend':
      return Buffer.concat([bytes, mutation.bytes]);
    case 'insert':
      return Buffer.concat([bytes.subarray(0, at), mutation.bytes, bytes.subarray(at)]);
    case 'delete':
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + mutation.count)]);
  }
}

/** Encodings and, for each packet, the offset where it ends. */
function encodeAll(packets: Packet[], version: ProtocolVersion): { bytes: Buffer; ends: number[] } {
  const parts = packets.map((p) => encode(p, version));
  const ends: number[] = [];
  let end = 0;
  for (const part of parts) {
    end += part.length;
    ends.push(end);
  }
  return { bytes: Buffer.concat(parts), ends };
}

describe.each(VERSIONS)('Decoder on mutated MQTT level %i streams', (version) => {
  it('keeps every invariant under flips, truncation, extension, insertion and deletion', () => {
    fc.assert(
      fc.property(
        packetSequenceArbitrary(version, 4),
        fc.array(mutationArbitrary, { minLength: 1, maxLength: 3 }),
        chunkSizes,
        fc.boolean(),
        (packets, mutations, sizes, knownVersion) => {
          let bytes = encodeAll(packets, version).bytes;
          for (const m of mutations) bytes = mutate(bytes, m);
          const options = {
            protocolVersion: knownVersion ? version : undefined,
            maxPacketSize: MAX_PACKET_SIZE,
          };
          expectInvariants(run(chunk(bytes, sizes), options), MAX_PACKET_SIZE);
        },
      ),
      { numRuns: numRuns(MUTATION_RUNS) },
    );
  });

  it('delivers every packet that lies wholly before the first damaged byte', () => {
    fc.assert(
      fc.property(
        packetSequenceArbitrary(version, 5),
        fc.oneof(
          mutationArbitrary.filter((m) => m.kind !== 'truncate'),
          fc.constant({ kind: 'none' } as const),
        ),
        chunkSizes,
        (packets, mutation, sizes) => {
          const { bytes: original, ends } = encodeAll(packets, version);
          const bytes = mutation.kind === 'none' ? original : mutate(original, mutation);
          let damagedAt = 0;
          while (
            damagedAt < original.length &&
            damagedAt < bytes.length &&
            original[damagedAt] === bytes[damagedAt]
          ) {
            damagedAt++;
          }
          const intact = ends.filter((end) => end <= damagedAt).length;
          const r = run(chunk(bytes, sizes), { protocolVersion: version, maxPacketSize: 1 << 20 });
          expectInvariants(r, 1 << 20);
          expect(r.delivered.length).toBeGreaterThanOrEqual(intact);
          expect(r.delivered.slice(0, intact).map((d) => comparable(d.packet))).toStrictEqual(
            packets.slice(0, intact).map((p) => comparable(p)),
          );
        },
      ),
      { numRuns: numRuns(MUTATION_RUNS) },
    );
  });

  it('a truncated stream is incomplete, not malformed', () => {
    fc.assert(
      fc.property(packetSequenceArbitrary(version, 4), position, chunkSizes, (packets, at, sizes) => {
        const { bytes, ends } = encodeAll(packets, version);
        const cut = Math.floor((at / 1_000_001) * bytes.length);
        const complete = ends.filter((end) => end <= cut).length;
        const r = run(chunk(bytes.subarray(0, cut), sizes), {
          protocolVersion: version,
          maxPacketSize: 1 << 20,
        });
        expect(r.errors.map((e) => (e as MalformedPacketError).code)).toStrictEqual([]);
        expect(r.delivered.map((d) => comparable(d.packet))).toStrictEqual(
          packets.slice(0, complete).map((p) => comparable(p)),
        );
        const consumed = complete === 0 ? 0 : (ends[complete - 1] as number);
        expect(r.decoder.bufferedBytes).toBeLessThanOrEqual(cut - consumed);
      }),
      { numRuns: numRuns(MUTATION_RUNS) },
    );
  });

  it('refuses exactly the packets over maxPacketSize (CONNECT: maxConnectPacketSize), with 0x95', () => {
    fc.assert(
      fc.property(
        packetSequenceArbitrary(version, 6),
        fc.integer({ min: 16, max: 600 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        chunkSizes,
        (packets, maxPacketSize, connectFraction, sizes) => {
          // A CONNECT cap at or below maxPacketSize.
          const maxConnectPacketSize = Math.max(
            16,
            Math.floor((connectFraction / 1_000_000) * maxPacketSize),
          );
          const parts = packets.map((p) => encode(p, version));
          const firstTooLarge = parts.findIndex(
            (part, i) =>
              part.length > (packets[i]?.type === PacketType.Connect ? maxConnectPacketSize : maxPacketSize),
          );
          const r = run(chunk(Buffer.concat(parts), sizes), {
            protocolVersion: version,
            maxPacketSize,
            maxConnectPacketSize,
          });
          expectInvariants(r, maxPacketSize);
          const accepted = firstTooLarge === -1 ? packets : packets.slice(0, firstTooLarge);
          expect(r.delivered.map((d) => comparable(d.packet))).toStrictEqual(
            accepted.map((p) => comparable(p)),
          );
          if (firstTooLarge === -1) {
            expect(r.errors).toStrictEqual([]);
          } else {
            const e = r.errors[0] as MalformedPacketError;
            expect([e?.code, e?.reasonCode]).toStrictEqual(['CODEC_PACKET_TOO_LARGE', 0x95]);
          }
        },
      ),
      { numRuns: numRuns(MUTATION_RUNS) },
    );
  });

  it('with requireConnectFirst, refuses any other first packet and delivers nothing', () => {
    fc.assert(
      fc.property(
        packetArbitrary(version).filter((p) => p.type !== PacketType.Connect),
        fc.boolean(),
        (packet, knownVersion) => {
          const r = run([encode(packet, version)], {
            protocolVersion: knownVersion ? version : undefined,
            requireConnectFirst: true,
          });
          expect(r.delivered).toStrictEqual([]);
          expect(r.errors.map((e) => (e as MalformedPacketError).code)).toStrictEqual([
            'CODEC_CONNECT_EXPECTED',
          ]);
        },
      ),
      { numRuns: numRuns(60) },
    );
  });
});
