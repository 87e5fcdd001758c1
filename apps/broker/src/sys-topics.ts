import {
  type Clock,
  type Logger,
  type PublishInput,
  systemClock,
  type TimerHandle,
} from '@mqtt-adapt/router';
import type { BridgeStatus } from './bridges/bridge-runtime.js';
import type { Figures } from './broker-figures.js';
import type { ClusterStatus } from './cluster/cluster-status.js';

/**
 * The `$SYS/broker/...` topics, in Mosquitto's layout (its `src/sys_tree.c`): published retained
 * through `broker.publish` when started and then every `intervalSeconds`; like Mosquitto, a
 * topic is published again only when its text changed (uptime always does), so an idle broker
 * writes one retained message per interval. QoS 0: these are samples, worth nothing once stale,
 * and queueing them for offline persistent sessions would only fill their queues.
 */
export const SYS_TOPICS = {
  version: '$SYS/broker/version',
  uptime: '$SYS/broker/uptime',
  clientsConnected: '$SYS/broker/clients/connected',
  clientsDisconnected: '$SYS/broker/clients/disconnected',
  clientsTotal: '$SYS/broker/clients/total',
  clientsMaximum: '$SYS/broker/clients/maximum',
  messagesReceived: '$SYS/broker/messages/received',
  messagesSent: '$SYS/broker/messages/sent',
  publishReceived: '$SYS/broker/publish/messages/received',
  publishSent: '$SYS/broker/publish/messages/sent',
  publishDropped: '$SYS/broker/publish/messages/dropped',
  bytesReceived: '$SYS/broker/bytes/received',
  bytesSent: '$SYS/broker/bytes/sent',
  subscriptions: '$SYS/broker/subscriptions/count',
  // Mosquitto's name, space included.
  retainedMessages: '$SYS/broker/retained messages/count',
} as const;

/** Counters with load averages: `$SYS/broker/load/<name>/{1min,5min,15min}`. */
const LOADS = [
  ['messages/received', 'messagesReceived'],
  ['messages/sent', 'messagesSent'],
  ['publish/dropped', 'messagesDropped'],
  ['bytes/received', 'bytesReceived'],
  ['bytes/sent', 'bytesSent'],
  ['connections', 'clientConnects'],
] as const satisfies ReadonlyArray<readonly [string, keyof Figures]>;

/** The windows of the load averages, in seconds. */
const LOAD_WINDOWS = [
  ['1min', 60],
  ['5min', 300],
  ['15min', 900],
] as const;

/**
 * One load average, as Mosquitto's `calc_load`: an exponentially weighted moving average of a
 * counter's rate per minute. Each update takes the rate over the `dtSeconds` since the last one,
 * `rate = delta * 60 / dtSeconds`, and moves the average towards it with the decay of the
 * window: `load = rate + exp(-dtSeconds / windowSeconds) * (load - rate)`. The same sum as the
 * Unix load average; a constant rate `r` is approached as `r * (1 - exp(-t / window))`.
 */
export function nextLoad(load: number, delta: number, dtSeconds: number, windowSeconds: number): number {
  const rate = (delta * 60) / dtSeconds;
  return rate + Math.exp(-dtSeconds / windowSeconds) * (load - rate);
}

export interface SysTopicsOptions {
  /** Seconds between updates; must be > 0 (0, "off", means not starting this at all). */
  readonly intervalSeconds: number;
  /** Published once, as `mqtt-adapt version <version>`. */
  readonly version: string;
  /** Read at every update. */
  readonly figures: () => Figures;
  /** Called after each message published here (see `BrokerFigures.countOwnPublish`). */
  readonly onPublish?: () => void;
  /** Default: the system clock. Tests pass `FakeClock` from `@mqtt-adapt/router/testing`. */
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** The bridges: `$SYS/broker/connection/<bridge>/state` and `$SYS/broker/bridges/<bridge>/<rule>/...`. */
  readonly bridges?: () => readonly BridgeStatus[];
  /** Cluster mode: `$SYS/broker/cluster/...` (this node's id and counters, the cluster's nodes and clients). */
  readonly cluster?: () => ClusterStatus;
}

export interface SysTopics {
  /** Publishes the figures now (the timer keeps its schedule). For tests and diagnostics. */
  update(): void;
  /** Stops the timer; the retained messages stay. Idempotent. */
  stop(): void;
}

