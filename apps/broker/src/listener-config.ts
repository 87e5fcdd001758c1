import {
  booleanValue,
  type Check,
  configError,
  integerIn,
  isPlainObject,
  mapping,
  nonEmptyString,
  show,
} from './internal/checks.js';

// The listeners part of the config schema (config.ts holds the rest and re-exports these).

/** MQTT protocol levels: 3 = 3.1, 4 = 3.1.1, 5 = 5.0. */
export type ProtocolLevel = 3 | 4 | 5;
export const PROTOCOL_LEVELS: readonly ProtocolLevel[] = Object.freeze([3, 4, 5]);

export const LISTENER_TYPES = ['tcp', 'tls', 'ws', 'wss'] as const;
export type ListenerType = (typeof LISTENER_TYPES)[number];

/** Fields every listener kind has. */
export interface ListenerBaseConfig {
  /**
   * Interface to bind: `0.0.0.0` every IPv4 address, `::` every IPv6 address (and IPv4 where
   * the OS is dual-stack), `127.0.0.1` loopback only, or a host name. Default `0.0.0.0`.
   */
  host: string;
  /**
   * Port to bind; 0 lets the OS pick a free one (the `listening` log line says which). Default
   * 1883 (tcp), 8883 (tls), 8083 (ws), 8084 (wss).
   */
  port: number;
  /**
   * Bytes buffered on one client's socket past which the broker treats it as a slow consumer:
   * QoS 0 to that client is dropped (and counted), QoS 1/2 waits until the socket drains.
   * Only bytes left over from earlier event-loop turns count, so one burst of fan-out is never
   * mistaken for a slow reader. Default 1048576 (1 MiB): bursts of a few thousand small
   * messages reach a reader that keeps up; a reader that stopped costs at most this much.
   */
  writeHighWaterMarkBytes: number;
  /**
   * Open connections this listener holds at most; past it a new socket is closed at once
   * (counted, and logged once at `warn` at the first). 0: unlimited. Default 0.
   */
  maxConnections: number;
  /**
   * MQTT protocol levels accepted: 3 (3.1), 4 (3.1.1), 5 (5.0). A CONNECT of another level is
   * answered with CONNACK 0x01 (5.0: 0x84) and closed. Default `[3, 4, 5]`.
   */
  protocolVersions: ProtocolLevel[];
}

/** Certificate files of a `tls` or `wss` listener (PEM). Reloaded on SIGHUP. */
export interface TlsFilesConfig {
  /** Server certificate chain, PEM. Required (or `tls.cert` / `--tls-cert`). */
  cert: string;
  /** Private key of `cert`, PEM, unencrypted. Required (or `tls.key` / `--tls-key`). */
  key: string;
  /**
   * CA certificates, PEM, that client certificates are checked against (`requestCert`).
   * Default none (`tls.ca` / `--tls-ca`).
   */
  ca: string | undefined;
  /** Ask clients for a certificate (mutual TLS); needs `ca`. Default false. */
  requestCert: boolean;
  /**
   * With `requestCert`: refuse, during the handshake, a client without a certificate signed by
   * `ca`. False lets such clients in (the certificate is then only informative). Default true.
   */
  rejectUnauthorized: boolean;
  /**
   * Use the verified client certificate's subject CN as the MQTT username (the CONNECT's user
   * name and password are then not asked for by the store's login: the certificate is the
   * credential); a connection without such a certificate is closed. Needs `requestCert` and
   * `ca`. tls listeners only. Default false.
   */
  useIdentityAsUsername: boolean;
}

/** Plain MQTT over TCP. */
export interface TcpListenerConfig extends ListenerBaseConfig {
  type: 'tcp';
}

/** MQTT over TLS. */
export interface TlsListenerConfig extends ListenerBaseConfig, TlsFilesConfig {
  type: 'tls';
}

/** MQTT over WebSocket (subprotocol `mqtt`; `mqttv3.1` also accepted). */
export interface WsListenerConfig extends ListenerBaseConfig {
  type: 'ws';
  /** HTTP path of the WebSocket endpoint. Default `/mqtt`. */
  path: string;
}

/** MQTT over WebSocket over TLS. */
export interface WssListenerConfig extends ListenerBaseConfig, TlsFilesConfig {
  type: 'wss';
  /** HTTP path of the WebSocket endpoint. Default `/mqtt`. */
  path: string;
}

/** One listener: `tcp`, `tls`, `ws` or `wss`. */
export type ListenerConfig = TcpListenerConfig | TlsListenerConfig | WsListenerConfig | WssListenerConfig;

/**
 * `tls`, `ws`, `wss` sections of a config file (`--tls-port`, `--tls-cert`, ...): each port adds
 * one listener of that kind on the first listener's host; `cert`, `key`, `ca` are the files of
 * every tls and wss listener that names none. Folded into `listeners` by `resolveConfig`.
 */
