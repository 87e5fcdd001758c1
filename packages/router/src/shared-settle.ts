import type { Session } from './session.js';

/** What became of a remote message's delivery to a share group (see `DeliverRemoteOptions.sharedSettled`). */
export type SharedOutcome = 'delivered' | 'lost';

/**
 * Called once per share group named for a remote message: `delivered` when its member
 * acknowledged it (QoS 0: wrote it), when the member's session keeps it (it lives on offline),
 * or when authorization denied it; `lost` when no member was online to take it, or when the
 * member's session ended with it unacknowledged and no other member took it over.
 */
export type SharedSettled = (sharedFilter: string, outcome: SharedOutcome) => void;

/**
 * The session stops holding what it holds (`lost`: it ended; `delivered`: it lives on offline and
 * keeps it): the remote share deliveries among its entries are settled that way.
 */
export function settleHeldShared(session: Session, outcome: SharedOutcome): void {
  if (session.inflightCount === 0 && session.queueLength === 0) return;
  for (const entry of session.inflight.values()) {
    const settle = entry.message.sharedSettled;
    if (settle !== undefined && entry.sharedFilter !== undefined) settle(entry.sharedFilter, outcome);
  }
  for (const entry of session.queue) {
    const settle = entry.message.sharedSettled;
    if (settle !== undefined && entry.sharedFilter !== undefined) settle(entry.sharedFilter, outcome);
  }
}
