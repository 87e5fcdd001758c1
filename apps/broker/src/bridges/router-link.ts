import type { PublishPacket, QoS } from '@mqtt-adapt/codec';
import type { BrokerLink, LinkHandler, LinkPublishOptions, Logger } from '@mqtt-adapt/mq';
import type { Broker } from '@mqtt-adapt/router';
import { filterLevelsMatch } from '@mqtt-adapt/topic';
import { BRIDGE_CLIENT_ID_PREFIX, BRIDGE_REMOTE_ADDRESS_PREFIX } from './bridge-config.js';
import { InProcessClient } from './in-process-client.js';
import { toBrokerMessage, toPacketProperties } from './message-properties.js';
import type { PublishConfirmations } from './publish-confirmations.js';

/** How one uplink filter reaches the bridge. */
export type UplinkRoute =
  | { readonly ack: 'store'; readonly rule: string; readonly receiveMaximum: number }
  | { readonly ack: 'after-confirm' };

export interface RouterLinkOptions {
  readonly broker: Broker;
  readonly bridge: string;
  /** Uplink filters by mode; any other filter (the response filter) goes through the control session. */
  readonly uplinks: ReadonlyMap<string, UplinkRoute>;
  readonly confirmations: PublishConfirmations | undefined;
  readonly logger: Logger;
  /** The persistent sessions' connection to the broker went away or came back. */
  onSession?(rule: string, connected: boolean): void;
}

interface Subscription {
  readonly filter: string;
  readonly levels: readonly string[];
  readonly qos: QoS;
  handler: LinkHandler;
}

/** One `ack: store` rule: a persistent session of its own, so one slow destination holds only it. */
interface StoreSession {
  readonly rule: string;
  readonly filter: string;
  readonly qos: QoS;
  readonly receiveMaximum: number;
  readonly handler: LinkHandler;
  client: InProcessClient | undefined;
  /** False once the bridge unsubscribed: later deliveries stay unacknowledged in the session. */
  attached: boolean;
  retryMs: number;
}

/**
 * The bridge's `BrokerLink` over this process's router, without a socket:
 * - `ack: store` uplinks: each rule is a persistent session (Clean Start 0, Session Expiry
 *   "never", client id `mqtt-adapt-bridge:<bridge>:<rule>`) of an `InProcessClient`. A device's
 *   message is acknowledged when the store holds it for that session; the session acknowledges
 *   its copy only after the destination confirmed it, so what is unconfirmed at a crash is
 *   delivered again after the restart. Its Receive Maximum is the rule's `maxInFlight`; past
 *   that the router queues for it and, its queue full, slows the publishers. The session is
 *   lossless (`AcceptOptions.lossless`): never disconnected as stalled, never trimmed offline.
 * - `ack: after-confirm` uplinks: registered with `PublishConfirmations` (the router's
 *   `beforePublishAck` hook); nothing is subscribed.
 * - publishes (commands, responses) and the response filter: one clean control session.
 */
export class RouterLink implements BrokerLink {
  readonly supportsProperties = true;
  readonly #options: RouterLinkOptions;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #sessions = new Map<string, StoreSession>();
  #control: Promise<InProcessClient> | undefined;
  #closed = false;

  constructor(options: RouterLinkOptions) {
    this.#options = options;
  }

