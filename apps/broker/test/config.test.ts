import { defaultBrokerOptions } from '@mqtt-adapt/router';
import { describe, expect, it } from 'vitest';
import { defaultLimits, defaultListener, resolveConfig, toBrokerOptions } from '../src/config.js';
import { appErrorOf } from './errors-helper.js';

describe('resolveConfig', () => {
  it('fills every default for an empty config', () => {
    expect(resolveConfig({})).toEqual({
      listeners: [
        {
          type: 'tcp',
          host: '0.0.0.0',
          port: 1883,
          writeHighWaterMarkBytes: 1048576,
          maxConnections: 0,
          protocolVersions: [3, 4, 5],
        },
      ],
      limits: {
        maxPacketSize: 268435460,
        maxPartialPacketBytes: 536870912,
        maxConnectPacketSize: 65536,
        connectTimeoutMs: 10000,
        authenticateTimeoutMs: 5000,
        maxInflightMessages: 256,
        maxQueuedMessages: 1000,
        maxQueuedBytes: 268435456,
        stalledSubscriberTimeoutMs: 30000,
        maxQoS: 2,
        topicAliasMaximum: 10,
        maxSessionExpirySeconds: 4294967295,
        maxConnections: 0,
        maxConnectRatePerAddress: 0,
        maxPublishRatePerClient: 0,
        maxTopicLevels: 128,
        maxTopicLength: 65535,
        maxRetainedMessages: 0,
        maxRetainedBytes: 0,
        maxRetainedPayloadBytes: 0,
        receiveMaximum: 65535,
        serverKeepAliveSeconds: undefined,
        responseInformation: undefined,
        retainAvailable: true,
        wildcardSubscriptionAvailable: true,
        subscriptionIdentifiersAvailable: true,
        sharedSubscriptionAvailable: true,
      },
      log: { level: 'info', format: 'auto' },
      dataDir: './data',
      store: { type: 'sqlite', url: undefined, schema: 'mqtt_adapt', synchronous: 'normal' },
      shutdownTimeoutMs: 5000,
      metrics: { port: undefined, host: '127.0.0.1' },
      sysInterval: 10,
      auth: { allowAnonymous: undefined, failureDelayMs: 1000, maxFailureDelayMs: 4000 },
      bridges: [],
      cluster: {
        enabled: false,
        natsUrl: 'nats://127.0.0.1:4222',
        nodeId: undefined,
        heartbeatMs: 1000,
        deadAfterMs: 5000,
      },
      workers: 1,
    });
    expect(resolveConfig(undefined)).toEqual(resolveConfig({}));
  });

  it('keeps given values and defaults the rest of each listener', () => {
    const config = resolveConfig({
      listeners: [
        { port: 0, host: '127.0.0.1' },
        { type: 'tcp', port: 1884 },
      ],
      limits: { maxQoS: 1 },
    });
    expect(config.listeners).toEqual([
      { ...defaultListener, host: '127.0.0.1', port: 0 },
      { ...defaultListener, port: 1884 },
    ]);
    expect(config.limits).toEqual({ ...defaultLimits, maxQoS: 1 });
  });

  it('does not share the default objects with the result', () => {
    const config = resolveConfig({});
    config.listeners[0]!.port = 1;
    config.limits.maxQoS = 0;
    expect(defaultListener.port).toBe(1883);
    expect(resolveConfig({}).limits.maxQoS).toBe(2);
  });

  it.each([
    [{ listeners: [{ port: 70000 }] }, 'config: listeners[0].port = 70000 is not a port (0-65535)'],
    [{ listeners: [{}, { port: -1 }] }, 'config: listeners[1].port = -1 is not a port (0-65535)'],
    [{ listeners: [{ port: '1883' }] }, 'config: listeners[0].port = "1883" is not a port (0-65535)'],
    [{ listeners: [{ port: 1.5 }] }, 'config: listeners[0].port = 1.5 is not a port (0-65535)'],
    [{ listeners: [{ host: '' }] }, 'config: listeners[0].host = "" is not a host (a non-empty string)'],
    [
      { listeners: [{ prot: 1 }] },
      'config: listeners[0].prot is not a known key; did you mean listeners[0].port?',
    ],
    [
      { listeners: [{ type: 'udp' }] },
      'config: listeners[0].type = "udp" is not a listener type (tcp, tls, ws, wss)',
    ],
    [
      { listeners: [5] },
      'config: listeners[0] = 5 is not a mapping (expected keys: type, host, port, writeHighWaterMarkBytes, maxConnections, protocolVersions)',
    ],
    [
      { listeners: [] },
      'config: listeners = [] is empty; add at least one listener, e.g. { type: tcp, port: 1883 }',
    ],
    [
      { listeners: { port: 1 } },
      'config: listeners = {"port":1} is not a list; write a list of listeners, e.g. [{ type: tcp }]',
    ],
    [{ limits: { maxQoS: 3 } }, 'config: limits.maxQoS = 3 is not a QoS (0, 1, 2)'],
    [
      { limits: { maxPaketSize: 10 } },
      'config: limits.maxPaketSize is not a known key; did you mean limits.maxPacketSize?',
    ],
    [
      { limits: { maxPacketSize: 300_000_000 } },
      'config: limits.maxPacketSize = 300000000 is not a packet size in bytes (16-268435460)',
    ],
    [
      { limits: { maxInflightMessages: 0 } },
      'config: limits.maxInflightMessages = 0 is not a message count (1-65535)',
    ],
    [
      { limits: { maxPartialPacketBytes: 100 } },
      'config: limits.maxPartialPacketBytes = 100 is not a size in bytes (1024-9007199254740991)',
    ],
    [
      { limits: { maxQueuedBytes: '256MiB' } },
      'config: limits.maxQueuedBytes = "256MiB" is not a size in bytes (1024-9007199254740991)',
    ],
    [
      { limits: { maxConnections: -1 } },
      'config: limits.maxConnections = -1 is not a connection count (0 = unlimited) (0-9007199254740991)',
    ],
    [
      { limits: { maxTopicLevels: 0 } },
      'config: limits.maxTopicLevels = 0 is not a number of topic levels (1-32768)',
    ],
    [
      { limits: { maxTopicLength: 65536 } },
      'config: limits.maxTopicLength = 65536 is not a topic length in bytes (1-65535)',
    ],
    [
      { limits: { maxPublishRatePerClient: 2.5 } },
      'config: limits.maxPublishRatePerClient = 2.5 is not a rate per second (0 = off) (0-9007199254740991)',
    ],
    [
      { limits: { stalledSubscriberTimeoutMs: 0 } },
      'config: limits.stalledSubscriberTimeoutMs = 0 is not a timeout in ms (1-2147483647)',
    ],
    [
      { log: { level: 'verbose' } },
      'config: log.level = "verbose" is not a log level (fatal, error, warn, info, debug, trace, silent)',
    ],
    [{ log: 'debug' }, 'config: log = "debug" is not a mapping (expected keys: level, format)'],
    [{ dataDir: 3 }, 'config: dataDir = 3 is not a directory (a non-empty string)'],
    [{ shutdownTimeoutMs: 0 }, 'config: shutdownTimeoutMs = 0 is not a timeout in ms (1-2147483647)'],
    [{ listener: [] }, 'config: listener is not a known key; did you mean listeners?'],
    [
      { auth: { maxFailureDelayMs: 6000 } },
      'config: auth.maxFailureDelayMs = 6000 is not below limits.authenticateTimeoutMs = 5000: delayed logins would time out; lower the one or raise the other',
    ],
    [
      { auth: { allowAnonymous: 'sometimes' } },
      'config: auth.allowAnonymous = "sometimes" is not true, false or auto',
    ],
    [
      { zzz: 1 },
      'config: zzz is not a known key; known keys: listeners, limits, log, dataDir, store, shutdownTimeoutMs, metrics, sysInterval, auth, bridges, cluster, workers, tls, ws, wss',
    ],
  ])('rejects %j with one line naming key, value and fix', (input, message) => {
    const error = appErrorOf(() => resolveConfig(input));
    expect(error.code).toBe('BROKER_CONFIG_INVALID');
    expect(error.message).toBe(message);
    expect(error.message).not.toContain('\n');
  });

  it('accepts port 0 and the bounds of every range', () => {
    expect(resolveConfig({ listeners: [{ port: 0 }] }).listeners[0]!.port).toBe(0);
    expect(resolveConfig({ listeners: [{ port: 65535 }] }).listeners[0]!.port).toBe(65535);
    expect(resolveConfig({ limits: { maxQoS: 0, maxQueuedMessages: 0 } }).limits.maxQueuedMessages).toBe(0);
  });
});

