import { compileTemplate } from '@mqtt-adapt/mq';
import { isValidTopicFilter } from '@mqtt-adapt/topic';
import {
  booleanValue,
  type Check,
  configError,
  integerIn,
  mapping,
  mqttString,
  nonEmptyString,
  oneOf,
  show,
} from '../internal/checks.js';
import { redactSecrets } from '../redact.js';
import {
  BRIDGE_CODECS,
  BRIDGE_TYPES,
  type BridgeConfig,
  type BridgeDownlinkConfig,
  type BridgeRequestReplyConfig,
  type BridgeRetryConfig,
  type BridgeType,
  type BridgeUplinkConfig,
  DESTINATION_SEPARATORS,
  defaultBridgeRetry,
  defaultRequestReply,
  type JetStreamStreamConfig,
  type RabbitMqExchangeConfig,
  UPLINK_ACK_MODES,
} from './bridge-config.js';

const MAX_TIMEOUT_MS = 2_147_483_647;
const COMMON_KEYS = ['name', 'type', 'url', 'requestReply', 'uplinks', 'downlinks'];
/** Keys only one engine reads: given for another, they are a mistake worth a line. */
const TYPE_KEYS: Record<string, BridgeType> = {
  exchange: 'rabbitmq',
  queues: 'rabbitmq',
  stream: 'nats',
  maxLen: 'redis',
  clientId: 'mqtt',
  prefixes: 'mqtt',
};
const URL_SCHEMES: Record<BridgeType, readonly string[]> = {
  rabbitmq: ['amqp', 'amqps'],
  nats: ['nats', 'tls'],
  redis: ['redis', 'rediss'],
  mqtt: ['mqtt', 'mqtts', 'ws', 'wss'],
};

const qosCheck = oneOf([0, 1, 2] as const, 'a QoS');
const ruleName: Check<string> = (value, key) => {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(value)) {
    throw configError(`${key} = ${show(value)} is not a name (1-64 letters, digits, _ and -)`);
  }
  return value;
};

/** Set to something: a resolved config (validated again by `startBroker`) holds `[]` for lists not given. */
function isGiven(value: unknown): boolean {
  return value !== undefined && !(Array.isArray(value) && value.length === 0);
}

function opt<T>(value: unknown, key: string, check: Check<T>, fallback: T): T {
  return value === undefined ? fallback : check(value, key);
}

function list(value: unknown, key: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw configError(`${key} = ${show(value)} is not a list`);
  return value;
}

function strings(value: unknown, key: string, check: Check<string>): string[] {
  return list(value, key).map((item, i) => check(item, `${key}[${i}]`));
}

/** Validates `bridges:` and fills in defaults. One `config: bridges[i]...` line on the first problem. */
export function resolveBridges(value: unknown): BridgeConfig[] {
  const bridges = list(value, 'bridges').map((entry, i) => resolveBridge(entry, `bridges[${i}]`));
  const names = bridges.map((b) => b.name);
  const twice = names.findIndex((name, i) => names.indexOf(name) !== i);
  if (twice !== -1) {
    throw configError(
      `bridges[${twice}].name = ${show(names[twice])} is taken by an earlier bridge; names must be unique`,
    );
  }
  return bridges;
}

