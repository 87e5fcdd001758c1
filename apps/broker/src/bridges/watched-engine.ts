import { type Consumer, type ConsumerHandler, isMqError, type Producer } from '@mqtt-adapt/mq';
import type { Logger } from 'pino';

/** The engine answered (`true`) or was unreachable (`false`); `detail` goes in the log line. */
export type StateListener = (connected: boolean, detail: Record<string, unknown>) => void;

function isOutage(error: unknown): boolean {
  return isMqError(error) && error.code === 'MQ_DESTINATION_UNAVAILABLE';
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The producer, reporting reachability: a confirmed send (or a refusal, which is an answer too)
 * means connected, an outage disconnected. The bridge logs the transitions only.
 */
export function watchedProducer(producer: Producer, onState: StateListener): Producer {
  const observe = <T>(work: Promise<T>): Promise<T> =>
    work.then(
      (value) => {
        onState(true, {});
        return value;
      },
      (error: unknown) => {
        if (isOutage(error)) onState(false, { err: message(error) });
        else onState(true, {});
        throw error;
      },
    );
  return {
    name: producer.name,
    ...(producer.keySeparator === undefined ? {} : { keySeparator: producer.keySeparator }),
    ...(producer.start === undefined ? {} : { start: () => observe(producer.start!()) }),
    send: (record) => observe(producer.send(record)),
    close: () => producer.close(),
  };
}

/**
 * A consumer whose `start` never fails the broker's startup for an outage: it starts in the
 * background and tries again (100 ms doubling to 10 s) until the engine is back. Any other
 * failure (a refused declaration) fails `start` as before.
 */
export function resilientConsumer(consumer: Consumer, onState: StateListener, log: Logger): Consumer {
  const abort = new AbortController();
  let starting: Promise<void> | undefined;
  const startLater = async (handler: ConsumerHandler): Promise<void> => {
    let delayMs = 100;
    while (!abort.signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
      if (abort.signal.aborted) return;
      try {
        await consumer.start(handler);
        onState(true, { consumer: consumer.name });
        return;
      } catch (error) {
        log.debug({ err: message(error), delayMs }, 'bridge consumer still cannot start');
        delayMs = Math.min(delayMs * 2, 10_000);
      }
    }
  };
  return {
    name: consumer.name,
    async start(handler) {
      try {
        await consumer.start(handler);
        onState(true, { consumer: consumer.name });
      } catch (error) {
        if (!isOutage(error)) throw error;
        onState(false, { consumer: consumer.name, err: message(error) });
        starting = startLater(handler);
      }
    },
    async close() {
      abort.abort();
      await starting;
      await consumer.close();
    },
  };
}