describe('toBrokerOptions', () => {
  it('maps every limit onto the router options', () => {
    expect(toBrokerOptions(defaultLimits)).toEqual({
      maxPacketSize: 268435460,
      maxPartialPacketBytes: 536870912,
      maxConnectPacketSize: 65536,
      connectTimeoutMs: 10000,
      authenticateTimeoutMs: 5000,
      maxInflightMessages: 256,
      maxQueuedMessages: 1000,
      maxQueuedBytes: 268435456,
      stalledSubscriberTimeoutMs: 30000,
      maxQoS: 2,
      topicAliasMaximum: 10,
      maxSessionExpirySeconds: 4294967295,
      maxConnections: 0,
      maxConnectRatePerAddress: 0,
      maxPublishRatePerClient: 0,
      maxTopicLevels: 128,
      maxTopicLength: 65535,
      maxRetainedMessages: 0,
      maxRetainedBytes: 0,
      maxRetainedPayloadBytes: 0,
      receiveMaximum: 65535,
      serverKeepAliveSeconds: undefined,
      responseInformation: undefined,
      retainAvailable: true,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: true,
      sharedSubscriptionAvailable: true,
    });
  });

  it('maps the 5.0 Receive Maximum, Server Keep Alive, Response Information and Available flags of a config file', () => {
    const config = resolveConfig({
      limits: {
        receiveMaximum: 20,
        serverKeepAliveSeconds: 30,
        responseInformation: 'responses/',
        retainAvailable: false,
        wildcardSubscriptionAvailable: false,
        subscriptionIdentifiersAvailable: false,
        sharedSubscriptionAvailable: false,
      },
    });
    expect(toBrokerOptions(config.limits)).toMatchObject({
      receiveMaximum: 20,
      serverKeepAliveSeconds: 30,
      responseInformation: 'responses/',
      retainAvailable: false,
      wildcardSubscriptionAvailable: false,
      subscriptionIdentifiersAvailable: false,
      sharedSubscriptionAvailable: false,
    });
    expect(() => resolveConfig({ limits: { retainAvailable: 'no' } })).toThrow(
      'config: limits.retainAvailable = "no" is not true or false',
    );
    expect(() => resolveConfig({ limits: { receiveMaximum: 0 } })).toThrow(
      'config: limits.receiveMaximum = 0 is not a message count (1-65535)',
    );
    expect(() => resolveConfig({ limits: { responseInformation: '' } })).toThrow(
      'config: limits.responseInformation = "" is not a response information string (a non-empty string without U+0000)',
    );
  });

  it('maps the connection, rate, topic and retained limits given in a config one-to-one', () => {
    const given = {
      maxConnections: 1000,
      maxConnectRatePerAddress: 5,
      maxPublishRatePerClient: 500,
      maxTopicLevels: 16,
      maxTopicLength: 1024,
      maxRetainedMessages: 10000,
      maxRetainedBytes: 1048576,
      maxRetainedPayloadBytes: 4096,
    };
    expect(toBrokerOptions(resolveConfig({ limits: given }).limits)).toMatchObject(given);
  });

  it('passes the defaults the router has, so that an unset limit means the same in both', () => {
    for (const [name, value] of Object.entries(toBrokerOptions(defaultLimits))) {
      expect([name, value]).toEqual([name, defaultBrokerOptions[name as keyof typeof defaultBrokerOptions]]);
    }
  });

  it('maps the flow-control limits given in a config', () => {
    const { limits } = resolveConfig({
      limits: { maxPartialPacketBytes: 33554432, maxQueuedBytes: 1048576, stalledSubscriberTimeoutMs: 3000 },
    });
    expect(toBrokerOptions(limits)).toMatchObject({
      maxPartialPacketBytes: 33554432,
      maxQueuedBytes: 1048576,
      stalledSubscriberTimeoutMs: 3000,
    });
  });

  it('caps the CONNECT limit at maxPacketSize', () => {
    const options = toBrokerOptions({ ...defaultLimits, maxPacketSize: 1024 });
    expect(options.maxConnectPacketSize).toBe(1024);
  });
});