function resolveBridge(value: unknown, key: string): BridgeConfig {
  const entry = mapping(value, key, [...COMMON_KEYS, ...Object.keys(TYPE_KEYS)]);
  const name = ruleName(entry.name, `${key}.name`);
  if (entry.type === undefined)
    throw configError(`${key}.type is missing; set one of ${BRIDGE_TYPES.join(', ')}`);
  const type = oneOf(BRIDGE_TYPES, 'a bridge type')(entry.type, `${key}.type`);
  for (const [field, owner] of Object.entries(TYPE_KEYS)) {
    if (isGiven(entry[field]) && owner !== type) {
      throw configError(`${key}.${field} is only read by ${owner} bridges, not ${type}; remove it`);
    }
  }
  const separator = DESTINATION_SEPARATORS[type];
  const bridge: BridgeConfig = {
    name,
    type,
    url: engineUrl(type)(entry.url, `${key}.url`),
    exchange: type === 'rabbitmq' ? exchange(entry.exchange, `${key}.exchange`) : undefined,
    queues: list(entry.queues, `${key}.queues`).map((q, i) => {
      const queue = mapping(q, `${key}.queues[${i}]`, ['name', 'bindings']);
      return {
        name: nonEmptyString('a queue name')(queue.name, `${key}.queues[${i}].name`),
        bindings: strings(queue.bindings, `${key}.queues[${i}].bindings`, nonEmptyString('a routing key')),
      };
    }),
    stream: type === 'nats' ? stream(entry.stream, `${key}.stream`) : undefined,
    maxLen: opt(
      entry.maxLen,
      `${key}.maxLen`,
      integerIn(1, Number.MAX_SAFE_INTEGER, 'a stream length'),
      undefined,
    ),
    clientId:
      type === 'mqtt'
        ? opt(entry.clientId, `${key}.clientId`, mqttString('a client id'), `mqtt-adapt-bridge-${name}`)
        : undefined,
    prefixes: list(entry.prefixes, `${key}.prefixes`).map((p, i) => {
      const prefix = mapping(p, `${key}.prefixes[${i}]`, ['local', 'remote']);
      return {
        local: opt(prefix.local, `${key}.prefixes[${i}].local`, mqttString('a topic prefix'), ''),
        remote: opt(prefix.remote, `${key}.prefixes[${i}].remote`, mqttString('a topic prefix'), ''),
      };
    }),
    requestReply: requestReply(entry.requestReply, `${key}.requestReply`),
    uplinks: list(entry.uplinks, `${key}.uplinks`).map((u, i) =>
      uplink(u, `${key}.uplinks[${i}]`, type, separator),
    ),
    downlinks: list(entry.downlinks, `${key}.downlinks`).map((d, i) =>
      downlink(d, `${key}.downlinks[${i}]`, type, name),
    ),
  };
  if (
    type === 'rabbitmq' &&
    bridge.exchange === undefined &&
    (bridge.uplinks.length > 0 || bridge.queues.length > 0)
  ) {
    throw configError(
      `${key}.exchange is missing; rabbitmq uplinks publish to an exchange (exchange: { name: iot })`,
    );
  }
  if (bridge.uplinks.length === 0 && bridge.downlinks.length === 0) {
    throw configError(`${key} has no uplinks and no downlinks; add a rule or remove the bridge`);
  }
  unique(bridge, key);
  return bridge;
}

/** Rule names are unique in a bridge, and so are uplink filters (one persistent session each). */
function unique(bridge: BridgeConfig, key: string): void {
  const rules = [
    ...bridge.uplinks.map((r, i) => [r.name, `${key}.uplinks[${i}]`] as const),
    ...bridge.downlinks.map((r, i) => [r.name, `${key}.downlinks[${i}]`] as const),
  ];
  const seen = new Set<string>();
  for (const [name, at] of rules) {
    if (seen.has(name))
      throw configError(`${at}.name = ${show(name)} is taken by another rule of this bridge`);
    seen.add(name);
  }
  const filters = new Set<string>();
  for (const [i, rule] of bridge.uplinks.entries()) {
    const filter = rule.filter ?? compileTemplate(rule.template!).filter;
    if (filters.has(filter)) {
      throw configError(
        `${key}.uplinks[${i}] subscribes to ${filter}, as an earlier uplink does; merge the two rules`,
      );
    }
    filters.add(filter);
  }
}

function engineUrl(type: BridgeType): Check<string> {
  return (value, key) => {
    const schemes = URL_SCHEMES[type];
    const text = typeof value === 'string' ? value.trim() : '';
    const parts = type === 'nats' ? text.split(',').map((s) => s.trim()) : [text];
    const ok =
      text !== '' &&
      parts.every((part) => URL.canParse(part) && schemes.includes(new URL(part).protocol.slice(0, -1)));
    if (!ok) {
      throw configError(
        `${key} = ${show(redactSecrets(value))} is not a ${type} URL (${schemes.map((s) => `${s}://`).join(', ')}${type === 'nats' ? '; several comma-separated' : ''})`,
      );
    }
    return text;
  };
}

function exchange(value: unknown, key: string): RabbitMqExchangeConfig | undefined {
  if (value === undefined) return undefined;
  const entry =
    typeof value === 'string' ? { name: value } : mapping(value, key, ['name', 'type', 'durable']);
  return {
    name: nonEmptyString('an exchange name')(entry.name, `${key}.name`),
    type: opt(
      entry.type,
      `${key}.type`,
      oneOf(['topic', 'direct', 'fanout', 'headers'] as const, 'an exchange type'),
      'topic',
    ),
    durable: opt(entry.durable, `${key}.durable`, booleanValue(), true),
  };
}

