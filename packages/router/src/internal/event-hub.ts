import type { BrokerEventMap, BrokerEventName, BrokerListener } from '../hooks.js';
import type { Logger } from '../logger.js';

type ListenerLists = { [E in BrokerEventName]: Array<BrokerListener<E>> };

/** Typed synchronous events; `has(e)` lets hot paths skip building arguments. */
export class EventHub {
  private readonly listeners: ListenerLists = {
    clientConnected: [],
    clientDisconnected: [],
    subscribed: [],
    unsubscribed: [],
    messagePublished: [],
    messageDropped: [],
  };

  constructor(private readonly logger: Logger) {}

  on<E extends BrokerEventName>(event: E, listener: BrokerListener<E>): () => void {
    const list = this.listeners[event] as Array<BrokerListener<E>>;
    list.push(listener);
    return () => {
      const index = list.indexOf(listener);
      if (index !== -1) list.splice(index, 1);
    };
  }

  has(event: BrokerEventName): boolean {
    return this.listeners[event].length > 0;
  }

  emit<E extends BrokerEventName>(event: E, ...args: BrokerEventMap[E]): void {
    const list = this.listeners[event] as Array<BrokerListener<E>>;
    for (let i = 0; i < list.length; i++) {
      try {
        (list[i] as (...a: BrokerEventMap[E]) => void)(...args);
      } catch (error) {
        this.logger.error({ err: error, event }, 'event listener threw');
      }
    }
  }
}
