import { PacketType } from '../packet-types.js';
import { decodeAck } from '../packets/ack.js';
import { decodeAuth } from '../packets/auth.js';
import { decodeConnack } from '../packets/connack.js';
import { decodeConnect } from '../packets/connect.js';
import { decodeDisconnect } from '../packets/disconnect.js';
import { decodePingreq, decodePingresp } from '../packets/ping.js';
import { decodePublish } from '../packets/publish.js';
import { decodeSuback } from '../packets/suback.js';
import { decodeSubscribe } from '../packets/subscribe.js';
import { decodeUnsuback } from '../packets/unsuback.js';
import { decodeUnsubscribe } from '../packets/unsubscribe.js';
import type { Packet } from '../packets.js';
import { MALFORMED } from './constants.js';
import type { Reader } from './reader.js';

/**
 * Decodes the body the reader points at (the fixed header has been checked) and checks that
 * nothing is left over. Throws `MalformedPacketError`.
 */
export function decodePacket(r: Reader): Packet {
  const packet = decodeBody(r);
  if (r.pos !== r.end) {
    r.fail(
      'CODEC_LENGTH_OVERRUN',
      MALFORMED,
      `${r.name} has ${r.end - r.pos} bytes left over after its last field`,
    );
  }
  return packet;
}

function decodeBody(r: Reader): Packet {
  switch (r.type) {
    case PacketType.Publish:
      return decodePublish(r);
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      return decodeAck(r);
    case PacketType.Connect:
      return decodeConnect(r);
    case PacketType.Connack:
      return decodeConnack(r);
    case PacketType.Subscribe:
      return decodeSubscribe(r);
    case PacketType.Suback:
      return decodeSuback(r);
    case PacketType.Unsubscribe:
      return decodeUnsubscribe(r);
    case PacketType.Unsuback:
      return decodeUnsuback(r);
    case PacketType.Pingreq:
      return decodePingreq();
    case PacketType.Pingresp:
      return decodePingresp();
    case PacketType.Disconnect:
      return decodeDisconnect(r);
    default:
      return decodeAuth(r);
  }
}
