/** Every code a codec error can carry: detect errors by `code`, not only `instanceof`. */
export type CodecErrorCode =
  /** A Remaining Length or variable byte integer longer than 4 bytes, or overlong. */
  | 'CODEC_MALFORMED_VARINT'
  /**
   * A length field that points past the end of the packet, bytes left over after it, a remaining
   * length other than the fixed one of the packet type (PINGREQ 0, 3.x PUBACK 2), or input that
   * ends inside a packet (`decodePackets`).
   */
  | 'CODEC_LENGTH_OVERRUN'
  /**
   * Fixed-header flag bits that must be 0 (or 0010 for PUBREL, SUBSCRIBE, UNSUBSCRIBE), or other
   * reserved bits: CONNECT flag bit 0, CONNACK acknowledge flags 1-7, subscription options.
   */
  | 'CODEC_RESERVED_FLAGS'
  /** QoS 3, a QoS 0 PUBLISH with DUP, a subscription option with QoS 3, a will QoS without a will. */
  | 'CODEC_INVALID_QOS'
  /** A UTF-8 string that is not valid UTF-8, or holds U+0000 or a surrogate. */
  | 'CODEC_INVALID_UTF8'
  /** The fixed header announces a packet above the configured maximum packet size. */
  | 'CODEC_PACKET_TOO_LARGE'
  /** Packet Identifier 0 where one is required. */
  | 'CODEC_PACKET_ID_ZERO'
  /** SUBSCRIBE or UNSUBSCRIBE with no topic filter. */
  | 'CODEC_EMPTY_SUBSCRIPTION_LIST'
  /** A property that may appear once appears twice. */
  | 'CODEC_DUPLICATE_PROPERTY'
  /** A property identifier unknown to MQTT 5.0, or not allowed on this packet type. */
  | 'CODEC_PROPERTY_NOT_ALLOWED'
  /**
   * A property or field value outside its range (e.g. Receive Maximum 0, Maximum QoS 2, Retain
   * Handling 3), an empty topic name, will retain without a will, a 3.x password without username,
   * 5.0 CONNECT Authentication Data without an Authentication Method.
   */
  | 'CODEC_INVALID_VALUE'
  /** CONNECT protocol name is neither `MQTT` nor `MQIsdp`, or does not match the level. */
  | 'CODEC_INVALID_PROTOCOL_NAME'
  /** CONNECT protocol level other than 3, 4 or 5. */
  | 'CODEC_UNSUPPORTED_PROTOCOL_VERSION'
  /** Packet type 0, or AUTH (15) outside MQTT 5.0. */
  | 'CODEC_INVALID_PACKET_TYPE'
  /** The decoder was configured to require CONNECT first and got something else. */
  | 'CODEC_CONNECT_EXPECTED'
  /** A packet other than CONNECT arrived before the decoder knew the protocol version. */
  | 'CODEC_VERSION_UNKNOWN';

/**
 * Raised (emitted, never thrown out of `Decoder.feed`) for bytes that are not a valid MQTT
 * packet. `reasonCode` is the MQTT 5.0 reason code to send before closing: 0x81 malformed,
 * 0x82 protocol error, 0x84 unsupported protocol version, 0x95 packet too large.
 */
export class MalformedPacketError extends Error {
  override readonly name = 'MalformedPacketError';
  readonly code: CodecErrorCode;
  readonly reasonCode: number;
  /** Packet type from the fixed header, when it was read. */
  readonly packetType: number | undefined;

  constructor(
    code: CodecErrorCode,
    reasonCode: number,
    message: string,
    packetType?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.reasonCode = reasonCode;
    this.packetType = packetType;
  }
}

/** True for any error raised by this codec, even from another copy of the package. */
export function isCodecError(error: unknown): error is MalformedPacketError {
  if (!(error instanceof Error) || error.name !== 'MalformedPacketError') return false;
  const code: unknown = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('CODEC_');
}