function stream(value: unknown, key: string): JetStreamStreamConfig {
  if (value === undefined)
    throw configError(`${key} is missing; nats bridges need a stream: { name, subjects }`);
  const entry = mapping(value, key, ['name', 'subjects', 'duplicateWindowMs', 'storage']);
  const subjects = strings(entry.subjects, `${key}.subjects`, nonEmptyString('a subject'));
  if (subjects.length === 0)
    throw configError(`${key}.subjects is empty; list the subjects the stream stores (iot.>)`);
  return {
    name: ruleName(entry.name, `${key}.name`),
    subjects,
    duplicateWindowMs: opt(
      entry.duplicateWindowMs,
      `${key}.duplicateWindowMs`,
      integerIn(1, MAX_TIMEOUT_MS, 'a window in ms'),
      120_000,
    ),
    storage: opt(entry.storage, `${key}.storage`, oneOf(['file', 'memory'] as const, 'a storage'), 'file'),
  };
}

function requestReply(value: unknown, key: string): BridgeRequestReplyConfig | false {
  if (value === false) return false;
  const entry = mapping(value, key, [
    'commandTemplate',
    'responseTemplate',
    'qos',
    'timeoutMs',
    'correlation',
  ]);
  return {
    commandTemplate: opt(
      entry.commandTemplate,
      `${key}.commandTemplate`,
      template('/'),
      defaultRequestReply.commandTemplate,
    ),
    responseTemplate: opt(
      entry.responseTemplate,
      `${key}.responseTemplate`,
      template('/'),
      defaultRequestReply.responseTemplate,
    ),
    qos: opt(entry.qos, `${key}.qos`, qosCheck, defaultRequestReply.qos),
    timeoutMs: opt(
      entry.timeoutMs,
      `${key}.timeoutMs`,
      integerIn(1, MAX_TIMEOUT_MS, 'a timeout in ms'),
      defaultRequestReply.timeoutMs,
    ),
    correlation: opt(
      entry.correlation,
      `${key}.correlation`,
      oneOf(['auto', 'envelope'] as const, 'a correlation'),
      defaultRequestReply.correlation,
    ),
  };
}

/** A topic template (`{node_id}/{device_id}/telemetry`) or a destination template with `separator`. */
function template(separator: string): Check<string> {
  return (value, key) => {
    const text = nonEmptyString('a template')(value, key);
    try {
      compileTemplate(text, { separator });
    } catch (error) {
      throw configError(`${key} = ${show(value)} is not a template: ${(error as Error).message}`);
    }
    return text;
  };
}

function retry(value: unknown, key: string): BridgeRetryConfig {
  const entry = mapping(value, key, ['initialDelayMs', 'maxDelayMs', 'multiplier', 'jitter', 'maxAttempts']);
  const number =
    (min: number, max: number, what: string): Check<number> =>
    (v, k) => {
      if (typeof v !== 'number' || !(v >= min && v <= max))
        throw configError(`${k} = ${show(v)} is not ${what} (${min}-${max})`);
      return v;
    };
  const d = defaultBridgeRetry;
  return {
    initialDelayMs: opt(
      entry.initialDelayMs,
      `${key}.initialDelayMs`,
      integerIn(1, MAX_TIMEOUT_MS, 'a delay in ms'),
      d.initialDelayMs,
    ),
    maxDelayMs: opt(
      entry.maxDelayMs,
      `${key}.maxDelayMs`,
      integerIn(1, MAX_TIMEOUT_MS, 'a delay in ms'),
      d.maxDelayMs,
    ),
    multiplier: opt(entry.multiplier, `${key}.multiplier`, number(1, 100, 'a multiplier'), d.multiplier),
    jitter: opt(entry.jitter, `${key}.jitter`, number(0, 1, 'a jitter fraction'), d.jitter),
    maxAttempts: opt(
      entry.maxAttempts,
      `${key}.maxAttempts`,
      integerIn(1, 1_000_000, 'a number of attempts'),
      d.maxAttempts,
    ),
  };
}

const UPLINK_KEYS = [
  'name',
  'template',
  'filter',
  'destination',
  'kind',
  'qos',
  'ack',
  'maxInFlight',
  'concurrency',
  'codec',
  'retry',
  'deadLetter',
];

