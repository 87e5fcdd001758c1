import {
  Bridge,
  compileTemplate,
  type DownlinkRule,
  isMqError,
  jsonCodec,
  type Producer,
  producerDeadLetters,
  type RuleMetricsSnapshot,
  rawCodec,
  type UplinkRule,
} from '@mqtt-adapt/mq';
import type { Broker, BrokerHooks } from '@mqtt-adapt/router';
import type { Logger } from 'pino';
import { BrokerAppError } from '../errors.js';
import { redactSecrets } from '../redact.js';
import type { BridgeConfig, BridgeType } from './bridge-config.js';
import { type BridgeEngine, createEngine } from './bridge-engines.js';
import { PublishConfirmations } from './publish-confirmations.js';
import { RouterLink, type UplinkRoute } from './router-link.js';
import { resilientConsumer, type StateListener, watchedProducer } from './watched-engine.js';

export type BridgeState = 'connecting' | 'connected' | 'disconnected';

/** One bridge now, for `/metrics` and `$SYS`. */
export interface BridgeStatus {
  readonly name: string;
  readonly type: BridgeType;
  /** Whether its engine answered last time the bridge used it. */
  readonly state: BridgeState;
  readonly rules: readonly RuleMetricsSnapshot[];
}

interface Running {
  readonly config: BridgeConfig;
  readonly bridge: Bridge;
  readonly link: RouterLink;
  readonly engine: BridgeEngine;
  /** A producer only dead letters use: the Bridge does not close it. */
  readonly extraProducer: Producer | undefined;
  state: BridgeState;
}

/**
 * The configured bridges of one broker: `hooks()` before the router is created (the
 * `after-confirm` hook and the bridges' access), `start()` after the store opened and before
 * any listener is bound (so the bridges' persistent sessions exist before devices publish),
 * `close()` before the broker closes (so in-flight messages are confirmed or left in the store).
 */
export class BridgeRuntime {
  readonly #configs: readonly BridgeConfig[];
  readonly #log: Logger;
  readonly #confirmations: PublishConfirmations | undefined;
  readonly #running: Running[] = [];

  constructor(configs: readonly BridgeConfig[], log: Logger) {
    this.#configs = configs;
    this.#log = log;
    const afterConfirm = configs.some((b) => b.uplinks.some((u) => u.ack === 'after-confirm'));
    this.#confirmations = afterConfirm ? new PublishConfirmations() : undefined;
  }

  get isEmpty(): boolean {
    return this.#configs.length === 0;
  }

  /** The router's `beforePublishAck`, when some rule acknowledges after confirm. */
  get beforePublishAck(): BrokerHooks['beforePublishAck'] {
    return this.#confirmations?.hook;
  }

  async start(broker: Broker): Promise<void> {
    for (const config of this.#configs) await this.#startOne(broker, config);
  }

  status(): BridgeStatus[] {
    return this.#running.map((r) => ({
      name: r.config.name,
      type: r.config.type,
      state: r.state,
      rules: r.bridge.metrics().rules,
    }));
  }

  /** Stops every bridge: waits up to `timeoutMs` for messages in flight, then disconnects its sessions. */
  async close(timeoutMs: number): Promise<void> {
    await Promise.all(
      this.#running.splice(0).map(async (r) => {
        const log = this.#log.child({ bridge: r.config.name });
        try {
          const { drained, abandoned } = await r.bridge.close({ timeoutMs });
          if (!drained)
            log.warn(
              { abandoned },
              'bridge closed with messages unconfirmed; they are sent again after the restart',
            );
        } catch (error) {
          log.warn({ err: error }, 'closing the bridge failed');
        }
        await r.link.close();
        await r.extraProducer?.close().catch(() => {});
        await r.engine.close().catch(() => {});
      }),
    );
  }

  async #startOne(broker: Broker, config: BridgeConfig): Promise<void> {
    const log = this.#log.child({ bridge: config.name, bridgeType: config.type });
    const running = { state: 'connecting' as BridgeState };
    const onState: StateListener = (connected, detail) => {
      const next: BridgeState = connected ? 'connected' : 'disconnected';
      if (running.state === next) return;
      running.state = next;
      if (connected) log.info(detail, 'bridge connected');
      else log.warn(detail, 'bridge disconnected; retrying');
    };
    const engine = await createEngine(config);
    const producer = engine.producer && watchedProducer(engine.producer, onState);
    const uplinks = new Map<string, UplinkRoute>();
    for (const u of config.uplinks) {
      const filter = u.filter ?? compileTemplate(u.template!).filter;
      uplinks.set(
        filter,
        u.ack === 'store'
          ? { ack: 'store', rule: u.name, receiveMaximum: u.maxInFlight }
          : { ack: 'after-confirm' },
      );
    }
    const link = new RouterLink({
      broker,
      bridge: config.name,
      uplinks,
      confirmations: this.#confirmations,
      logger: log,
    });
    const bridge = new Bridge({
      link,
      uplinks: config.uplinks.map(
        (u): UplinkRule => ({
          name: u.name,
          ...(u.template === undefined ? { filter: u.filter! } : { template: u.template }),
          ...(u.kind === undefined ? {} : { kind: u.kind }),
          qos: u.qos,
          producer: producer!,
          destination: u.destination ?? ((message) => message.topic),
          codec: u.codec === 'raw' ? rawCodec() : jsonCodec(),
          retry: u.retry,
          maxInFlight: u.maxInFlight,
          concurrency: u.concurrency,
          ...(u.deadLetter === undefined ? {} : { deadLetter: producerDeadLetters(producer!, u.deadLetter) }),
        }),
      ),
      downlinks: config.downlinks.map(
        (d): DownlinkRule => ({
          name: d.name,
          consumer: resilientConsumer(engine.consumers.get(d.name)!, onState, log),
          ...(d.template === undefined ? {} : { template: d.template }),
          qos: d.qos,
          retain: d.retain,
          codec: d.codec === 'raw' ? rawCodec() : jsonCodec(),
          retry: d.retry,
          maxInFlight: d.maxInFlight,
          concurrency: d.concurrency,
          ...(d.deadLetter === undefined ? {} : { deadLetter: producerDeadLetters(producer!, d.deadLetter) }),
          ...(d.responseTimeoutMs === undefined ? {} : { responseTimeoutMs: d.responseTimeoutMs }),
        }),
      ),
      requestReply: config.requestReply,
      logger: log,
    });
    const extraProducer = config.uplinks.length === 0 ? producer : undefined;
    try {
      await extraProducer?.start?.().catch((error: unknown) => {
        if (!(isMqError(error) && error.code === 'MQ_DESTINATION_UNAVAILABLE')) throw error;
      });
      await bridge.start();
    } catch (error) {
      await bridge.close({ timeoutMs: 0 }).catch(() => {});
      await link.close();
      await engine.close().catch(() => {});
      throw new BrokerAppError(
        'BROKER_BRIDGE_FAILED',
        `bridge ${config.name} (${config.type}) cannot start: ${String(redactSecrets((error as Error).message ?? error))}`,
        { cause: error },
      );
    }
    this.#running.push(Object.assign(running, { config, bridge, link, engine, extraProducer }));
    log.info(
      {
        url: redactSecrets(config.url),
        uplinks: config.uplinks.map((u) => `${u.name} (${u.ack})`),
        downlinks: config.downlinks.map((d) => d.name),
      },
      'bridge running',
    );
  }
}
