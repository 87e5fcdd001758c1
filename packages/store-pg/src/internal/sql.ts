/**
 * Every statement the store runs, built once per schema. Batch statements take one array per
 * column and run as named prepared statements (parsed once per connection); `unnest(...) WITH
 * ORDINALITY ... ORDER BY n` keeps the batch's key order for identity `position` columns.
 */
export function buildSql(schema: string) {
  const t = (table: string): string => `"${schema}".${table}`;
  const bumpAuthVersion = `UPDATE ${t('meta')} SET value = value + 1 WHERE key = 'auth_version'`;
  const hasSession = `EXISTS (SELECT 1 FROM ${t('sessions')} s WHERE s.client_id = u.client_id)`;
  return {
    sessionsDelete: `DELETE FROM ${t('sessions')} WHERE client_id = ANY($1::text[])`,
    sessionsUpsert: `INSERT INTO ${t('sessions')} (client_id, protocol_version, session_expiry_interval, username, expires_at)
SELECT u.client_id, u.protocol_version, u.session_expiry_interval, u.username, u.expires_at
FROM unnest($1::text[], $2::int2[], $3::int8[], $4::text[], $5::int8[]) WITH ORDINALITY
  AS u(client_id, protocol_version, session_expiry_interval, username, expires_at, n)
ORDER BY u.n
ON CONFLICT (client_id) DO UPDATE SET protocol_version = EXCLUDED.protocol_version,
  session_expiry_interval = EXCLUDED.session_expiry_interval, username = EXCLUDED.username,
  expires_at = EXCLUDED.expires_at`,

    messagesDelete: `DELETE FROM ${t('messages')} m USING unnest($1::int8[], $2::int8[]) AS u(epoch, id)
WHERE m.epoch = u.epoch AND m.id = u.id`,
    messagesUpsert: `INSERT INTO ${t('messages')} (epoch, id, topic_name, payload, qos, retain, properties)
SELECT * FROM unnest($1::int8[], $2::int8[], $3::text[], $4::bytea[], $5::int2[], $6::bool[], $7::jsonb[])
ON CONFLICT (epoch, id) DO UPDATE SET topic_name = EXCLUDED.topic_name, payload = EXCLUDED.payload,
  qos = EXCLUDED.qos, retain = EXCLUDED.retain, properties = EXCLUDED.properties`,

    subscriptionsDelete: `DELETE FROM ${t('subscriptions')} x USING unnest($1::text[], $2::text[]) AS u(client_id, topic_filter)
WHERE x.client_id = u.client_id AND x.topic_filter = u.topic_filter`,
    subscriptionsUpsert: `INSERT INTO ${t('subscriptions')}
  (client_id, topic_filter, qos, no_local, retain_as_published, retain_handling, subscription_identifier)
SELECT u.client_id, u.topic_filter, u.qos, u.no_local, u.retain_as_published, u.retain_handling, u.subscription_identifier
FROM unnest($1::text[], $2::text[], $3::int2[], $4::bool[], $5::bool[], $6::int2[], $7::int4[]) WITH ORDINALITY
  AS u(client_id, topic_filter, qos, no_local, retain_as_published, retain_handling, subscription_identifier, n)
WHERE ${hasSession}
ORDER BY u.n
ON CONFLICT (client_id, topic_filter) DO UPDATE SET qos = EXCLUDED.qos, no_local = EXCLUDED.no_local,
  retain_as_published = EXCLUDED.retain_as_published, retain_handling = EXCLUDED.retain_handling,
  subscription_identifier = EXCLUDED.subscription_identifier`,

    deliveriesDelete: `DELETE FROM ${t('deliveries')} x USING unnest($1::text[], $2::int8[]) AS u(client_id, seq)
WHERE x.client_id = u.client_id AND x.seq = u.seq`,
    // topic_name .. properties: the message body, when it is inline in this one delivery.
    deliveriesUpsert: `INSERT INTO ${t('deliveries')}
  (client_id, seq, message_epoch, message_id, qos, retain, packet_id, released,
   topic_name, payload, message_qos, message_retain, properties)
SELECT u.* FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::int2[], $6::bool[], $7::int4[], $8::bool[],
  $9::text[], $10::bytea[], $11::int2[], $12::bool[], $13::jsonb[])
  AS u(client_id, seq, message_epoch, message_id, qos, retain, packet_id, released,
       topic_name, payload, message_qos, message_retain, properties)
WHERE ${hasSession}
ON CONFLICT (client_id, seq) DO UPDATE SET message_epoch = EXCLUDED.message_epoch,
  message_id = EXCLUDED.message_id, qos = EXCLUDED.qos, retain = EXCLUDED.retain,
  packet_id = EXCLUDED.packet_id, released = EXCLUDED.released, topic_name = EXCLUDED.topic_name,
  payload = EXCLUDED.payload, message_qos = EXCLUDED.message_qos,
  message_retain = EXCLUDED.message_retain, properties = EXCLUDED.properties`,
    deliveriesUpdate: `UPDATE ${t('deliveries')} x SET packet_id = u.packet_id, released = u.released
FROM unnest($1::text[], $2::int8[], $3::int4[], $4::bool[]) AS u(client_id, seq, packet_id, released)
WHERE x.client_id = u.client_id AND x.seq = u.seq`,

    inboundDelete: `DELETE FROM ${t('inbound_qos2')} x USING unnest($1::text[], $2::int4[]) AS u(client_id, packet_id)
WHERE x.client_id = u.client_id AND x.packet_id = u.packet_id`,
    inboundInsert: `INSERT INTO ${t('inbound_qos2')} (client_id, packet_id)
SELECT u.client_id, u.packet_id FROM unnest($1::text[], $2::int4[]) WITH ORDINALITY AS u(client_id, packet_id, n)
WHERE ${hasSession}
ORDER BY u.n
ON CONFLICT (client_id, packet_id) DO NOTHING`,

    retainedDelete: `DELETE FROM ${t('retained')} WHERE topic_name = ANY($1::text[])`,
    retainedUpsert: `INSERT INTO ${t('retained')} (topic_name, payload, qos, properties)
SELECT * FROM unnest($1::text[], $2::bytea[], $3::int2[], $4::jsonb[])
ON CONFLICT (topic_name) DO UPDATE SET payload = EXCLUDED.payload, qos = EXCLUDED.qos,
  properties = EXCLUDED.properties`,

    // Reads of findRetained run unnamed, so PostgreSQL plans them with the actual pattern and
    // uses the primary key for the LIKE prefix.
    retainedExact: `SELECT topic_name, payload, qos, properties FROM ${t('retained')} WHERE topic_name = $1`,
    retainedPrefix: `SELECT topic_name, payload, qos, properties FROM ${t('retained')}
WHERE topic_name LIKE $1 ORDER BY topic_name`,
    retainedAll: `SELECT topic_name, payload, qos, properties FROM ${t('retained')}
WHERE topic_name NOT LIKE '$%' ORDER BY topic_name`,

    // User and ACL writes are one statement each: the write in a CTE, the auth_version increment
    // as the main statement, so both commit together (and a retry after a lost connection only
    // increments once more, which is harmless).
    userGet: `SELECT username, password_hash FROM ${t('users')} WHERE username = $1`,
    userList: `SELECT username, password_hash FROM ${t('users')} ORDER BY username`,
    userUpsert: `WITH w AS (
  INSERT INTO ${t('users')} (username, password_hash) VALUES ($1, $2)
  ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash
) ${bumpAuthVersion}`,
    userDelete: `WITH w AS (DELETE FROM ${t('users')} WHERE username = $1) ${bumpAuthVersion}`,
    aclList: `SELECT id, subject, username, topic_filter, action, permission FROM ${t('acl_rules')} ORDER BY position`,
    aclUpsert: `WITH w AS (
  INSERT INTO ${t('acl_rules')} (id, subject, username, topic_filter, action, permission)
  VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (id) DO UPDATE SET subject = EXCLUDED.subject, username = EXCLUDED.username,
    topic_filter = EXCLUDED.topic_filter, action = EXCLUDED.action, permission = EXCLUDED.permission
) ${bumpAuthVersion}`,
    aclDelete: `WITH w AS (DELETE FROM ${t('acl_rules')} WHERE id = $1) ${bumpAuthVersion}`,
    authVersion: `SELECT value FROM ${t('meta')} WHERE key = 'auth_version'`,

    // Fencing (cluster mode, `PgStoreOptions.fencing`); a store without it never runs these.
    // The owner rows of a batch's client ids, share-locked until its COMMIT: a claim (which
    // updates the row) waits for the batch, and a batch begun after a claim sees its epoch.
    ownersCheck: `SELECT client_id, owner_node, owner_epoch FROM ${t('session_owners')}
WHERE client_id = ANY($1::text[]) ORDER BY client_id FOR SHARE`,
    // The previous owner comes from the statement's snapshot (a hint for the takeover notice).
    ownerClaim: `INSERT INTO ${t('session_owners')} AS o (client_id, owner_node, owner_epoch) VALUES ($1, $2, 1)
ON CONFLICT (client_id) DO UPDATE SET owner_node = EXCLUDED.owner_node, owner_epoch = o.owner_epoch + 1,
  claimed_at = now()
RETURNING owner_epoch, (SELECT p.owner_node FROM ${t('session_owners')} p WHERE p.client_id = $1) AS previous_node`,
    // A claim only from the listed owners (adopting a dead node's sessions): no row when another
    // node took it first. The old owner comes from the locked row, not the statement's snapshot.
    ownerClaimFrom: `UPDATE ${t('session_owners')} o SET owner_node = $2, owner_epoch = o.owner_epoch + 1, claimed_at = now()
FROM (SELECT client_id, owner_node FROM ${t('session_owners')} WHERE client_id = $1 FOR UPDATE) p
WHERE o.client_id = p.client_id AND p.owner_node = ANY($3::text[])
RETURNING o.owner_epoch, p.owner_node AS previous_node`,
    // Stored sessions whose owner is none of the given nodes (a dead or departed node's).
    ownersOrphaned: `SELECT o.client_id, o.owner_node FROM ${t('session_owners')} o
JOIN ${t('sessions')} s ON s.client_id = o.client_id
WHERE o.owner_node <> ALL($1::text[]) ORDER BY o.client_id LIMIT $2`,
    ownersOf: `SELECT client_id, owner_node, owner_epoch FROM ${t('session_owners')} WHERE client_id = ANY($1::text[])`,
    claimSession: `SELECT client_id, protocol_version, session_expiry_interval, username, expires_at
FROM ${t('sessions')} WHERE client_id = $1`,
    claimSubscriptions: `SELECT client_id, topic_filter, qos, no_local, retain_as_published, retain_handling,
  subscription_identifier FROM ${t('subscriptions')} WHERE client_id = $1 ORDER BY position`,
    // Each delivery with its body: the messages row if there is one (it wins), else inline.
    claimDeliveries: `SELECT d.seq, d.message_epoch, d.message_id, d.qos, d.retain, d.packet_id, d.released,
  CASE WHEN m.id IS NULL THEN d.topic_name ELSE m.topic_name END AS topic_name,
  CASE WHEN m.id IS NULL THEN d.payload ELSE m.payload END AS payload,
  CASE WHEN m.id IS NULL THEN d.message_qos ELSE m.qos END AS message_qos,
  CASE WHEN m.id IS NULL THEN d.message_retain ELSE m.retain END AS message_retain,
  CASE WHEN m.id IS NULL THEN d.properties ELSE m.properties END AS properties
FROM ${t('deliveries')} d LEFT JOIN ${t('messages')} m ON m.epoch = d.message_epoch AND m.id = d.message_id
WHERE d.client_id = $1 ORDER BY d.seq`,
    claimInbound: `SELECT packet_id FROM ${t('inbound_qos2')} WHERE client_id = $1 ORDER BY position`,
    // A claimed session's deliveries take their bodies inline under the claimer's keys: they no
    // longer depend on a messages row its writer (another node) may delete.
    claimRekey: `UPDATE ${t('deliveries')} x SET message_epoch = $2, message_id = u.message_id,
  topic_name = u.topic_name, payload = u.payload, message_qos = u.message_qos,
  message_retain = u.message_retain, properties = u.properties
FROM unnest($3::int8[], $4::int8[], $5::text[], $6::bytea[], $7::int2[], $8::bool[], $9::jsonb[])
  AS u(seq, message_id, topic_name, payload, message_qos, message_retain, properties)
WHERE x.client_id = $1 AND x.seq = u.seq`,
    ownerOf: `SELECT owner_node, owner_epoch FROM ${t('session_owners')} WHERE client_id = $1`,

    nextEpoch: `SELECT nextval('"${schema}".store_epochs') AS epoch,
  current_setting('synchronous_commit') AS synchronous_commit`,
    snapshotSessions: `SELECT client_id, protocol_version, session_expiry_interval, username, expires_at FROM ${t('sessions')}
ORDER BY position`,
    snapshotSubscriptions: `SELECT client_id, topic_filter, qos, no_local, retain_as_published, retain_handling,
  subscription_identifier FROM ${t('subscriptions')} ORDER BY position`,
    // Every message id (for maxMessageId and id remapping); bodies only where a delivery needs them.
    snapshotMessages: `SELECT m.epoch, m.id, m.topic_name, m.qos, m.retain, m.properties,
  CASE WHEN r.message_id IS NULL THEN NULL ELSE m.payload END AS payload
FROM ${t('messages')} m
LEFT JOIN (SELECT DISTINCT message_epoch, message_id FROM ${t('deliveries')}) r
  ON r.message_epoch = m.epoch AND r.message_id = m.id
ORDER BY m.epoch, m.id`,
    snapshotDeliveries: `SELECT client_id, seq, message_epoch, message_id, qos, retain, packet_id, released,
  topic_name, payload, message_qos, message_retain, properties
FROM ${t('deliveries')} ORDER BY client_id, seq`,
    snapshotInbound: `SELECT client_id, packet_id FROM ${t('inbound_qos2')} ORDER BY position`,
    snapshotRetained: `SELECT topic_name, payload, qos, properties FROM ${t('retained')} ORDER BY topic_name`,
  } as const;
}

export type Sql = ReturnType<typeof buildSql>;
