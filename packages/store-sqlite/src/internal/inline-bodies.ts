import type { StoredMessage } from '@mqtt-adapt/router';

/**
 * The messages whose body is stored inline in their one delivery row, by id, with the body
 * itself: the router still holds it, this keeps a reference. When a later batch saves another
 * delivery of such a message (a retained message sent again, a shared-subscription redelivery)
 * the body is written to `messages` from here ("promoted"), so no row ever refers to a body that
 * only a deleted delivery held.
 *
 * Planning a batch changes the map at once and logs how to undo it: `commit()` (the transaction
 * committed) forgets the log, `rollback()` undoes it, so the map always describes the database.
 */
export class InlineBodies {
  private readonly bodies = new Map<number, StoredMessage>();
  /** Undo log of the batch being written: ids changed, with the body each had before. */
  private readonly changedIds: number[] = [];
  private readonly previous: Array<StoredMessage | undefined> = [];

  get size(): number {
    return this.bodies.size;
  }

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

  rollback(): void {
    for (let i = this.changedIds.length - 1; i >= 0; i--) {
      const id = this.changedIds[i] as number;
      const before = this.previous[i];
      if (before === undefined) this.bodies.delete(id);
      else this.bodies.set(id, before);
    }
    this.commit();
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
