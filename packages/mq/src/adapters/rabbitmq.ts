import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { rejected, unavailable } from '../errors.js';
import { sleep } from '../retry.js';
import type { ConsumedMessage, Consumer, ConsumerHandler, Producer, ProducerRecord } from '../types.js';
import { type RabbitMqExchange, type RabbitMqQueue, RabbitSession } from './rabbitmq-session.js';

export type { RabbitMqExchange, RabbitMqQueue, RabbitMqTopology } from './rabbitmq-session.js';

export interface RabbitMqProducerOptions {
  /** `amqp://guest:guest@127.0.0.1:5672` or amqplib connect options. */
  readonly url: string | Options.Connect;
  /** Where records are published; the record's destination is the routing key. */
  readonly exchange: RabbitMqExchange;
  /** Queues to declare and bind, so messages have somewhere to go before any consumer exists. */
  readonly queues?: readonly RabbitMqQueue[];
  /** Persistent (delivery mode 2) messages. Default true. */
  readonly persistent?: boolean;
}

/**
 * Publishes on a confirm channel: `send` resolves on the broker's ack. Messages are `mandatory`,
 * so one no queue is bound for comes back as `MQ_DESTINATION_REJECTED` instead of vanishing.
 */
export function createRabbitMqProducer(options: RabbitMqProducerOptions): Producer {
  const returned = new Set<string>();
  const session = new RabbitSession(
    options.url,
    { exchange: options.exchange, queues: options.queues ?? [] },
    async (ch) => {
      ch.on('return', (message: ConsumeMessage) => {
        const id = message.properties.messageId as unknown;
        if (typeof id === 'string') returned.add(id);
      });
    },
  );
  return {
    name: 'rabbitmq',
    keySeparator: '.',
    async start() {
      await session.channel();
    },
    async send(record: ProducerRecord) {
      const channel = await session.channel();
      await new Promise<void>((resolve, reject) => {
        try {
          channel.publish(
            options.exchange.name,
            record.destination,
            Buffer.from(record.body),
            {
              persistent: options.persistent ?? true,
              mandatory: true,
              messageId: record.messageId,
              contentType: record.contentType,
              timestamp: Math.floor(Date.now() / 1000),
              headers: { ...record.headers, 'mq-partition-key': record.partitionKey },
            },
            (error) => {
              const wasReturned = returned.delete(record.messageId);
              if (error) {
                // amqplib says "message nacked" for a broker nack; anything else is a lost channel.
                const nacked = /nack/i.test(error instanceof Error ? error.message : String(error));
                reject(nacked ? rejected('rabbitmq nack', error) : unavailable('rabbitmq publish', error));
              } else if (wasReturned) {
                reject(rejected('rabbitmq', `no queue bound for routing key ${record.destination}`));
              } else resolve();
            },
          );
        } catch (error) {
          reject(unavailable('rabbitmq publish', error));
        }
      });
      return undefined;
    },
    close: () => session.close(),
  };
}

export interface RabbitMqConsumerOptions {
  readonly url: string | Options.Connect;
  /** The queue to consume; declared (and bound to `exchange` with its bindings) on connect. */
  readonly queue: RabbitMqQueue;
  readonly exchange?: RabbitMqExchange;
  /** Unacknowledged messages at once: the bound on in-flight commands. Default 32. */
  readonly prefetch?: number;
  /** Wait between reconnect attempts after the connection was lost. Default 500. */
  readonly reconnectDelayMs?: number;
}

/**
 * Consumes a queue with manual acks: a message is acked when the handler resolved (the device's
 * broker accepted the command) and requeued when it rejected. A message with `replyTo` gets a
 * `reply()` that publishes to that queue with the same `correlationId`.
 */
export function createRabbitMqConsumer(options: RabbitMqConsumerOptions): Consumer {
  const inFlight = new Set<Promise<void>>();
  const abort = new AbortController();
  let handler: ConsumerHandler | undefined;
  let consumerTag: string | undefined;
  let current: ConfirmChannel | undefined;
  let session: RabbitSession | undefined;

  const onMessage = (channel: ConfirmChannel, message: ConsumeMessage | null) => {
    if (message === null) return void reconnect(); // cancelled by the broker (queue deleted)
    const work = handler!(toConsumed(channel, message, options.queue.name)).then(
      () => channel.ack(message),
      () => channel.nack(message, false, true),
    );
    const tracked = work.catch(() => {
      // The channel closed before the ack: the broker redelivers the message.
    });
    inFlight.add(tracked);
    void tracked.finally(() => inFlight.delete(tracked));
  };

  const open = async (): Promise<void> => {
    session = new RabbitSession(
      options.url,
      { ...(options.exchange ? { exchange: options.exchange } : {}), queues: [options.queue] },
      async (channel) => {
        await channel.prefetch(options.prefetch ?? 32);
        channel.on('close', () => void reconnect());
        const reply = await channel.consume(options.queue.name, (m) => onMessage(channel, m), {
          noAck: false,
        });
        consumerTag = reply.consumerTag;
        current = channel;
      },
    );
    await session.channel();
  };

  let reconnecting = false;
  const reconnect = async (): Promise<void> => {
    if (reconnecting || abort.signal.aborted) return;
    reconnecting = true;
    current = undefined;
    await session?.close();
    while (!abort.signal.aborted) {
      try {
        await sleep(options.reconnectDelayMs ?? 500, abort.signal);
        await open();
        break;
      } catch {
        // Still down (or closing): try again after the delay.
      }
    }
    reconnecting = false;
  };

  return {
    name: 'rabbitmq',
    async start(h) {
      handler = h;
      await open();
    },
    async close() {
      abort.abort();
      if (current && consumerTag) await current.cancel(consumerTag).catch(() => {});
      await Promise.all(inFlight);
      await session?.close();
    },
  };
}

function toConsumed(channel: ConfirmChannel, message: ConsumeMessage, queue: string): ConsumedMessage {
  const { properties, fields } = message;
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(properties.headers ?? {})) {
    if (typeof value === 'string') headers[key] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') headers[key] = String(value);
  }
  const replyTo =
    typeof properties.replyTo === 'string' && properties.replyTo !== '' ? properties.replyTo : undefined;
  const correlationId = typeof properties.correlationId === 'string' ? properties.correlationId : undefined;
  const messageId =
    typeof properties.messageId === 'string' ? properties.messageId : String(fields.deliveryTag);
  return {
    body: message.content,
    headers,
    id: messageId,
    source: queue,
    deliveryCount: fields.redelivered ? 2 : 1,
    ...(correlationId === undefined ? {} : { correlationId }),
    ...(replyTo === undefined
      ? {}
      : {
          replyTo,
          reply: (body: Uint8Array, replyHeaders: Readonly<Record<string, string>>) =>
            new Promise<void>((resolve, reject) => {
              channel.publish(
                '',
                replyTo,
                Buffer.from(body),
                {
                  ...(correlationId === undefined ? {} : { correlationId }),
                  headers: { ...replyHeaders },
                },
                (error) => (error ? reject(unavailable('rabbitmq reply', error)) : resolve()),
              );
            }),
        }),
  };
}