export interface ListenerShortcutsInput {
  tls?: { port?: number; cert?: string; key?: string; ca?: string };
  ws?: { port?: number };
  wss?: { port?: number };
}

const MAX_TIMEOUT_MS = 2_147_483_647;

export const defaultListener: Readonly<TcpListenerConfig> = Object.freeze({
  type: 'tcp',
  host: '0.0.0.0',
  port: 1883,
  writeHighWaterMarkBytes: 1_048_576,
  maxConnections: 0,
  protocolVersions: PROTOCOL_LEVELS as ProtocolLevel[],
});

/** Default port of each listener kind. */
export const defaultListenerPorts: Readonly<Record<ListenerType, number>> = Object.freeze({
  tcp: 1883,
  tls: 8883,
  ws: 8083,
  wss: 8084,
});
export const defaultWebSocketPath = '/mqtt';

export const listenerChecks = {
  host: nonEmptyString('a host'),
  port: integerIn(0, 65_535, 'a port'),
  writeHighWaterMarkBytes: integerIn(1024, MAX_TIMEOUT_MS, 'a size in bytes'),
  maxConnections: integerIn(0, MAX_TIMEOUT_MS, 'a connection count (0 = unlimited)'),
  file: nonEmptyString('a file path'),
  boolean: booleanValue(),
} as const satisfies Record<string, Check<unknown>>;

const protocolVersionsCheck: Check<ProtocolLevel[]> = (value, key) => {
  const valid =
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((level) => (PROTOCOL_LEVELS as readonly unknown[]).includes(level)) &&
    new Set(value).size === value.length;
  if (!valid) {
    throw configError(
      `${key} = ${show(value)} is not a list of protocol levels (3 = 3.1, 4 = 3.1.1, 5 = 5.0), e.g. [4, 5]`,
    );
  }
  return [...(value as ProtocolLevel[])].sort();
};

const pathCheck: Check<string> = (value, key) => {
  if (typeof value !== 'string' || !/^\/\S*$/.test(value)) {
    throw configError(`${key} = ${show(value)} is not an HTTP path (starting with /, e.g. "/mqtt")`);
  }
  return value;
};

const BASE_KEYS = ['type', 'host', 'port', 'writeHighWaterMarkBytes', 'maxConnections', 'protocolVersions'];
const TLS_KEYS = ['cert', 'key', 'ca', 'requestCert', 'rejectUnauthorized', 'useIdentityAsUsername'];
const KEYS: Record<ListenerType, string[]> = {
  tcp: BASE_KEYS,
  tls: [...BASE_KEYS, ...TLS_KEYS],
  ws: [...BASE_KEYS, 'path'],
  wss: [...BASE_KEYS, 'path', ...TLS_KEYS],
};

interface TlsDefaults {
  cert: string | undefined;
  key: string | undefined;
  ca: string | undefined;
}

function optional<T>(value: unknown, key: string, check: Check<T>, fallback: T): T {
  return value === undefined ? fallback : check(value, key);
}

/**
 * `listeners` plus the `tls` / `ws` / `wss` shortcut sections (flags `--tls-port`, ...), as one
 * validated list: the listeners of the list first, then one per shortcut port, in the order
 * tls, ws, wss.
 */
export function resolveListeners(
  value: unknown,
  shortcuts: { tls: unknown; ws: unknown; wss: unknown },
): ListenerConfig[] {
  const tls = mapping(shortcuts.tls, 'tls', ['port', 'cert', 'key', 'ca']);
  const ws = mapping(shortcuts.ws, 'ws', ['port']);
  const wss = mapping(shortcuts.wss, 'wss', ['port']);
  const files: TlsDefaults = {
    cert: optional(tls.cert, 'tls.cert', listenerChecks.file, undefined),
    key: optional(tls.key, 'tls.key', listenerChecks.file, undefined),
    ca: optional(tls.ca, 'tls.ca', listenerChecks.file, undefined),
  };
  const listeners = resolveList(value, files);
  const host = listeners[0]?.host ?? defaultListener.host;
  const added: Array<[ListenerType, unknown]> = [
    ['tls', tls.port],
    ['ws', ws.port],
    ['wss', wss.port],
  ];
  for (const [type, port] of added) {
    if (port === undefined) continue;
    const key = `${type}.port`;
    listenerChecks.port(port, key);
    listeners.push(resolveListener({ type, host, port }, key, files, `${key} (--${type}-port) ${port}`));
  }
  return listeners;
}

