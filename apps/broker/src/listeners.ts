import type { Broker } from '@mqtt-adapt/router';
import type { Logger } from 'pino';
import type { RunningListener } from './internal/listen.js';
import { hasTlsFiles, type ListenerConfig } from './listener-config.js';
import { listenTcp, listenTls } from './tcp-listener.js';
import { readTlsFiles, type TlsMaterial } from './tls-files.js';
import { listenWs } from './ws-listener.js';

export type { ListenerAddress, RunningListener } from './internal/listen.js';

/**
 * The certificate files of every tls/wss listener, read and checked at startup (before the
 * store opens): one entry per listener, undefined for tcp and ws. Throws one
 * `BROKER_CONFIG_INVALID` line for the first file that is missing, unreadable or unusable.
 */
export function readListenerFiles(listeners: readonly ListenerConfig[]): Array<TlsMaterial | undefined> {
  return listeners.map((config, index) =>
    hasTlsFiles(config) ? readTlsFiles(config, `listeners[${index}]`) : undefined,
  );
}

export interface StartListenerOptions {
  /** What `readListenerFiles` read for this listener (tls, wss). */
  readonly material: TlsMaterial | undefined;
  /** ws, wss: the largest WebSocket message accepted (the broker's `maxPacketSize`). */
  readonly maxPayloadBytes: number;
}

/** Binds listener `index` of the config, whatever its kind; every kind feeds `broker.accept()`. */
export function startListener(
  config: ListenerConfig,
  index: number,
  broker: Broker,
  log: Logger,
  options: StartListenerOptions,
): Promise<RunningListener> {
  const key = `listeners[${index}]`;
  const material = options.material;
  switch (config.type) {
    case 'tcp':
      return listenTcp(config, broker, log);
    case 'tls':
      return listenTls(config, broker, log, material ? { key, material } : { key });
    case 'ws':
    case 'wss':
      return listenWs(config, broker, log, {
        key,
        maxPayloadBytes: options.maxPayloadBytes,
        ...(material ? { material } : {}),
      });
  }
}

/** SIGHUP: every tls/wss listener reads its certificate files again (see `reloadCertificates`). */
export function reloadCertificates(listeners: readonly RunningListener[], log: Logger): void {
  const reloadable = listeners.filter((listener) => listener.reloadCertificates !== undefined);
  if (reloadable.length === 0) {
    log.info('no tls or wss listener; nothing to reload');
    return;
  }
  for (const listener of reloadable) listener.reloadCertificates!();
}
