import { Decoder, type Packet, type ProtocolVersion } from '@mqtt-adapt/codec';
import type { Transport } from '../transport.js';

/**
 * An in-memory transport that decodes what the broker writes, for driving the router in unit
 * tests with packet objects. `highWaterMark` simulates a slow reader.
 */
export class FakeTransport implements Transport {
  readonly written: Buffer[] = [];
  readonly received: Packet[] = [];
  closed = false;
  paused = false;
  /** Bytes written since the last `drain()`; write() returns false above `highWaterMark`. */
  bufferedBytes = 0;
  private readonly decoder: Decoder;

  constructor(
    protocolVersion: ProtocolVersion = 4,
    readonly remoteAddress = '127.0.0.1:50000',
    public highWaterMark = Number.POSITIVE_INFINITY,
  ) {
    this.decoder = new Decoder({
      protocolVersion,
      onPacket: (packet) => this.received.push(packet),
      onError: (error) => {
        throw error;
      },
    });
  }

  write(data: Buffer): boolean {
    if (this.closed) return false;
    this.written.push(data);
    this.bufferedBytes += data.length;
    this.decoder.feed(data);
    return this.bufferedBytes <= this.highWaterMark;
  }

  close(): void {
    this.closed = true;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /** Pretends the peer read everything; the caller then calls `connection.drained()`. */
  drain(): void {
    this.bufferedBytes = 0;
  }

  /** Removes and returns what the broker sent so far. */
  take(): Packet[] {
    return this.received.splice(0, this.received.length);
  }
}
