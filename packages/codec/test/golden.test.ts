import { describe, expect, it } from 'vitest';
import { Decoder, decodePackets, encode, type Packet } from '../src/index.js';
import { DECODE_ONLY, GOLDEN } from './fixtures/golden.js';

/** Decodes with a decoder that already knows the version (CONNECT learns its own). */
function decodeOne(bytes: Buffer, version: 3 | 4 | 5): Packet {
  const packets = decodePackets(bytes, version);
  expect(packets).toHaveLength(1);
  return packets[0]!;
}

describe('golden vectors', () => {
  it('cover every packet type in every protocol version', () => {
    for (const version of [3, 4, 5] as const) {
      const types = new Set(GOLDEN.filter((v) => v.version === version).map((v) => v.packet.type));
      const expected = version === 5 ? 15 : 14;
      expect([...types].sort((a, b) => a - b)).toEqual(Array.from({ length: expected }, (_, i) => i + 1));
    }
  });

  describe.each(GOLDEN.map((v) => [`${v.version}: ${v.name}`, v] as const))('%s', (_, vector) => {
    it('decodes to the packet', () => {
      expect(decodeOne(vector.bytes, vector.version)).toStrictEqual(vector.packet);
    });

    it('encodes to the bytes', () => {
      expect(encode(vector.packet, vector.version).toString('hex')).toBe(vector.bytes.toString('hex'));
    });

    it('decodes with the same key order as the vector', () => {
      const decoded = decodeOne(vector.bytes, vector.version);
      expect(Object.keys(decoded)).toEqual(Object.keys(vector.packet));
    });
  });

  it('decodes a connect with a decoder that learns the version', () => {
    for (const vector of GOLDEN.filter((v) => v.packet.type === 1)) {
      const packets: Packet[] = [];
      const decoder = new Decoder({
        onPacket: (p) => packets.push(p),
        onError: (e) => expect.fail(e.message),
      });
      decoder.feed(vector.bytes);
      expect(packets).toStrictEqual([vector.packet]);
      expect(decoder.protocolVersion).toBe(vector.version);
    }
  });
});

describe('decode-only forms', () => {
  describe.each(DECODE_ONLY.map((v) => [v.name, v] as const))('%s', (_, vector) => {
    it('decodes to the packet', () => {
      expect(decodeOne(vector.bytes, vector.version)).toStrictEqual(vector.packet);
    });

    it('encodes to the canonical form', () => {
      expect(encode(vector.packet, vector.version).toString('hex')).toBe(vector.canonical.toString('hex'));
    });
  });
});