  async subscribe(topicFilter: string, options: { readonly qos: QoS }, handler: LinkHandler): Promise<void> {
    const route = this.#options.uplinks.get(topicFilter);
    if (route?.ack === 'after-confirm') {
      this.#options.confirmations!.add(this.#options.bridge, topicFilter, handler);
      return;
    }
    if (route?.ack === 'store') {
      const session: StoreSession = {
        rule: route.rule,
        filter: topicFilter,
        qos: options.qos,
        receiveMaximum: route.receiveMaximum,
        handler,
        client: undefined,
        attached: true,
        retryMs: 100,
      };
      this.#sessions.set(topicFilter, session);
      await this.#connectSession(session);
      return;
    }
    this.#subscriptions.set(topicFilter, {
      filter: topicFilter,
      levels: topicFilter.split('/'),
      qos: options.qos,
      handler,
    });
    const control = await this.#controlClient();
    await control.subscribe(topicFilter, options.qos);
  }

  /**
   * A store rule keeps its subscription (the session goes on collecting messages for the next
   * start); only the handler is detached. An after-confirm rule starts refusing (see
   * `PublishConfirmations.detach`).
   */
  async unsubscribe(topicFilter: string): Promise<void> {
    const session = this.#sessions.get(topicFilter);
    if (session !== undefined) {
      session.attached = false;
      return;
    }
    if (this.#options.uplinks.get(topicFilter)?.ack === 'after-confirm') {
      this.#options.confirmations!.detach(this.#options.bridge, topicFilter);
      return;
    }
    if (!this.#subscriptions.delete(topicFilter)) return;
    const control = await this.#controlClient();
    await control.unsubscribe(topicFilter);
  }

  async publish(topicName: string, payload: Uint8Array, options: LinkPublishOptions): Promise<void> {
    const control = await this.#controlClient();
    await control.publish(
      topicName,
      Buffer.isBuffer(payload) ? payload : Buffer.from(payload),
      options.qos,
      options.retain ?? false,
      toPacketProperties(options.properties),
    );
  }

  pause(): void {
    this.#options.confirmations?.setPaused(this.#options.bridge, true);
  }

  resume(): void {
    this.#options.confirmations?.setPaused(this.#options.bridge, false);
  }

  /** Disconnects every session (persistent ones stay in the store). Call after `bridge.close()`. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const session of this.#sessions.values()) session.client?.disconnect();
    const control = await this.#control?.catch(() => undefined);
    control?.disconnect();
  }

  async #connectSession(session: StoreSession): Promise<void> {
    const { bridge } = this.#options;
    const { client, sessionPresent } = await InProcessClient.connect(this.#options.broker, {
      clientId: `${BRIDGE_CLIENT_ID_PREFIX}${bridge}:${session.rule}`,
      remoteAddress: `${BRIDGE_REMOTE_ADDRESS_PREFIX}${bridge}`,
      persistent: true,
      // The broker acknowledged these messages to devices: a destination down for long holds
      // the devices (flow control) instead of the session being dropped as stalled or trimmed.
      lossless: true,
      receiveMaximum: session.receiveMaximum,
      onPublish: (packet, from) => this.#deliver(session, from, packet),
      onClose: (from) => this.#sessionLost(session, from),
    });
    session.client = client;
    await client.subscribe(session.filter, session.qos);
    session.retryMs = 100;
    this.#options.logger.debug({ rule: session.rule, sessionPresent }, 'bridge session connected');
    this.#options.onSession?.(session.rule, true);
  }

  #deliver(session: StoreSession, client: InProcessClient, packet: PublishPacket): void {
    if (!session.attached) return; // stays in the session, unacknowledged, for the next start
    const message = toBrokerMessage(
      packet.topicName,
      packet.payload,
      packet.qos,
      packet.retain,
      packet.properties,
    );
    session.handler(message).then(
      () => client.acknowledge(packet),
      () => {
        // Not confirmed (the bridge is closing): left unacknowledged, redelivered on reconnect.
      },
    );
  }

  #sessionLost(session: StoreSession, client: InProcessClient): void {
    if (this.#closed || session.client !== client) return;
    session.client = undefined;
    this.#options.onSession?.(session.rule, false);
    this.#options.logger.warn(
      { rule: session.rule, retryMs: session.retryMs },
      'bridge session disconnected by the broker; reconnecting',
    );
    const retry = (): void => {
      if (this.#closed) return;
      this.#connectSession(session).catch((error: unknown) => {
        session.retryMs = Math.min(session.retryMs * 2, 5000);
        this.#options.logger.warn(
          { rule: session.rule, err: (error as Error).message },
          'bridge session reconnect failed',
        );
        setTimeout(retry, session.retryMs).unref();
      });
    };
    setTimeout(retry, session.retryMs).unref();
  }

  #controlClient(): Promise<InProcessClient> {
    this.#control ??= this.#connectControl();
    return this.#control;
  }

  async #connectControl(): Promise<InProcessClient> {
    const { bridge } = this.#options;
    const pending = InProcessClient.connect(this.#options.broker, {
      clientId: `${BRIDGE_CLIENT_ID_PREFIX}${bridge}`,
      remoteAddress: `${BRIDGE_REMOTE_ADDRESS_PREFIX}${bridge}`,
      persistent: false,
      lossless: false,
      receiveMaximum: 65_535,
      onPublish: (packet, from) => this.#dispatch(packet, from),
      onClose: () => {
        if (this.#closed) return;
        // Reconnect on next use and subscribe again.
        this.#control = undefined;
        void this.#controlClient()
          .then(async (control) => {
            for (const s of this.#subscriptions.values()) await control.subscribe(s.filter, s.qos);
          })
          .catch((error: unknown) => {
            this.#options.logger.warn(
              { err: (error as Error).message },
              'bridge control session reconnect failed',
            );
          });
      },
    });
    try {
      return (await pending).client;
    } catch (error) {
      this.#control = undefined;
      throw error;
    }
  }

  /** A message on the control session (a device's response): every matching handler, then the ack. */
  #dispatch(packet: PublishPacket, client: InProcessClient): void {
    const message = toBrokerMessage(
      packet.topicName,
      packet.payload,
      packet.qos,
      packet.retain,
      packet.properties,
    );
    const work: Promise<void>[] = [];
    for (const s of this.#subscriptions.values()) {
      if (filterLevelsMatch(s.levels, packet.topicName)) work.push(s.handler(message));
    }
    void Promise.all(work).then(
      () => client.acknowledge(packet),
      () => {},
    );
  }
}
