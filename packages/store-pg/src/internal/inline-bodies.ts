import type { StoredMessage } from '@mqtt-adapt/router';

/**
 * The messages whose body is stored inline in their one delivery row, by router id, with the
 * body itself (the router still holds it; this keeps a reference). When a later batch saves
 * another delivery of such a message (a retained message sent again, a shared-subscription
 * redelivery), the body is written to `messages` from here ("promoted"), so no row ever refers
 * to a body that only a deleted delivery held.
 *
 * Planning a batch changes the map at once and logs how to undo it: `commit()` forgets the
 * log, `failed()` restores what was removed and keeps what was added. An id wrongly believed inline costs at most
 * a redundant promotion or a `messages` row left behind; an id wrongly believed not inline could
 * lose a body; and a COMMIT whose outcome is unknown may have gone through.
 */
export class InlineBodies {
  private readonly bodies = new Map<number, StoredMessage>();
  /** Undo log of the batch being written: ids changed, with the body each had before. */
  private readonly changedIds: number[] = [];
  private readonly previous: Array<StoredMessage | undefined> = [];

  has(id: number): boolean {
    return this.bodies.has(id);
  }

  get(id: number): StoredMessage | undefined {
    return this.bodies.get(id);
  }

  /** `message` is written inline in this batch. */
  add(message: StoredMessage): void {
    this.log(message.id);
    this.bodies.set(message.id, message);
  }

  /** The body of `id` is no longer inline only: promoted to `messages`, or deleted. */
  remove(id: number): void {
    if (!this.bodies.has(id)) return;
    this.log(id);
    this.bodies.delete(id);
  }

  commit(): void {
    this.changedIds.length = 0;
    this.previous.length = 0;
  }

  failed(): void {
    for (let i = this.changedIds.length - 1; i >= 0; i--) {
      const before = this.previous[i];
      if (before !== undefined) this.bodies.set(before.id, before);
    }
    this.commit();
  }

  /** Bodies a claim (cluster mode) just wrote inline, committed already: no undo entry. */
  adopt(messages: Iterable<StoredMessage>): void {
    for (const message of messages) this.bodies.set(message.id, message);
  }

  /** Bodies found inline by `open()`. */
  reset(loaded: Iterable<StoredMessage>): void {
    this.bodies.clear();
    this.commit();
    for (const message of loaded) this.bodies.set(message.id, message);
  }

  private log(id: number): void {
    this.changedIds.push(id);
    this.previous.push(this.bodies.get(id));
  }
}