/** Publishes the `$SYS` topics now and every `intervalSeconds` until `stop()`. */
export function startSysTopics(
  broker: { publish(input: PublishInput): void },
  options: SysTopicsOptions,
): SysTopics {
  const clock = options.clock ?? systemClock;
  const intervalMs = options.intervalSeconds * 1000;
  const startedAt = clock.now();
  const published = new Map<string, string>();
  const loads = new Map<string, number>();
  let previous = options.figures();
  let previousAt = startedAt;
  let timer: TimerHandle | undefined;
  let stopped = false;
  let failed = false;

  const publish = (topicName: string, text: string): void => {
    if (published.get(topicName) === text) return;
    try {
      broker.publish({ topicName, payload: text, qos: 0, retain: true });
      options.onPublish?.();
      published.set(topicName, text);
    } catch (error) {
      // A closed store, say: log once, try again next interval.
      if (!failed) options.logger?.warn({ err: error, topicName }, 'publishing a $SYS topic failed');
      failed = true;
    }
  };

  const update = (): void => {
    const now = clock.now();
    const figures = options.figures();
    publish(SYS_TOPICS.uptime, `${Math.floor((now - startedAt) / 1000)} seconds`);
    publish(SYS_TOPICS.clientsConnected, String(figures.clientsConnected));
    publish(SYS_TOPICS.clientsDisconnected, String(figures.clientsDisconnected));
    publish(SYS_TOPICS.clientsTotal, String(figures.clientsTotal));
    publish(SYS_TOPICS.clientsMaximum, String(figures.clientsMaximum));
    publish(SYS_TOPICS.messagesReceived, String(figures.messagesReceived));
    publish(SYS_TOPICS.messagesSent, String(figures.messagesSent));
    publish(SYS_TOPICS.publishReceived, String(figures.messagesReceived));
    publish(SYS_TOPICS.publishSent, String(figures.messagesSent));
    publish(SYS_TOPICS.publishDropped, String(figures.messagesDropped));
    publish(SYS_TOPICS.bytesReceived, String(figures.bytesReceived));
    publish(SYS_TOPICS.bytesSent, String(figures.bytesSent));
    publish(SYS_TOPICS.subscriptions, String(figures.subscriptions));
    publish(SYS_TOPICS.retainedMessages, String(figures.retainedMessages));
    const dtSeconds = (now - previousAt) / 1000;
    for (const [name, key] of LOADS) {
      for (const [suffix, windowSeconds] of LOAD_WINDOWS) {
        const topicName = `$SYS/broker/load/${name}/${suffix}`;
        let load = loads.get(topicName) ?? 0;
        // The first update (and one in the same millisecond) has no interval: loads start at 0.
        if (dtSeconds > 0) load = nextLoad(load, figures[key] - previous[key], dtSeconds, windowSeconds);
        loads.set(topicName, load);
        publish(topicName, load.toFixed(2));
      }
    }
    previous = figures;
    previousAt = now;
    if (options.bridges !== undefined) publishBridges(options.bridges(), publish);
    if (options.cluster !== undefined) publishCluster(options.cluster(), publish);
  };

  const tick = (): void => {
    timer = undefined;
    if (stopped) return;
    update();
    timer = clock.setTimeout(tick, intervalMs);
  };

  publish(SYS_TOPICS.version, `mqtt-adapt version ${options.version}`);
  update();
  timer = clock.setTimeout(tick, intervalMs);
  return {
    update,
    stop: () => {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * Mosquitto's bridge state topic (`$SYS/broker/connection/<name>/state`, 1 connected, 0 not) and
 * per rule `$SYS/broker/bridges/<bridge>/<rule>/{forwarded,failed,retried,dead-lettered,queue-depth}`.
 */
function publishBridges(
  bridges: readonly BridgeStatus[],
  publish: (topicName: string, text: string) => void,
): void {
  for (const bridge of bridges) {
    publish(`$SYS/broker/connection/${bridge.name}/state`, bridge.state === 'connected' ? '1' : '0');
    for (const rule of bridge.rules) {
      const base = `$SYS/broker/bridges/${bridge.name}/${rule.rule}`;
      publish(`${base}/forwarded`, String(rule.forwarded));
      publish(`${base}/failed`, String(rule.failed));
      publish(`${base}/retried`, String(rule.retried));
      publish(`${base}/dead-lettered`, String(rule.deadLettered));
      publish(`${base}/queue-depth`, String(rule.queueDepth));
    }
  }
}

/**
 * Cluster mode, under `$SYS/broker/cluster/`: `node-id`, `nodes/alive`, `nodes/dead`, `clients`
 * (connected to the live nodes, from the membership table), and this node's `bus/sent`,
 * `bus/received`, `bus/confirmed`, `bus/resent`, `bus/pending`, `sessions/adopted`,
 * `sessions/dropped`. `$SYS` never crosses nodes: each node publishes its own.
 */
function publishCluster(status: ClusterStatus, publish: (topicName: string, text: string) => void): void {
  const base = '$SYS/broker/cluster';
  publish(`${base}/node-id`, status.nodeId);
  publish(`${base}/nodes/alive`, String(status.nodesAlive));
  publish(`${base}/nodes/dead`, String(status.nodesDead));
  publish(`${base}/clients`, String(status.clusterClients));
  publish(`${base}/bus/sent`, String(status.busSent));
  publish(`${base}/bus/received`, String(status.busReceived));
  publish(`${base}/bus/confirmed`, String(status.confirmed));
  publish(`${base}/bus/resent`, String(status.batchesResent));
  publish(`${base}/bus/pending`, String(status.batchesPending));
  publish(`${base}/sessions/adopted`, String(status.sessionsAdopted));
  publish(`${base}/sessions/dropped`, String(status.sessionsDropped));
}
