import type { Broker, LimitHits, Store } from '@mqtt-adapt/router';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { observeBridges } from './bridges/bridge-metrics.js';
import type { BridgeStatus } from './bridges/bridge-runtime.js';
import type { BrokerFigures, Figures } from './broker-figures.js';
import type { ListenerAddress } from './tcp-listener.js';

/** A bound MQTT listener as the metrics see it (`RunningListener` of any listener kind). */
export interface MeasuredListener {
  readonly address: ListenerAddress;
  /** Open sockets of this listener now. */
  readonly connectionCount: number;
}

const PREFIX = 'mqtt_adapt_';

/** Flush latency buckets, seconds: a group commit takes well under 1 ms to a few seconds (fsync, network). */
const FLUSH_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The broker's Prometheus metrics, in a registry of their own (never prom-client's global one,
 * so that two brokers in one process, or an embedder's metrics, do not collide). Every figure
 * is read when scraped; nothing is counted on the message path.
 */
export class BrokerMetrics {
  readonly registry = new Registry();

  constructor() {
    // process_* and nodejs_* (event-loop lag, heap, GC, handles), unprefixed as everywhere.
    collectDefaultMetrics({ register: this.registry });
  }

  /** `text/plain; version=0.0.4; charset=utf-8` */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * Times the store's group commits: every distinct promise `store.flush()` returns (a batch's
   * waiters share one) is observed once, from the first call that returned it until it
   * settles. Done by replacing `flush` on this store object: the stores stay unaware of metrics.
   * Only for durable stores: the memory store's `flush()` commits nothing and returns nothing.
   */
  instrumentStore(store: Store): void {
    if (!store.durable) return;
    const labels = { store: store.name };
    const duration = new Histogram({
      name: `${PREFIX}store_flush_duration_seconds`,
      help: 'Time from the first wait on a store commit (group commit of one event-loop turn) until it settled',
      labelNames: ['store'],
      buckets: FLUSH_BUCKETS,
      registers: [this.registry],
    });
    const failures = new Counter({
      name: `${PREFIX}store_flush_failures_total`,
      help: 'Store commits that failed (their acknowledgements were never sent)',
      labelNames: ['store'],
      registers: [this.registry],
    });
    const flush = store.flush.bind(store);
    let last: Promise<void> | undefined;
    store.flush = () => {
      const pending = flush();
      if (pending === undefined || pending === last) return pending;
      last = pending;
      const stopTimer = duration.startTimer(labels);
      // A branch of its own: the router still gets (and handles) the original promise.
      pending.then(
        () => stopTimer(),
        () => {
          stopTimer();
          failures.inc(labels);
        },
      );
      return pending;
    };
  }

  /** `mqtt_adapt_auth_failures_total`: logins the store's users refused, read at every scrape. */
  observeLoginFailures(value: () => number): void {
    let reported = 0;
    new Counter({
      name: `${PREFIX}auth_failures_total`,
      help: 'Logins refused: wrong password, unknown user, or anonymous while not allowed',
      registers: [this.registry],
      collect() {
        const current = value();
        if (current > reported) this.inc(current - reported);
        reported = Math.max(reported, current);
      },
    });
  }

  /** Registers the broker's figures and the listeners' connections, read at every scrape. */
  observeBroker(broker: Broker, figures: BrokerFigures, listeners: readonly MeasuredListener[]): void {
    // A scrape reads the figures once per metric: a few small objects, no work on the message path.
    const read = (): Figures => figures.read();
    const gauge = (name: string, help: string, value: () => number): void => {
      new Gauge({
        name: `${PREFIX}${name}`,
        help,
        registers: [this.registry],
        collect() {
          this.set(value());
        },
      });
    };
    const counter = (name: string, help: string, value: () => number): void => {
      let reported = 0;
      new Counter({
        name: `${PREFIX}${name}_total`,
        help,
        registers: [this.registry],
        collect() {
          const current = value();
          if (current > reported) this.inc(current - reported);
          reported = Math.max(reported, current);
        },
      });
    };
    gauge('clients_connected', 'Clients connected now (CONNACK sent)', () => read().clientsConnected);
    gauge(
      'clients_disconnected',
      'Persistent sessions whose client is not connected',
      () => read().clientsDisconnected,
    );
    gauge(
      'clients_total',
      'Sessions: connected clients plus disconnected persistent sessions',
      () => read().clientsTotal,
    );
    gauge('clients_maximum', 'Most clients connected at once since start', () => read().clientsMaximum);
    counter(
      'client_connects',
      'Successful CONNECTs (reconnects and takeovers included)',
      () => read().clientConnects,
    );
    counter(
      'messages_received',
      'PUBLISH messages received from clients, wills and the application ($SYS excluded)',
      () => read().messagesReceived,
    );
    counter('messages_sent', 'PUBLISH packets written to clients', () => read().messagesSent);
    counter(
      'messages_dropped',
      'Deliveries dropped: QoS 0 to slow consumers, offline queues past their limit, refused publishes',
      () => read().messagesDropped,
    );
    counter('bytes_received', 'Bytes read from clients', () => read().bytesReceived);
    counter('bytes_sent', 'Bytes written to clients', () => read().bytesSent);
    gauge('subscriptions', 'Subscriptions of all sessions', () => read().subscriptions);
    gauge('retained_messages', 'Retained messages ($SYS included)', () => read().retainedMessages);
    gauge('connections', 'Open MQTT connections, CONNECT pending included', () => broker.stats.connections);
    gauge('queued_bytes', 'Bytes of messages queued for online sessions', () => broker.stats.queuedBytes);
    gauge(
      'partial_packet_bytes',
      'Bytes held for packets still arriving, all connections',
      () => broker.stats.partialPacketBytes,
    );
    counter(
      'publisher_pauses',
      'Publishers paused because a queue or the queued-bytes budget was full',
      () => broker.stats.publisherPauses,
    );
    counter(
      'stalled_subscriber_disconnects',
      'Subscribers disconnected for holding publishers back while acknowledging nothing',
      () => broker.stats.stalledSubscriberDisconnects,
    );
    counter(
      'internal_errors',
      'Connections closed because an exception escaped while serving them',
      () => broker.stats.internalErrors,
    );
    gauge(
      'retained_bytes',
      'Sum of the payload bytes of the retained messages',
      () => broker.stats.retainedBytes,
    );
    observeLimitHits(this.registry, broker);
    new Gauge({
      name: `${PREFIX}listener_connections`,
      help: 'Open sockets per MQTT listener',
      labelNames: ['listener', 'address'],
      registers: [this.registry],
      collect() {
        for (const { address, connectionCount } of listeners) {
          this.set({ listener: address.listener, address: formatAddress(address) }, connectionCount);
        }
      },
    });
  }

  /** `mqtt_adapt_bridge_*`: per-rule counters, queue depth and latency of the configured bridges. */
  observeBridges(status: () => BridgeStatus[]): void {
    observeBridges(this.registry, status);
  }

  /** `mqtt_adapt_build_info{version}` 1, the usual way to expose a version. */
  observeVersion(version: string): void {
    new Gauge({
      name: `${PREFIX}build_info`,
      help: 'The running mqtt-adapt version',
      labelNames: ['version'],
      registers: [this.registry],
    }).set({ version }, 1);
  }
}