describe('resolveConfig: metrics and $SYS', () => {
  it('has no metrics server and $SYS every 10 s by default', () => {
    const config = resolveConfig({});
    expect(config.metrics).toEqual({ port: undefined, host: '127.0.0.1' });
    expect(config.sysInterval).toBe(10);
  });

  it('keeps a metrics port (0 included), host and interval (0 turns $SYS off)', () => {
    expect(resolveConfig({ metrics: { port: 9464, host: '0.0.0.0' }, sysInterval: 0 })).toMatchObject({
      metrics: { port: 9464, host: '0.0.0.0' },
      sysInterval: 0,
    });
    expect(resolveConfig({ metrics: { port: 0 } }).metrics).toEqual({ port: 0, host: '127.0.0.1' });
    expect(resolveConfig({ sysInterval: 2_147_483 }).sysInterval).toBe(2_147_483);
  });

  it.each([
    [{ metrics: { port: 70000 } }, 'config: metrics.port = 70000 is not a port (0-65535)'],
    [{ metrics: { port: '9464' } }, 'config: metrics.port = "9464" is not a port (0-65535)'],
    [{ metrics: { host: '' } }, 'config: metrics.host = "" is not a host (a non-empty string)'],
    [{ metrics: { prot: 1 } }, 'config: metrics.prot is not a known key; did you mean metrics.port?'],
    [{ metrics: 9464 }, 'config: metrics = 9464 is not a mapping (expected keys: port, host)'],
    [{ sysInterval: -1 }, 'config: sysInterval = -1 is not an interval in seconds (0-2147483)'],
    [{ sysInterval: 1.5 }, 'config: sysInterval = 1.5 is not an interval in seconds (0-2147483)'],
    [{ sysInterval: 2_147_484 }, 'config: sysInterval = 2147484 is not an interval in seconds (0-2147483)'],
  ])('rejects %j with one line', (input, message) => {
    const error = appErrorOf(() => resolveConfig(input));
    expect(error.code).toBe('BROKER_CONFIG_INVALID');
    expect(error.message).toBe(message);
  });
});