function resolveList(value: unknown, files: TlsDefaults): ListenerConfig[] {
  if (value === undefined) return [{ ...defaultListener, protocolVersions: [...PROTOCOL_LEVELS] }];
  if (!Array.isArray(value)) {
    throw configError(
      `listeners = ${show(value)} is not a list; write a list of listeners, e.g. [{ type: tcp }]`,
    );
  }
  if (value.length === 0) {
    throw configError('listeners = [] is empty; add at least one listener, e.g. { type: tcp, port: 1883 }');
  }
  return value.map((entry, index) =>
    resolveListener(entry, `listeners[${index}]`, files, `listeners[${index}]`),
  );
}

/** `key` names the fields in errors; `owner` names the listener in errors about missing files. */
function resolveListener(value: unknown, key: string, files: TlsDefaults, owner: string): ListenerConfig {
  const type = isPlainObject(value) ? (value.type ?? 'tcp') : 'tcp';
  if (!(LISTENER_TYPES as readonly unknown[]).includes(type)) {
    throw configError(`${key}.type = ${show(type)} is not a listener type (${LISTENER_TYPES.join(', ')})`);
  }
  const kind = type as ListenerType;
  const entry = mapping(value, key, KEYS[kind]);
  const base = {
    host: optional(entry.host, `${key}.host`, listenerChecks.host, defaultListener.host),
    port: optional(entry.port, `${key}.port`, listenerChecks.port, defaultListenerPorts[kind]),
    writeHighWaterMarkBytes: optional(
      entry.writeHighWaterMarkBytes,
      `${key}.writeHighWaterMarkBytes`,
      listenerChecks.writeHighWaterMarkBytes,
      defaultListener.writeHighWaterMarkBytes,
    ),
    maxConnections: optional(
      entry.maxConnections,
      `${key}.maxConnections`,
      listenerChecks.maxConnections,
      defaultListener.maxConnections,
    ),
    protocolVersions: optional(entry.protocolVersions, `${key}.protocolVersions`, protocolVersionsCheck, [
      ...PROTOCOL_LEVELS,
    ]),
  };
  switch (kind) {
    case 'tcp':
      return { type: 'tcp', ...base };
    case 'ws':
      return {
        type: 'ws',
        ...base,
        path: optional(entry.path, `${key}.path`, pathCheck, defaultWebSocketPath),
      };
    case 'tls':
      return { type: 'tls', ...base, ...resolveTlsFiles(entry, key, files, owner) };
    case 'wss':
      return {
        type: 'wss',
        ...base,
        path: optional(entry.path, `${key}.path`, pathCheck, defaultWebSocketPath),
        ...resolveTlsFiles(entry, key, files, owner),
      };
  }
}

function resolveTlsFiles(
  entry: Record<string, unknown>,
  key: string,
  files: TlsDefaults,
  owner: string,
): TlsFilesConfig {
  const cert = optional(entry.cert, `${key}.cert`, listenerChecks.file, files.cert);
  const privateKey = optional(entry.key, `${key}.key`, listenerChecks.file, files.key);
  const ca = optional(entry.ca, `${key}.ca`, listenerChecks.file, files.ca);
  const requestCert = optional(entry.requestCert, `${key}.requestCert`, listenerChecks.boolean, false);
  const rejectUnauthorized = optional(
    entry.rejectUnauthorized,
    `${key}.rejectUnauthorized`,
    listenerChecks.boolean,
    true,
  );
  const useIdentityAsUsername = optional(
    entry.useIdentityAsUsername,
    `${key}.useIdentityAsUsername`,
    listenerChecks.boolean,
    false,
  );
  const inList = owner.startsWith('listeners[');
  for (const [name, file, flag] of [
    ['cert', cert, '--tls-cert'],
    ['key', privateKey, '--tls-key'],
  ] as const) {
    if (file !== undefined) continue;
    throw configError(
      inList
        ? `${key}.${name} is not set; a ${String(entry.type)} listener needs cert and key files: set ${key}.${name} or pass ${flag}`
        : `tls.${name} is not set; ${owner} needs cert and key files: pass ${flag}`,
    );
  }
  if (requestCert && ca === undefined) {
    throw configError(
      `${key}.requestCert = true needs ${inList ? `${key}.ca` : 'tls.ca'}, the CA that signs client certificates; pass --tls-ca`,
    );
  }
  if (useIdentityAsUsername && (!requestCert || ca === undefined)) {
    throw configError(
      `${key}.useIdentityAsUsername = true takes the username from a client certificate: set ${key}.requestCert = true and a ca`,
    );
  }
  return { cert: cert!, key: privateKey!, ca, requestCert, rejectUnauthorized, useIdentityAsUsername };
}

/** The `tls` / `wss` listeners, which have certificate files. */
export function hasTlsFiles(config: ListenerConfig): config is TlsListenerConfig | WssListenerConfig {
  return config.type === 'tls' || config.type === 'wss';
}