/**
 * `mqtt_adapt_limit_hits_total{limit}`: one series per limit, labelled with its option name
 * (`maxConnections`, ...), every one present from the first scrape (0 until hit).
 */
function observeLimitHits(registry: Registry, broker: Broker): void {
  const reported = new Map<string, number>();
  new Counter({
    name: `${PREFIX}limit_hits_total`,
    help: 'Times a limit was hit: connections closed or refused, publishers held back, topics refused, messages not retained',
    labelNames: ['limit'],
    registers: [registry],
    collect() {
      const hits = broker.stats.limitHits;
      for (const [name, limit] of Object.entries(LIMIT_LABELS) as Array<[keyof LimitHits, string]>) {
        const current = hits[name];
        const before = reported.get(limit) ?? 0;
        // inc(0) creates the series, so a dashboard sees every limit before its first hit.
        this.inc({ limit }, current > before ? current - before : 0);
        reported.set(limit, Math.max(before, current));
      }
    },
  });
}

/** `BrokerStats.limitHits` key -> the option's name, the metric's `limit` label. */
const LIMIT_LABELS: Record<keyof LimitHits, string> = {
  connections: 'maxConnections',
  connectRate: 'maxConnectRatePerAddress',
  publishRate: 'maxPublishRatePerClient',
  topicLevels: 'maxTopicLevels',
  topicLength: 'maxTopicLength',
  retainedMessages: 'maxRetainedMessages',
  retainedBytes: 'maxRetainedBytes',
  retainedPayload: 'maxRetainedPayloadBytes',
};

/** `127.0.0.1:1883`, `[::]:1883`. */
export function formatAddress({ host, port }: { host: string; port: number }): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
