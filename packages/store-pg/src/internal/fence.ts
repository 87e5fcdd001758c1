import type { Logger } from '@mqtt-adapt/router';
import type { PoolClient } from 'pg';
import type { Batch } from './batch.js';
import type { Sql } from './sql.js';

/** A client id whose writes a batch dropped: another node claimed it since. */
export interface Fenced {
  readonly clientId: string;
  /** The epoch this store held for it when the batch was checked (undefined: never claimed here). */
  readonly epoch: number | undefined;
  readonly ownerNode: string | undefined;
}

/**
 * The fencing of a store in cluster mode (`PgStoreOptions.fencing`): the epochs of the client
 * ids this store claimed, and the check each batch runs in its transaction before its writes.
 */
export class Fence {
  /** Client id -> the epoch of this store's claim. */
  readonly owned = new Map<string, number>();

  constructor(
    readonly nodeId: string,
    private readonly onFenced: ((clientId: string, ownerNode: string | undefined) => void) | undefined,
    private readonly logger: Logger,
  ) {}

  /**
   * Inside the batch's transaction: share-locks the owner rows of its client ids (until COMMIT:
   * a claim of one of them waits for this batch) and drops from the batch the writes of every
   * client id this store does not own at the epoch it claimed. Nothing of them is sent.
   */
  async check(client: PoolClient, sql: Sql, batch: Batch): Promise<void> {
    if (batch.clients.size === 0) return;
    const ids = [...batch.clients.keys()];
    const result = await client.query({ name: 'mqa_owners_check', text: sql.ownersCheck, values: [ids] });
    const owners = new Map<string, { owner_node: string; owner_epoch: number }>();
    for (const row of result.rows) owners.set(row.client_id, row);
    for (const clientId of ids) {
      const row = owners.get(clientId);
      const epoch = this.owned.get(clientId);
      // Owned here at this epoch or a later one: a later one is this node's own claim that
      // committed while its answer was on the way (two claims of one client id, e.g. a CONNECT
      // and an adoption): the writes are this node's, not a stale owner's.
      if (
        row !== undefined &&
        row.owner_node === this.nodeId &&
        epoch !== undefined &&
        Number(row.owner_epoch) >= epoch
      )
        continue;
      batch.clients.delete(clientId);
      batch.fenced ??= [];
      batch.fenced.push({ clientId, epoch, ownerNode: row?.owner_node });
    }
  }

  /** After the batch: forgets the lost claims and tells the owner of the store, before any waiter. */
  report(batch: Batch): void {
    for (const { clientId, epoch, ownerNode } of batch.fenced ?? []) {
      if (epoch !== undefined && this.owned.get(clientId) === epoch) this.owned.delete(clientId);
      this.logger.warn(
        { clientId, epoch, ownerNode },
        'postgres store refused writes for a session another node claimed (fenced)',
      );
      try {
        this.onFenced?.(clientId, ownerNode);
      } catch (error) {
        this.logger.error({ clientId, err: error }, 'fencing.onFenced threw');
      }
    }
  }
}
