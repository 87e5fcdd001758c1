import { type ChannelModel, type ConfirmChannel, connect, type Options } from 'amqplib';
import { unavailable } from '../errors.js';

export interface RabbitMqExchange {
  readonly name: string;
  /** Default `topic`. */
  readonly type?: 'topic' | 'direct' | 'fanout' | 'headers';
  /** Default true. */
  readonly durable?: boolean;
}

export interface RabbitMqQueue {
  readonly name: string;
  /** Default true. */
  readonly durable?: boolean;
  readonly autoDelete?: boolean;
  /** Queue arguments (`x-queue-type`, `x-max-length`, `x-dead-letter-exchange`, ...). */
  readonly arguments?: Readonly<Record<string, unknown>>;
  /** Binding keys on the configured exchange (`telemetry.#`). */
  readonly bindings?: readonly string[];
}

export interface RabbitMqTopology {
  readonly exchange?: RabbitMqExchange;
  readonly queues?: readonly RabbitMqQueue[];
}

/**
 * One connection and confirm channel, opened on first use and again after a loss; the topology
 * (exchange, queues, bindings) is declared on every open, so a restarted broker gets it back.
 */
export class RabbitSession {
  readonly #url: string | Options.Connect;
  readonly #topology: RabbitMqTopology;
  readonly #onOpen: ((channel: ConfirmChannel) => Promise<void>) | undefined;
  #opening: Promise<ConfirmChannel> | undefined;
  #model: ChannelModel | undefined;
  #closed = false;

  constructor(
    url: string | Options.Connect,
    topology: RabbitMqTopology,
    onOpen?: (channel: ConfirmChannel) => Promise<void>,
  ) {
    this.#url = url;
    this.#topology = topology;
    this.#onOpen = onOpen;
  }

  /** The open channel, opening one if needed; rejects with `MQ_DESTINATION_UNAVAILABLE`. */
  channel(): Promise<ConfirmChannel> {
    if (this.#closed) return Promise.reject(unavailable('rabbitmq', 'session closed'));
    this.#opening ??= this.#open().catch((error: unknown) => {
      this.#opening = undefined;
      throw unavailable('rabbitmq connect', error);
    });
    return this.#opening;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const model = this.#model;
    this.#model = undefined;
    this.#opening = undefined;
    if (model) await model.close().catch(() => {});
  }

  async #open(): Promise<ConfirmChannel> {
    const model = await connect(this.#url);
    const reset = () => {
      if (this.#model === model) {
        this.#model = undefined;
        this.#opening = undefined;
      }
    };
    model.on('close', reset);
    model.on('error', reset); // 'close' follows; the listener keeps the error from being thrown
    try {
      const channel = await model.createConfirmChannel();
      channel.on('close', () => {
        reset();
        void model.close().catch(() => {});
      });
      channel.on('error', () => {}); // a channel error closes it; 'close' above reopens on next use
      await declare(channel, this.#topology);
      await this.#onOpen?.(channel);
      this.#model = model;
      if (this.#closed) await model.close().catch(() => {});
      return channel;
    } catch (error) {
      await model.close().catch(() => {});
      throw error;
    }
  }
}

async function declare(channel: ConfirmChannel, topology: RabbitMqTopology): Promise<void> {
  const { exchange } = topology;
  if (exchange) {
    await channel.assertExchange(exchange.name, exchange.type ?? 'topic', {
      durable: exchange.durable ?? true,
    });
  }
  for (const queue of topology.queues ?? []) {
    await channel.assertQueue(queue.name, {
      durable: queue.durable ?? true,
      autoDelete: queue.autoDelete ?? false,
      ...(queue.arguments ? { arguments: { ...queue.arguments } } : {}),
    });
    for (const key of queue.bindings ?? []) {
      if (!exchange) throw new RangeError(`queue ${queue.name} has bindings but no exchange is configured`);
      await channel.bindQueue(queue.name, exchange.name, key);
    }
  }
}
