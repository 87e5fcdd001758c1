import type { Packet } from '@mqtt-adapt/codec';

/** What `DurableAcks` needs of its connection. */
export interface DurableAckTarget {
  /** False once the connection closed: waiting acks are then dropped. */
  readonly isOpen: boolean;
  /** Writes one acknowledgement now. */
  sendAckNow(packet: Packet, afterSend: (() => void) | undefined): void;
  /** An exception while sending (a bug): closes the connection. */
  failed(error: unknown): void;
  /** The store failed to make the writes durable: closes the connection, acks nothing. */
  storeFailed(error: unknown): void;
}

/** Acknowledgements waiting for the same store flush: sent together when it resolves. */
class AckGroup {
  readonly packets: Packet[] = [];
  readonly afterSends: Array<(() => void) | undefined> = [];
  constructor(
    readonly flushed: Promise<void> | undefined,
    readonly confirmed: PromiseLike<void> | undefined,
  ) {}
}

/**
 * A connection's acknowledgements that promise durability, in the order they were asked for
 * [MQTT-4.6.0-2], each sent once the store flush covering it resolved. The acks of one inbound
 * chunk usually wait for the same flush (the store commits once per turn): they share one
 * group and one pair of promise reactions, instead of two promises and a closure per ack.
 */
export class DurableAcks {
  /** Acks not sent yet. */
  waiting = 0;
  private tail: Promise<void> | undefined = undefined;
  /** The newest group, still open to acks waiting for the same flush. */
  private open: AckGroup | undefined = undefined;

  constructor(private readonly target: DurableAckTarget) {}

  /** Sends `packet` after `flushed` and `confirmed` (and after every ack asked for before it). */
  add(
    packet: Packet,
    afterSend: (() => void) | undefined,
    flushed: Promise<void> | undefined,
    confirmed?: PromiseLike<void>,
  ): void {
    this.waiting++;
    let group = this.open;
    if (group === undefined || group.flushed !== flushed || group.confirmed !== confirmed) {
      const created = new AckGroup(flushed, confirmed);
      group = created;
      this.open = created;
      const previous = this.tail ?? Promise.resolve();
      this.tail = previous
        .then(() => created.flushed)
        .then(() => created.confirmed)
        .then(
          () => this.sendGroup(created),
          (error: unknown) => this.failGroup(created, error),
        );
    }
    group.packets.push(packet);
    group.afterSends.push(afterSend);
  }

  private settled(group: AckGroup): void {
    this.waiting -= group.packets.length;
    if (this.open === group) this.open = undefined;
    if (this.waiting === 0) this.tail = undefined;
  }

  private sendGroup(group: AckGroup): void {
    this.settled(group);
    const target = this.target;
    const { packets, afterSends } = group;
    for (let i = 0; i < packets.length; i++) {
      if (!target.isOpen) return;
      try {
        target.sendAckNow(packets[i]!, afterSends[i]);
      } catch (error) {
        target.failed(error);
        return;
      }
    }
  }

  private failGroup(group: AckGroup, error: unknown): void {
    this.settled(group);
    this.target.storeFailed(error);
  }
}
