import {
  AckPolicy,
  type ConsumerMessages,
  JetStreamApiError,
  type JsMsg,
  jetstream,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream';
import { connect, type MsgHdrs, type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import { rejected, unavailable } from '../errors.js';
import type { ConsumedMessage, Consumer, ConsumerHandler, Producer, ProducerRecord } from '../types.js';

/** Where to connect: an existing connection (left open) or servers to connect to (closed by us). */
export type NatsConnectionSource =
  | { readonly connection: NatsConnection }
  | { readonly servers: string | string[] };

export interface JetStreamStream {
  readonly name: string;
  /** Subjects the stream stores (`iot.>`). The producer's destinations must fall inside them. */
  readonly subjects: readonly string[];
  /** Window in which a repeated `Nats-Msg-Id` is recognised as a duplicate. Default 2 minutes. */
  readonly duplicateWindowMs?: number;
  /** Largest message the stream accepts, in bytes; larger ones are refused (and dead-lettered). */
  readonly maxMsgSize?: number;
  readonly maxAgeMs?: number;
  /** Default file storage. */
  readonly storage?: 'file' | 'memory';
}

export type JetStreamProducerOptions = NatsConnectionSource & {
  /** Created (or updated) on start. */
  readonly stream: JetStreamStream;
  /** How long to wait for the publish ack before treating JetStream as unavailable. Default 2000. */
  readonly publishTimeoutMs?: number;
};

const ms = (value: number) => value * 1_000_000; // JetStream durations are nanoseconds

/** Connects once (lazily) and keeps reconnecting; nats.js does the reconnects itself. */
function connectionOf(source: NatsConnectionSource): {
  get(): Promise<NatsConnection>;
  close(): Promise<void>;
} {
  if ('connection' in source) return { get: async () => source.connection, close: async () => {} };
  let pending: Promise<NatsConnection> | undefined;
  return {
    get() {
      pending ??= connect({
        servers: source.servers,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      }).catch((error: unknown) => {
        pending = undefined;
        throw unavailable('nats connect', error);
      });
      return pending;
    },
    async close() {
      const nc = await pending?.catch(() => undefined);
      pending = undefined;
      await nc?.close();
    },
  };
}

async function ensureStream(nc: NatsConnection, stream: JetStreamStream): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const config = {
    name: stream.name,
    subjects: [...stream.subjects],
    duplicate_window: ms(stream.duplicateWindowMs ?? 120_000),
    storage: stream.storage === 'memory' ? StorageType.Memory : StorageType.File,
    ...(stream.maxMsgSize === undefined ? {} : { max_msg_size: stream.maxMsgSize }),
    ...(stream.maxAgeMs === undefined ? {} : { max_age: ms(stream.maxAgeMs) }),
  };
  try {
    await jsm.streams.info(stream.name);
    await jsm.streams.update(stream.name, config);
  } catch (error) {
    if (!(error instanceof Error) || !/not found/i.test(error.message)) throw error;
    await jsm.streams.add(config);
  }
}

/**
 * Publishes to JetStream and resolves on the publish ack. The record's message id goes out as
 * `Nats-Msg-Id`, so a retry of a message JetStream already stored is reported as a duplicate
 * instead of being stored twice.
 */
export function createJetStreamProducer(options: JetStreamProducerOptions): Producer {
  const connection = connectionOf(options);
  let ready: Promise<NatsConnection> | undefined;
  const open = () => {
    ready ??= connection
      .get()
      .then(async (nc) => {
        await ensureStream(nc, options.stream);
        return nc;
      })
      .catch((error: unknown) => {
        ready = undefined;
        throw error instanceof JetStreamApiError ? error : unavailable('jetstream setup', error);
      });
    return ready;
  };
  return {
    name: 'nats',
    keySeparator: '.',
    async start() {
      await open();
    },
    async send(record: ProducerRecord) {
      const nc = await open();
      const h = natsHeaders();
      for (const [key, value] of Object.entries(record.headers)) h.set(key, value);
      h.set('Content-Type', record.contentType);
      h.set('mq-partition-key', record.partitionKey);
      try {
        const ack = await jetstream(nc).publish(record.destination, record.body, {
          msgID: record.messageId,
          headers: h,
          timeout: options.publishTimeoutMs ?? 2000,
        });
        return { duplicate: ack.duplicate };
      } catch (error) {
        // An API error is JetStream refusing this message (too large, limits); the rest is reachability.
        if (error instanceof JetStreamApiError)
          throw rejected(`jetstream publish to ${record.destination}`, error);
        throw unavailable(`jetstream publish to ${record.destination}`, error);
      }
    },
    close: () => connection.close(),
  };
}

export type JetStreamConsumerOptions = NatsConnectionSource & {
  /** The stream to read; created if `subjects` are given and it does not exist. */
  readonly stream: JetStreamStream;
  /** Durable consumer name: it keeps its position and pending acks across restarts. */
  readonly durable: string;
  readonly filterSubject?: string;
  /** Unacknowledged messages at once: the bound on in-flight commands. Default 32. */
  readonly maxAckPending?: number;
  /** Redelivery after this long without an ack. Default 30000. */
  readonly ackWaitMs?: number;
  /** Delay before redelivering a message whose handler rejected. Default 1000. */
  readonly nakDelayMs?: number;
  /** Header holding the subject a reply goes to. Default `Reply-To`. */
  readonly replyHeader?: string;
};

/**
 * A durable pull consumer with explicit acks: a message is acked when the handler resolved and
 * nak'ed (redelivered later) when it rejected. A `Reply-To` header makes it answerable.
 */
export function createJetStreamConsumer(options: JetStreamConsumerOptions): Consumer {
  const connection = connectionOf(options);
  const inFlight = new Set<Promise<void>>();
  let messages: ConsumerMessages | undefined;
  let loop: Promise<void> | undefined;
  return {
    name: 'nats',
    async start(handler: ConsumerHandler) {
      const nc = await connection.get();
      await ensureStream(nc, options.stream);
      const jsm = await jetstreamManager(nc);
      await jsm.consumers.add(options.stream.name, {
        durable_name: options.durable,
        ack_policy: AckPolicy.Explicit,
        max_ack_pending: options.maxAckPending ?? 32,
        ack_wait: ms(options.ackWaitMs ?? 30_000),
        ...(options.filterSubject === undefined ? {} : { filter_subject: options.filterSubject }),
      });
      const consumer = await jetstream(nc).consumers.get(options.stream.name, options.durable);
      messages = await consumer.consume({ max_messages: options.maxAckPending ?? 32 });
      const source = messages;
      loop = (async () => {
        for await (const m of source) {
          const work = handler(toConsumed(nc, m, options.replyHeader ?? 'Reply-To')).then(
            () => m.ack(),
            () => m.nak(options.nakDelayMs ?? 1000),
          );
          inFlight.add(work);
          void work.finally(() => inFlight.delete(work));
        }
      })();
    },
    async close() {
      await messages?.close();
      await loop;
      await Promise.all(inFlight);
      await connection.close();
    },
  };
}

function headerRecord(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const key of h.keys()) out[key] = h.get(key);
  return out;
}

function toConsumed(nc: NatsConnection, m: JsMsg, replyHeader: string): ConsumedMessage {
  const headers = headerRecord(m.headers);
  const replyTo = headers[replyHeader];
  const correlationId = headers['mq-correlation-id'] ?? headers['Correlation-Id'];
  return {
    body: m.data,
    headers,
    id: String(m.seq),
    source: m.subject,
    deliveryCount: m.info.deliveryCount,
    ...(correlationId === undefined ? {} : { correlationId }),
    ...(replyTo === undefined || replyTo === ''
      ? {}
      : {
          replyTo,
          async reply(body: Uint8Array, replyHeaders: Readonly<Record<string, string>>) {
            const h = natsHeaders();
            for (const [key, value] of Object.entries(replyHeaders)) h.set(key, value);
            nc.publish(replyTo, body, { headers: h });
            await nc.flush();
          },
        }),
  };
}
