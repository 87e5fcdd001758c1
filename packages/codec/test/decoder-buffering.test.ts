/**
 * How much memory the decoder holds for a packet split across chunks: a body up to 1 MiB gets
 * its whole buffer at once, a larger one grows with the bytes received (never beyond the
 * announced length), and whatever the chunking the packet decodes to the same bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Decoder,
  type DecoderOptions,
  encode,
  type MalformedPacketError,
  type Packet,
  PacketType,
  ProtocolVersion,
  type PublishPacket,
} from '../src/index.js';
import { comparable, filledBuffer, numRuns } from '../src/testing/index.js';

const MiB = 1024 * 1024;

interface Run {
  decoder: Decoder;
  packets: Packet[];
  errors: MalformedPacketError[];
}

function makeDecoder(options: Omit<DecoderOptions, 'onPacket' | 'onError'>): Run {
  const packets: Packet[] = [];
  const errors: MalformedPacketError[] = [];
  const decoder = new Decoder({
    ...options,
    onPacket: (p) => packets.push(p),
    onError: (e) => errors.push(e),
  });
  return { decoder, packets, errors };
}

/** A PUBLISH fixed header announcing `remaining` bytes of body. */
function publishHeader(remaining: number): Buffer {
  const bytes = [0x30];
  let value = remaining;
  do {
    const byte = value % 0x80;
    value = Math.floor(value / 0x80);
    bytes.push(value > 0 ? byte | 0x80 : byte);
  } while (value > 0);
  return Buffer.from(bytes);
}

