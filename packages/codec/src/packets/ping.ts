import { Buffer } from 'node:buffer';
import { PacketType } from '../packet-types.js';
import type { PingreqPacket, PingrespPacket } from '../packets.js';

/*
 * PINGREQ and PINGRESP (§3.12, §3.13): a fixed header and nothing else. The decoder checks
 * the remaining length 0 from the fixed header; the encoder returns prebuilt bytes.
 */

export const PINGREQ_BYTES: Buffer = Buffer.from([0xc0, 0x00]);
export const PINGRESP_BYTES: Buffer = Buffer.from([0xd0, 0x00]);

export function decodePingreq(): PingreqPacket {
  return { type: PacketType.Pingreq };
}

export function decodePingresp(): PingrespPacket {
  return { type: PacketType.Pingresp };
}

export function pingLength(): number {
  return 0;
}

export function encodePing(p: PingreqPacket | PingrespPacket, buf: Buffer, offset: number): number {
  buf[offset] = p.type << 4;
  buf[offset + 1] = 0;
  return offset + 2;
}
