import { DownlinkPipeline, type DownlinkRule } from './downlink.js';
import { MqError } from './errors.js';
import type { MetricsSnapshot } from './metrics.js';
import {
  type DeviceResponse,
  type RequestOptions,
  RequestReply,
  type RequestReplyOptions,
} from './request-reply.js';
import { isUnavailable } from './retry.js';
import type { TemplateVars } from './template.js';
import { type BrokerLink, type Consumer, type Logger, type Producer, silentLogger } from './types.js';
import { errorMessage, UplinkPipeline, type UplinkRule } from './uplink.js';

export interface BridgeOptions {
  readonly link: BrokerLink;
  readonly uplinks?: readonly UplinkRule[];
  readonly downlinks?: readonly DownlinkRule[];
  /**
   * Command and response templates for `request()` and for answering queue messages that carry a
   * reply-to. The bridge subscribes to the response filter. Default: the standard templates;
   * `false` turns request/response off.
   */
  readonly requestReply?: RequestReplyOptions | false;
  readonly logger?: Logger;
  /** Called with a snapshot every `metricsIntervalMs` (default 10000) while the bridge runs. */
  readonly onMetrics?: (snapshot: MetricsSnapshot) => void;
  readonly metricsIntervalMs?: number;
  /** How long `close()` waits for in-flight messages by default. Default 10000. */
  readonly drainTimeoutMs?: number;
}

/** What `close()` achieved. */
export interface CloseResult {
  /** Every accepted message finished (confirmed or dead-lettered) before the timeout. */
  readonly drained: boolean;
  /** Messages handed back unacknowledged at the timeout; their sources redeliver them. */
  readonly abandoned: number;
}

/**
 * Runs uplink rules (MQTT to destinations) and downlink rules (queues to devices) over one
 * BrokerLink, with request/response to devices. Delivery is at least once.
 */
export class Bridge {
  readonly #options: BridgeOptions;
  readonly #logger: Logger;
  readonly #abort = new AbortController();
  readonly #uplinks: UplinkPipeline[];
  readonly #downlinks: DownlinkPipeline[];
  readonly #requests: RequestReply | undefined;
  readonly #saturated = new Set<string>();
  readonly #replies = new Set<Promise<void>>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #state: 'new' | 'running' | 'closing' | 'closed' = 'new';