function publish(payloadBytes: number, version: ProtocolVersion, seed: number): PublishPacket {
  return {
    type: PacketType.Publish,
    dup: false,
    qos: 1,
    retain: false,
    topicName: 'large/payload',
    packetId: 7,
    payload: filledBuffer(payloadBytes, seed),
    properties: version === ProtocolVersion.V5 ? { contentType: 'application/octet-stream' } : undefined,
  };
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

/**
 * Feeds `bytes` (one packet) in the given chunks and checks after each one that the body
 * buffer holds every byte received and, for a body over 1 MiB, at most twice that (and 1 MiB).
 */
function feedChecked(run: Run, bytes: Buffer, chunkSizes: Iterable<number>): void {
  const headerSize = bytes.length - remainingLength(bytes);
  const length = remainingLength(bytes);
  let fed = 0;
  for (const size of chunkSizes) {
    if (fed >= bytes.length) break;
    run.decoder.feed(bytes.subarray(fed, fed + size));
    fed = Math.min(bytes.length, fed + size);
    if (fed === bytes.length) break;
    const received = fed - headerSize;
    expect(run.decoder.bufferedBytes).toBe(fed);
    if (received <= 0) continue;
    const capacity = run.decoder.experimental_bufferCapacity;
    expect(capacity).toBeGreaterThanOrEqual(received);
    expect(capacity).toBeLessThanOrEqual(
      length <= MiB ? length : Math.min(length, Math.max(MiB, 2 * received)),
    );
  }
  if (fed < bytes.length) run.decoder.feed(bytes.subarray(fed));
  expect(run.decoder.bufferedBytes).toBe(0);
  expect(run.decoder.experimental_bufferCapacity).toBe(0);
}

/** Remaining Length of the packet whose bytes start `bytes`. */
function remainingLength(bytes: Buffer): number {
  let value = 0;
  for (let i = 1, weight = 1; i <= 4; i++, weight *= 0x80) {
    value += (bytes[i]! & 0x7f) * weight;
    if (bytes[i]! < 0x80) return value;
  }
  throw new Error('bad remaining length');
}

function* repeat(size: number): Generator<number> {
  for (;;) yield size;
}

function* randomSizes(seed: number, max: number): Generator<number> {
  const next = random(seed);
  for (;;) {
    // Mostly socket-sized chunks, sometimes tiny ones (a fixed header cut in two).
    yield next() < 0.1 ? 1 + Math.floor(next() * 4) : 1 + Math.floor(next() * max);
  }
}

describe('buffer for a packet split across chunks', () => {
  it('allocates 1 MiB, not 200 MiB, for a header announcing 200 MiB followed by 10 bytes', () => {
    const { decoder, packets, errors } = makeDecoder({ protocolVersion: 4 });
    const header = publishHeader(200 * MiB);
    decoder.feed(Buffer.concat([header, Buffer.alloc(10)]));
    expect(errors).toEqual([]);
    expect(decoder.bufferedBytes).toBe(header.length + 10);
    expect(decoder.experimental_bufferCapacity).toBe(MiB);
    // 3 MiB more, in socket-sized chunks: the buffer doubles as needed, no further.
    for (let i = 0; i < 48; i++) decoder.feed(Buffer.alloc(64 * 1024));
    expect(decoder.bufferedBytes).toBe(header.length + 10 + 3 * MiB);
    expect(decoder.experimental_bufferCapacity).toBe(4 * MiB);
    expect(packets).toEqual([]);
    decoder.reset();
    expect(decoder.experimental_bufferCapacity).toBe(0);
  });

  it('grows past doubling when one chunk brings more than that', () => {
    const { decoder } = makeDecoder({ protocolVersion: 4 });
    decoder.feed(Buffer.concat([publishHeader(200 * MiB), Buffer.alloc(10)]));
    decoder.feed(Buffer.alloc(3 * MiB));
    expect(decoder.experimental_bufferCapacity).toBe(3 * MiB + 10);
    decoder.feed(Buffer.alloc(1));
    expect(decoder.experimental_bufferCapacity).toBe(2 * (3 * MiB + 10));
  });

  it('allocates the whole body at once up to 1 MiB, as before', () => {
    const { decoder } = makeDecoder({ protocolVersion: 4 });
    decoder.feed(Buffer.concat([publishHeader(MiB), Buffer.alloc(10)]));
    expect(decoder.experimental_bufferCapacity).toBe(MiB);
    const small = makeDecoder({ protocolVersion: 4 });
    small.decoder.feed(Buffer.concat([publishHeader(1000), Buffer.alloc(10)]));
    expect(small.decoder.experimental_bufferCapacity).toBe(1000);
    small.decoder.feed(Buffer.alloc(500));
    expect(small.decoder.experimental_bufferCapacity).toBe(1000);
  });

  it.each([
    ['1 MiB + 1 in 64 KiB chunks', MiB + 1, 64 * 1024],
    ['3 MiB in 1 MiB chunks', 3 * MiB, MiB],
    ['3 MiB in chunks of 3 MiB - 1', 3 * MiB, 3 * MiB - 1],
  ])('delivers a body of exactly its remaining length: %s', (_, remaining, chunk) => {
    const packet: PublishPacket = { ...publish(0, 4, 1), payload: filledBuffer(remaining - 17, remaining) };
    const bytes = encode(packet, 4);
    expect(remainingLength(bytes)).toBe(remaining);
    const run = makeDecoder({ protocolVersion: 4 });
    feedChecked(run, bytes, repeat(chunk));
    expect(run.errors).toEqual([]);
    const payload = (run.packets[0] as PublishPacket).payload;
    expect(payload.equals(packet.payload)).toBe(true);
    // The payload is a view into the assembled body, which is exactly the remaining length.
    expect(payload.buffer.byteLength).toBe(remaining);
  });

  it.each([4, 5] as const)(
    'decodes a 5 MiB packet fed in random chunk sizes byte-identically (level %i)',
    (version) => {
      const packet = publish(5 * MiB, version, version);
      const bytes = encode(packet, version);
      for (let seed = 1; seed <= 4; seed++) {
        const run = makeDecoder({ protocolVersion: version });
        feedChecked(run, bytes, randomSizes(seed * 31 + version, seed === 1 ? 300 * 1024 : 2 * MiB));
        expect(run.errors).toEqual([]);
        expect(run.packets).toHaveLength(1);
        const decoded = run.packets[0] as PublishPacket;
        expect(decoded.payload.equals(packet.payload)).toBe(true);
        expect(encode(decoded, version).equals(bytes)).toBe(true);
        expect(comparable({ ...decoded, payload: undefined })).toStrictEqual(
          comparable({ ...packet, payload: undefined }),
        );
      }
    },
  );

  it('a large packet split at any points decodes to the same bytes (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MiB - 64, max: 3 * MiB }),
        fc.array(fc.integer({ min: 0, max: 3 * MiB + 64 }), { maxLength: 40 }),
        fc.integer(),
        (payloadBytes, cuts, seed) => {
          const packet = publish(payloadBytes, 4, seed);
          const bytes = encode(packet, 4);
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const sizes = [...points, bytes.length].map((point, i) => point - (i === 0 ? 0 : points[i - 1]!));
          const run = makeDecoder({ protocolVersion: 4 });
          feedChecked(
            run,
            bytes,
            sizes.filter((size) => size > 0),
          );
          expect(run.errors).toEqual([]);
          expect(run.packets).toHaveLength(1);
          expect(encode(run.packets[0]!, 4).equals(bytes)).toBe(true);
        },
      ),
      { numRuns: numRuns(15) },
    );
  });
});
