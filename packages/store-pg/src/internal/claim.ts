import type { QoS, RetainHandling } from '@mqtt-adapt/codec';
import type { Logger, SessionSnapshot, StoredMessage } from '@mqtt-adapt/router';
import type { PoolClient } from 'pg';
import { decodeProperties, encodeProperties } from './json.js';
import type { Sql } from './sql.js';

/** What `PgStore.claimSession` returns. */
export interface SessionClaim {
  readonly clientId: string;
  /** The claim's epoch: 1 for the first claim of this client id, one more with each claim. */
  readonly epoch: number;
  /** The node that owned the client id before this claim (`undefined`: none, or this one). */
  readonly previousOwner: string | undefined;
  /**
   * The stored session as the claim found it (after every batch of the previous owner that
   * passed the fence committed), or `undefined` if none is stored. Its deliveries' messages
   * carry ids below 0, allocated by this store (never by the router, which allocates above 0).
   */
  readonly session: SessionSnapshot | undefined;
}

/** The claim, and the bodies now held inline by its deliveries (for the store's inline map). */
export interface ClaimResult {
  readonly claim: SessionClaim;
  readonly inline: StoredMessage[];
}

type Row = Record<string, unknown>;

/**
 * Claims `clientId` for `nodeId` in one transaction (with `onlyFrom`: only if one of those nodes
 * owns it now, else `undefined`): bumps its epoch in `session_owners` (the
 * row lock waits for every batch share-locking it, so a stale batch either committed before or
 * is refused after), reads its session, and rewrites its deliveries to carry their bodies
 * inline under (`storeEpoch`, a fresh id below 0): the claimed rows no longer depend on a
 * `messages` row another node may delete.
 */
export async function claimSession(
  client: PoolClient,
  sql: Sql,
  clientId: string,
  nodeId: string,
  storeEpoch: number,
  allocateId: () => number,
  logger: Logger,
  onlyFrom?: readonly string[],
): Promise<ClaimResult | undefined> {
  await client.query('BEGIN');
  try {
    const claimed = (
      onlyFrom === undefined
        ? await client.query({ text: sql.ownerClaim, values: [clientId, nodeId] })
        : await client.query({ text: sql.ownerClaimFrom, values: [clientId, nodeId, onlyFrom] })
    ).rows[0] as Row | undefined;
    if (claimed === undefined) {
      // Owned by none of `onlyFrom` (any more): nothing claimed.
      await client.query('ROLLBACK');
      return undefined;
    }
    const epoch = Number(claimed.owner_epoch);
    const previous = claimed.previous_node as string | null;
    const previousOwner = previous === null || previous === nodeId ? undefined : previous;
    const read = async (text: string): Promise<Row[]> =>
      (await client.query({ text, values: [clientId] })).rows;
    const sessionRow = (await read(sql.claimSession))[0];
    let session: SessionSnapshot | undefined;
    let inline: StoredMessage[] = [];
    if (sessionRow !== undefined) {
      const loaded = await loadClaimed(
        client,
        sql,
        clientId,
        sessionRow,
        read,
        storeEpoch,
        allocateId,
        logger,
      );
      session = loaded.session;
      inline = loaded.inline;
    }
    await client.query('COMMIT');
    return { claim: { clientId, epoch, previousOwner, session }, inline };
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      logger.debug({ err: rollbackError }, 'rollback after failed claim failed');
    });
    throw error;
  }
}

async function loadClaimed(
  client: PoolClient,
  sql: Sql,
  clientId: string,
  row: Row,
  read: (text: string) => Promise<Row[]>,
  storeEpoch: number,
  allocateId: () => number,
  logger: Logger,
): Promise<{ session: SessionSnapshot; inline: StoredMessage[] }> {
  const subscriptions = (await read(sql.claimSubscriptions)).map((s) => ({
    topicFilter: s.topic_filter as string,
    options: {
      qos: s.qos as QoS,
      noLocal: s.no_local as boolean,
      retainAsPublished: s.retain_as_published as boolean,
      retainHandling: s.retain_handling as RetainHandling,
      subscriptionIdentifier: nullable(s.subscription_identifier as number | null),
    },
  }));
  const byKey = new Map<string, StoredMessage>();
  const deliveries: SessionSnapshot['deliveries'] = [];
  const rekey: unknown[][] = [[], [], [], [], [], [], []];
  let missing = 0;
  for (const d of await read(sql.claimDeliveries)) {
    if (d.payload === null || d.payload === undefined) {
      missing++;
      continue;
    }
    const key = `${d.message_epoch as number}:${d.message_id as number}`;
    let message = byKey.get(key);
    if (message === undefined) {
      message = {
        id: allocateId(),
        topicName: d.topic_name as string,
        payload: d.payload as Buffer,
        qos: d.message_qos as QoS,
        retain: d.message_retain as boolean,
        properties: decodeProperties(d.properties),
      };
      byKey.set(key, message);
    }
    const values = [
      d.seq,
      message.id,
      message.topicName,
      message.payload,
      message.qos,
      message.retain,
      encodeProperties(message.properties),
    ];
    for (let i = 0; i < values.length; i++) (rekey[i] as unknown[]).push(values[i]);
    deliveries.push({
      seq: d.seq as number,
      messageId: message.id,
      qos: d.qos as 1 | 2,
      retain: d.retain as boolean,
      packetId: nullable(d.packet_id as number | null),
      released: d.released as boolean,
      message,
    });
  }
  if (missing > 0)
    logger.warn({ clientId, deliveries: missing }, 'claimed deliveries refer to missing messages; skipped');
  if (deliveries.length > 0)
    await client.query({ text: sql.claimRekey, values: [clientId, storeEpoch, ...rekey] });
  const inboundQos2 = (await read(sql.claimInbound)).map((i) => i.packet_id as number);
  const session: SessionSnapshot = {
    session: {
      clientId,
      protocolVersion: row.protocol_version as 3 | 4 | 5,
      sessionExpiryInterval: nullable(row.session_expiry_interval as number | null),
      username: nullable(row.username as string | null),
      expiresAt: nullable(row.expires_at as number | null),
    },
    subscriptions,
    deliveries,
    inboundQos2,
  };
  return { session, inline: [...byKey.values()] };
}

function nullable<T>(value: T | null): T | undefined {
  return value === null ? undefined : value;
}