  constructor(options: BridgeOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    const context = {
      logger: this.#logger,
      signal: this.#abort.signal,
      onPressure: (rule: string, saturated: boolean) => this.#pressure(rule, saturated),
    };
    this.#requests =
      options.requestReply === false ? undefined : new RequestReply(options.link, options.requestReply ?? {});
    this.#uplinks = (options.uplinks ?? []).map((rule) => new UplinkPipeline(rule, context));
    this.#downlinks = (options.downlinks ?? []).map(
      (rule) =>
        new DownlinkPipeline(rule, {
          ...context,
          link: options.link,
          requests: this.#requests,
          track: (work) => {
            this.#replies.add(work);
            void work.finally(() => this.#replies.delete(work));
          },
        }),
    );
    const names = [...this.#uplinks, ...this.#downlinks].map((p) => p.rule.name);
    const duplicate = names.find((name, index) => names.indexOf(name) !== index);
    if (duplicate !== undefined) throw new RangeError(`two rules are named ${duplicate}`);
  }

  /** Subscribes every uplink filter (and the response filter), then starts every consumer. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new MqError('MQ_CLOSED', `bridge cannot start: it is ${this.#state}`);
    this.#state = 'running';
    const { link } = this.#options;
    if (this.#requests) {
      const requests = this.#requests;
      await link.subscribe(requests.responseTemplate.filter, { qos: requests.qos }, async (message) => {
        requests.handleResponse(message);
      });
    }
    for (const producer of new Set(this.#uplinks.map((p) => p.rule.producer))) {
      try {
        await producer.start?.();
      } catch (error) {
        if (!isUnavailable(error)) throw error;
        this.#logger.warn(
          { producer: producer.name, err: errorMessage(error) },
          'destination not reachable yet',
        );
      }
    }
    for (const uplink of this.#uplinks) {
      await link.subscribe(uplink.filter, { qos: uplink.rule.qos ?? 1 }, uplink.handle);
    }
    for (const downlink of this.#downlinks) await downlink.rule.consumer.start(downlink.handle);
    if (this.#options.onMetrics) {
      const onMetrics = this.#options.onMetrics;
      this.#timer = setInterval(() => onMetrics(this.metrics()), this.#options.metricsIntervalMs ?? 10_000);
      this.#timer.unref();
    }
    this.#logger.info({ uplinks: this.#uplinks.length, downlinks: this.#downlinks.length }, 'bridge started');
  }

  /**
   * Publishes a command to the device named by `vars` and resolves with its response, matched by
   * correlation id; rejects with `MQ_REQUEST_TIMEOUT` when none comes in time.
   */
  async request(
    vars: TemplateVars,
    payload: Uint8Array,
    options: RequestOptions = {},
  ): Promise<DeviceResponse> {
    if (this.#state !== 'running') throw new MqError('MQ_CLOSED', `bridge is ${this.#state}, not running`);
    if (!this.#requests)
      throw new MqError('MQ_CLOSED', 'request/response is turned off (requestReply: false)');
    const pending = this.#requests.send(vars, payload, options);
    pending.response.catch(() => {}); // the awaits below observe it
    await pending.published;
    return pending.response;
  }

  /** Counters, queue depth and latency for every rule. */
  metrics(): MetricsSnapshot {
    return {
      at: new Date().toISOString(),
      rules: [...this.#uplinks.map((p) => p.snapshot()), ...this.#downlinks.map((p) => p.snapshot())],
    };
  }

  /**
   * Stops taking messages and waits up to `timeoutMs` for in-flight ones. Past the timeout,
   * retries stop and their messages go back unacknowledged. Closes every producer and consumer
   * the rules use (each once).
   */
  async close(options: { timeoutMs?: number } = {}): Promise<CloseResult> {
    if (this.#state === 'closed' || this.#state === 'closing') return { drained: true, abandoned: 0 };
    const wasRunning = this.#state === 'running';
    this.#state = 'closing';
    clearInterval(this.#timer);
    const { link } = this.#options;
    if (wasRunning) {
      for (const uplink of this.#uplinks) await settle(link.unsubscribe(uplink.filter), this.#logger);
    }
    const consumers = new Set<Consumer>(this.#downlinks.map((p) => p.rule.consumer));
    const stopping = [...consumers].map((consumer) => settle(consumer.close(), this.#logger));
    const drained = await waitWithTimeout(
      Promise.all([
        ...this.#uplinks.map((p) => p.lanes.onIdle()),
        ...this.#downlinks.map((p) => p.lanes.onIdle()),
        ...this.#replies,
      ]),
      options.timeoutMs ?? this.#options.drainTimeoutMs ?? 10_000,
    );
    const pipelines = [...this.#uplinks, ...this.#downlinks];
    const abandoned = drained ? 0 : pipelines.reduce((n, p) => n + p.lanes.inFlight + p.lanes.waiting, 0);
    this.#abort.abort();
    this.#requests?.rejectAll(new MqError('MQ_CLOSED', 'bridge closed before the device responded'));
    if (this.#requests && wasRunning) {
      await settle(link.unsubscribe(this.#requests.responseTemplate.filter), this.#logger);
    }
    await Promise.all(stopping);
    await Promise.all(pipelines.map((p) => p.lanes.onIdle()));
    const producers = new Set<Producer>(this.#uplinks.map((p) => p.rule.producer));
    for (const producer of producers) await settle(producer.close(), this.#logger);
    this.#state = 'closed';
    this.#logger.info({ drained, abandoned }, 'bridge closed');
    return { drained, abandoned };
  }

  #pressure(rule: string, saturated: boolean): void {
    const wasPaused = this.#saturated.size > 0;
    if (saturated) this.#saturated.add(rule);
    else this.#saturated.delete(rule);
    const paused = this.#saturated.size > 0;
    if (paused && !wasPaused) {
      this.#logger.warn({ rule }, 'rule at its bound; pausing publishers');
      this.#options.link.pause?.();
    } else if (!paused && wasPaused) {
      this.#logger.info({ rule }, 'rules below their low-water mark; resuming publishers');
      this.#options.link.resume?.();
    }
  }
}

async function settle(work: Promise<void>, logger: Logger): Promise<void> {
  try {
    await work;
  } catch (error) {
    logger.warn({ err: errorMessage(error) }, 'ignoring error while closing');
  }
}

async function waitWithTimeout(work: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([work.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
