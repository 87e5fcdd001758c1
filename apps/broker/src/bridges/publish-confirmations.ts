import { type LinkHandler, MqError } from '@mqtt-adapt/mq';
import type { ClientInfo, Message } from '@mqtt-adapt/router';
import { filterLevelsMatch } from '@mqtt-adapt/topic';
import { toBrokerMessage } from './message-properties.js';

interface Route {
  readonly bridge: string;
  readonly filter: string;
  readonly levels: readonly string[];
  handler: LinkHandler;
}

const closedHandler: LinkHandler = () =>
  Promise.reject(new MqError('MQ_CLOSED', 'bridge closed; the message is not acknowledged'));
const ignore = (): void => {};

/**
 * The `ack: after-confirm` uplinks of every bridge, behind the router's `beforePublishAck` hook:
 * a client's PUBLISH whose topic matches one of them is handed to the rule, and its PUBACK /
 * PUBREC waits until the rule's destination confirmed it (the hook's promise). Installed only
 * when some rule uses `after-confirm`, so that brokers without one pay nothing per message.
 *
 * Backpressure: the router holds a client's later packets while its promise is pending (and
 * stops reading it past `maxPendingPacketsBeforeConnack`), so each publishing client has one
 * message at a time in a rule. QoS 0 messages are forwarded without waiting, except while the
 * bridge reported its rule saturated (`setPaused`): then their publishers are held too.
 */
export class PublishConfirmations {
  readonly #routes: Route[] = [];
  readonly #paused = new Set<string>();

  /** The `beforePublishAck` hook. */
  readonly hook = (_client: ClientInfo, message: Message): Promise<void> | undefined => {
    const topicName = message.topicName;
    if (topicName.charCodeAt(0) === 0x24 /* $ */) return undefined;
    let held: Promise<void> | undefined;
    let more: Promise<void>[] | undefined;
    for (const route of this.#routes) {
      if (!filterLevelsMatch(route.levels, topicName)) continue;
      // A QoS 0 payload may still be a view of the socket's chunk: the rule keeps it, so copy.
      const payload = message.qos === 0 && !message.retain ? Buffer.from(message.payload) : message.payload;
      const done = route.handler(
        toBrokerMessage(topicName, payload, message.qos, message.retain, message.properties),
      );
      if (message.qos === 0 && !this.#paused.has(route.bridge)) {
        done.catch(ignore); // at most once: a failure is the rule's to log and count
        continue;
      }
      if (held === undefined) held = done;
      else {
        more ??= [held];
        more.push(done);
      }
    }
    if (more !== undefined) return Promise.all(more).then(ignore);
    return held;
  };

  get isEmpty(): boolean {
    return this.#routes.length === 0;
  }

  add(bridge: string, filter: string, handler: LinkHandler): void {
    const existing = this.#routes.find((r) => r.bridge === bridge && r.filter === filter);
    if (existing !== undefined) existing.handler = handler;
    else this.#routes.push({ bridge, filter, levels: filter.split('/'), handler });
  }

  /**
   * The rule stopped (bridge closing): from now on its messages are refused, so their clients are
   * disconnected unacknowledged and send them again later, rather than acknowledged unforwarded.
   */
  detach(bridge: string, filter: string): void {
    const route = this.#routes.find((r) => r.bridge === bridge && r.filter === filter);
    if (route !== undefined) route.handler = closedHandler;
  }

  setPaused(bridge: string, paused: boolean): void {
    if (paused) this.#paused.add(bridge);
    else this.#paused.delete(bridge);
  }
}
