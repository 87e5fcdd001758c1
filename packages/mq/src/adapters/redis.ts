import { Redis, type RedisOptions } from 'ioredis';
import { rejected, unavailable } from '../errors.js';
import { sleep } from '../retry.js';
import type { ConsumedMessage, Consumer, ConsumerHandler, Producer, ProducerRecord } from '../types.js';

/** An existing ioredis client (left open), or where to connect (closed by us). */
export type RedisConnectionSource =
  | { readonly client: Redis }
  | { readonly url: string; readonly options?: RedisOptions };

// Fail commands at once while disconnected instead of queueing them without bound; the bridge
// retries with backoff and holds the device's ack meanwhile.
const bridgeDefaults: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  lazyConnect: false,
};

function clientOf(source: RedisConnectionSource): { client: Redis; owned: boolean } {
  if ('client' in source) return { client: source.client, owned: false };
  return { client: new Redis(source.url, { ...bridgeDefaults, ...source.options }), owned: true };
}

/** Resolves once the client is connected; rejects with `MQ_DESTINATION_UNAVAILABLE` after `timeoutMs`. */
async function ready(client: Redis, timeoutMs = 5000): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(unavailable('redis', `not connected after ${timeoutMs} ms (status ${client.status})`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
}

/** A Redis error reply (WRONGTYPE, OOM, ...) is about this command; anything else is reachability. */
function classify(what: string, error: unknown): Error {
  return error instanceof Error && error.name === 'ReplyError'
    ? rejected(what, error)
    : unavailable(what, error);
}

export type RedisStreamProducerOptions = RedisConnectionSource & {
  /** Trim each stream to about this many entries on every XADD (`MAXLEN ~ n`). Default: no trim. */
  readonly maxLen?: number;
  /** Trim exactly (`MAXLEN n`) instead of approximately; slower. Default false. */
  readonly exactMaxLen?: boolean;
};

/**
 * Appends records with XADD to the stream named by the destination. Fields: `id` (message id),
 * `key` (partition key), `contentType`, `headers` (JSON) and `body`. Concurrent sends go out as
 * one pipeline (ioredis auto-pipelining).
 */
export function createRedisStreamProducer(options: RedisStreamProducerOptions): Producer {
  const { client, owned } = clientOf(
    'client' in options
      ? options
      : { url: options.url, options: { enableAutoPipelining: true, ...options.options } },
  );
  client.on('error', () => {}); // reconnects by itself; failed sends report the cause
  const trim =
    options.maxLen === undefined ? [] : ['MAXLEN', options.exactMaxLen ? '=' : '~', options.maxLen];
  return {
    name: 'redis',
    keySeparator: ':',
    async start() {
      await ready(client);
      try {
        await client.ping();
      } catch (error) {
        throw classify('redis ping', error);
      }
    },
    async send(record: ProducerRecord) {
      try {
        await client.xadd(
          record.destination,
          ...trim,
          '*',
          'id',
          record.messageId,
          'key',
          record.partitionKey,
          'contentType',
          record.contentType,
          'headers',
          JSON.stringify(record.headers),
          'body',
          Buffer.from(record.body),
        );
      } catch (error) {
        throw classify(`redis xadd to ${record.destination}`, error);
      }
      return undefined;
    },
    async close() {
      if (owned) client.disconnect();
    },
  };
}

export type RedisStreamConsumerOptions = RedisConnectionSource & {
  readonly stream: string;
  readonly group: string;
  /** This consumer's name in the group; keep it stable so a restart recovers its own pending entries. */
  readonly consumer: string;
  /** Entries in flight at once (and the XREADGROUP COUNT). Default 32. */
  readonly count?: number;
  /** How long one XREADGROUP blocks. Default 1000. */
  readonly blockMs?: number;
  /** Re-claim (XAUTOCLAIM) entries pending this long on any consumer, e.g. one that died. Default 30000. */
  readonly claimIdleMs?: number;
  /** How often to look for such entries. Default 5000. */
  readonly claimIntervalMs?: number;
};

type Entry = [id: Buffer, fields: Buffer[] | null];

/**
 * Reads a stream through a consumer group: own pending entries first (after a restart), then new
 * ones with XREADGROUP, and entries another consumer left pending too long via XAUTOCLAIM. An
 * entry is XACKed when the handler resolved; when it rejected it stays pending and is re-claimed.
 */
export function createRedisStreamConsumer(options: RedisStreamConsumerOptions): Consumer {
  const { client, owned } = clientOf(options);
  const reader = client.duplicate({ ...bridgeDefaults }); // XREADGROUP BLOCK holds its connection
  client.on('error', () => {});
  reader.on('error', () => {});
  const count = options.count ?? 32;
  const inFlight = new Map<string, Promise<void>>();
  const abort = new AbortController();
  let loop: Promise<void> | undefined;
  let handler: ConsumerHandler;

  const handle = (entry: Entry) => {
    const id = entry[0].toString();
    if (inFlight.has(id) || entry[1] === null) return; // re-claimed while still ours, or deleted
    const work = handler(toConsumed(client, options.stream, id, entry[1])).then(
      () => client.xack(options.stream, options.group, id).then(() => {}),
      () => {}, // stays pending: re-claimed after claimIdleMs
    );
    const tracked = work.catch(() => {});
    inFlight.set(id, tracked);
    void tracked.finally(() => inFlight.delete(id));
  };

  const room = async () => {
    while (inFlight.size >= count && !abort.signal.aborted) await Promise.race(inFlight.values());
    return count - inFlight.size;
  };

  const run = async () => {
    let recovering = true;
    let cursor = '0';
    let nextClaim = 0;
    while (!abort.signal.aborted) {
      try {
        const n = await room();
        if (abort.signal.aborted) break;
        if (recovering) {
          const entries = streamEntries(
            await reader.callBuffer(
              'XREADGROUP',
              'GROUP',
              options.group,
              options.consumer,
              'COUNT',
              n,
              'STREAMS',
              options.stream,
              cursor,
            ),
          );
          if (entries.length === 0) recovering = false;
          else cursor = entries[entries.length - 1]![0].toString();
          entries.forEach(handle);
        } else if (Date.now() >= nextClaim) {
          nextClaim = Date.now() + (options.claimIntervalMs ?? 5000);
          const claimed = await reader.callBuffer(
            'XAUTOCLAIM',
            options.stream,
            options.group,
            options.consumer,
            options.claimIdleMs ?? 30_000,
            '0-0',
            'COUNT',
            n,
          );
          if (Array.isArray(claimed)) (claimed[1] as Entry[]).forEach(handle);
        } else {
          const reply = await reader.callBuffer(
            'XREADGROUP',
            'GROUP',
            options.group,
            options.consumer,
            'COUNT',
            n,
            'BLOCK',
            options.blockMs ?? 1000,
            'STREAMS',
            options.stream,
            '>',
          );
          streamEntries(reply).forEach(handle);
        }
      } catch {
        // Disconnected or closing: wait and go on; nothing is lost, entries stay pending.
        await sleep(200, abort.signal).catch(() => {});
      }
    }
  };

  return {
    name: 'redis',
    async start(h) {
      handler = h;
      await ready(client);
      try {
        await client.xgroup('CREATE', options.stream, options.group, '0', 'MKSTREAM');
      } catch (error) {
        if (!(error instanceof Error && error.message.startsWith('BUSYGROUP')))
          throw classify('redis xgroup', error);
      }
      loop = run();
    },
    async close() {
      abort.abort();
      reader.disconnect(); // interrupts a blocked XREADGROUP
      await loop;
      await Promise.all(inFlight.values());
      if (owned) client.disconnect();
    },
  };
}

/** The entries of an XREADGROUP reply for one stream (`[[key, [[id, fields], ...]]]` or null). */
function streamEntries(reply: unknown): Entry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const first = reply[0] as [Buffer, Entry[]];
  return first[1] ?? [];
}