function uplink(value: unknown, key: string, type: BridgeType, separator: string): BridgeUplinkConfig {
  const entry = mapping(value, key, UPLINK_KEYS);
  const name = ruleName(entry.name, `${key}.name`);
  if ((entry.template === undefined) === (entry.filter === undefined)) {
    throw configError(
      `${key} needs exactly one of template ({node_id}/{device_id}/telemetry) or filter (site/#)`,
    );
  }
  const filter: Check<string> = (v, k) => {
    if (typeof v !== 'string' || !isValidTopicFilter(v))
      throw configError(`${k} = ${show(v)} is not an MQTT topic filter`);
    return v;
  };
  if (entry.destination === undefined && type !== 'mqtt') {
    throw configError(
      `${key}.destination is missing; name the ${type === 'rabbitmq' ? 'routing key' : type === 'nats' ? 'subject' : 'stream key'} (a template such as telemetry${separator}{node_id}${separator}{device_id})`,
    );
  }
  return {
    name,
    template: opt(entry.template, `${key}.template`, template('/'), undefined),
    filter: opt(entry.filter, `${key}.filter`, filter, undefined),
    destination: opt(entry.destination, `${key}.destination`, template(separator), undefined),
    kind: opt(entry.kind, `${key}.kind`, nonEmptyString('a kind'), undefined),
    qos: opt(entry.qos, `${key}.qos`, qosCheck, 1),
    ack: opt(entry.ack, `${key}.ack`, oneOf(UPLINK_ACK_MODES, 'an ack mode'), 'store'),
    maxInFlight: opt(entry.maxInFlight, `${key}.maxInFlight`, integerIn(1, 65_535, 'a message count'), 256),
    concurrency: opt(entry.concurrency, `${key}.concurrency`, integerIn(1, 1024, 'a concurrency'), 16),
    codec: opt(
      entry.codec,
      `${key}.codec`,
      oneOf(BRIDGE_CODECS, 'a codec'),
      type === 'mqtt' ? 'raw' : 'json',
    ),
    retry: retry(entry.retry, `${key}.retry`),
    deadLetter: opt(entry.deadLetter, `${key}.deadLetter`, nonEmptyString('a destination'), undefined),
  };
}

const DOWNLINK_KEYS = [
  'name',
  'source',
  'bindings',
  'group',
  'consumer',
  'template',
  'qos',
  'retain',
  'codec',
  'maxInFlight',
  'concurrency',
  'retry',
  'deadLetter',
  'responseTimeoutMs',
];

function downlink(value: unknown, key: string, type: BridgeType, bridge: string): BridgeDownlinkConfig {
  const entry = mapping(value, key, DOWNLINK_KEYS);
  const name = ruleName(entry.name, `${key}.name`);
  const what = {
    rabbitmq: 'a queue name',
    redis: 'a stream key',
    nats: 'a subject',
    mqtt: 'a remote topic filter',
  }[type];
  if (entry.source === undefined) throw configError(`${key}.source is missing; name ${what}`);
  if (isGiven(entry.bindings) && type !== 'rabbitmq')
    throw configError(`${key}.bindings is only read by rabbitmq bridges; remove it`);
  if (entry.group !== undefined && type !== 'redis')
    throw configError(`${key}.group is only read by redis bridges; remove it`);
  return {
    name,
    source: nonEmptyString(what)(entry.source, `${key}.source`),
    bindings: strings(entry.bindings, `${key}.bindings`, nonEmptyString('a routing key')),
    group:
      type === 'redis'
        ? opt(entry.group, `${key}.group`, nonEmptyString('a group name'), 'mqtt-adapt')
        : undefined,
    consumer: opt(entry.consumer, `${key}.consumer`, ruleName, `mqtt-adapt-${bridge}-${name}`),
    template: opt(entry.template, `${key}.template`, template('/'), undefined),
    qos: opt(entry.qos, `${key}.qos`, qosCheck, 1),
    retain: opt(entry.retain, `${key}.retain`, booleanValue(), false),
    codec: opt(
      entry.codec,
      `${key}.codec`,
      oneOf(BRIDGE_CODECS, 'a codec'),
      type === 'mqtt' ? 'raw' : 'json',
    ),
    maxInFlight: opt(entry.maxInFlight, `${key}.maxInFlight`, integerIn(1, 65_535, 'a message count'), 256),
    concurrency: opt(entry.concurrency, `${key}.concurrency`, integerIn(1, 1024, 'a concurrency'), 16),
    retry: retry(entry.retry, `${key}.retry`),
    deadLetter: opt(entry.deadLetter, `${key}.deadLetter`, nonEmptyString('a destination'), undefined),
    responseTimeoutMs: opt(
      entry.responseTimeoutMs,
      `${key}.responseTimeoutMs`,
      integerIn(1, MAX_TIMEOUT_MS, 'a timeout in ms'),
      undefined,
    ),
  };
}
