import { Decoder, type MalformedPacketError, type Packet, type ProtocolVersion } from '@mqtt-adapt/codec';

/** What a pooled decoder reports to: the connection it decodes for during one `feed`. */
export interface DecoderClient {
  packetDecoded(packet: Packet): void;
  decodeFailed(error: MalformedPacketError): void;
}

/** Decoders kept for reuse, per kind; more are needed only when feeds nest. */
const MAX_POOLED = 8;

/**
 * Decoders lent to connections for the time of one chunk. Between packets a decoder holds
 * nothing of its stream but the protocol version (which the connection knows) and whether the
 * first packet was seen (the connection's state says): so a connection between packets, the
 * state of almost every idle one, holds no decoder. It takes one when bytes arrive and gives it
 * back once they are decoded; only a packet split across chunks keeps a decoder with its
 * connection until the rest arrives. A feed costs a pop and a push, no allocation.
 *
 * Two kinds: `first` decoders require CONNECT first and learn the protocol version from it (a
 * connection's first bytes); the others are set to the connection's version when lent.
 * The decoders' callbacks go to `current`, the client being fed (saved and restored, should
 * feeds ever nest).
 */
export class DecoderPool {
  private readonly firstDecoders: Decoder[] = [];
  private readonly nextDecoders: Decoder[] = [];
  private current: DecoderClient | undefined = undefined;
  private readonly onPacket = (packet: Packet): void => this.current!.packetDecoded(packet);
  private readonly onError = (error: MalformedPacketError): void => this.current!.decodeFailed(error);

  constructor(
    private readonly maxPacketSize: number,
    private readonly maxConnectPacketSize: number,
  ) {}

  /** A decoder in its initial state: for a connection's first bytes (`first`) or for later ones. */
  take(first: boolean, version: ProtocolVersion): Decoder {
    const decoder = (first ? this.firstDecoders : this.nextDecoders).pop() ?? this.create(first);
    if (!first) decoder.protocolVersion = version;
    return decoder;
  }

  /**
   * Takes back a decoder, of the kind it was lent as: one between packets, or one whose
   * connection closed (`reset` drops whatever it held, a failed state included).
   */
  give(decoder: Decoder, first: boolean): void {
    const pool = first ? this.firstDecoders : this.nextDecoders;
    if (pool.length >= MAX_POOLED) return;
    decoder.reset();
    pool.push(decoder);
  }

  /** Feeds `chunk` to `decoder` with `client` receiving what it decodes. */
  feed(client: DecoderClient, decoder: Decoder, chunk: Buffer): void {
    const previous = this.current;
    this.current = client;
    try {
      decoder.feed(chunk);
    } finally {
      this.current = previous;
    }
  }

  private create(first: boolean): Decoder {
    return new Decoder({
      maxPacketSize: this.maxPacketSize,
      maxConnectPacketSize: this.maxConnectPacketSize,
      requireConnectFirst: first,
      onPacket: this.onPacket,
      onError: this.onError,
    });
  }
}