function toConsumed(client: Redis, stream: string, id: string, raw: Buffer[]): ConsumedMessage {
  const fields = new Map<string, Buffer>();
  for (let i = 0; i + 1 < raw.length; i += 2) fields.set(raw[i]!.toString(), raw[i + 1]!);
  const headers: Record<string, string> = {};
  const headerJson = fields.get('headers');
  if (headerJson) {
    try {
      Object.assign(headers, JSON.parse(headerJson.toString()));
    } catch {
      // A producer of ours writes JSON; anything else is kept as plain fields below.
    }
  }
  for (const [key, value] of fields)
    if (key !== 'body' && key !== 'headers') headers[key] ??= value.toString();
  const replyTo = fields.get('replyTo')?.toString();
  const correlationId = fields.get('correlationId')?.toString() ?? headers['mq-correlation-id'];
  return {
    body: fields.get('body') ?? fields.get('payload') ?? Buffer.alloc(0),
    headers,
    id,
    source: stream,
    ...(correlationId === undefined ? {} : { correlationId }),
    ...(replyTo === undefined || replyTo === ''
      ? {}
      : {
          replyTo,
          async reply(body: Uint8Array, replyHeaders: Readonly<Record<string, string>>) {
            try {
              await client.xadd(
                replyTo,
                '*',
                'correlationId',
                correlationId ?? '',
                'headers',
                JSON.stringify(replyHeaders),
                'body',
                Buffer.from(body),
              );
            } catch (error) {
              throw classify(`redis reply to ${replyTo}`, error);
            }
          },
        }),
  };
}
