import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../src/cli-options.js';
import {
  applyOverride,
  CONFIG_FILE_ENV,
  configOptions,
  formatPath,
  helpText,
  readEnv,
} from '../src/option-table.js';
import { appErrorOf } from './errors-helper.js';

describe('parseCliArgs', () => {
  it('turns flags into checked, typed overrides', () => {
    const args = parseCliArgs([
      '--port',
      '1884',
      '--host=127.0.0.1',
      '-c',
      'broker.yaml',
      '--log-level',
      'debug',
    ]);
    expect(args.configFile).toBe('broker.yaml');
    expect(args.overrides).toEqual([
      { path: ['listeners', 0, 'host'], value: '127.0.0.1' },
      { path: ['listeners', 0, 'port'], value: 1884 },
      { path: ['log', 'level'], value: 'debug' },
    ]);
    expect(args).toMatchObject({ help: false, version: false, printConfig: false });
  });

  it('reads the command flags and short forms', () => {
    expect(parseCliArgs(['-h'])).toMatchObject({ help: true });
    expect(parseCliArgs(['--version'])).toMatchObject({ version: true });
    expect(parseCliArgs(['-v'])).toMatchObject({ version: true });
    expect(parseCliArgs(['--print-config', '-p', '0']).overrides).toEqual([
      { path: ['listeners', 0, 'port'], value: 0 },
    ]);
  });

  it('has a flag for every limit', () => {
    const args = parseCliArgs([
      '--max-packet-size=2048',
      '--max-connect-packet-size=1024',
      '--connect-timeout-ms=500',
      '--max-inflight-messages=10',
      '--max-queued-messages=20',
      '--max-partial-packet-bytes=33554432',
      '--max-queued-bytes=1048576',
      '--stalled-subscriber-timeout-ms=3000',
      '--max-qos=1',
      '--max-session-expiry=86400',
      '--write-high-water-mark-bytes=4096',
      '--shutdown-timeout-ms=100',
      '--data-dir=/var/lib/mqtt-adapt',
      '--log-format=json',
    ]);
    expect(Object.fromEntries(args.overrides.map((o) => [formatPath(o.path), o.value]))).toEqual({
      'limits.maxPacketSize': 2048,
      'limits.maxConnectPacketSize': 1024,
      'limits.connectTimeoutMs': 500,
      'limits.maxInflightMessages': 10,
      'limits.maxQueuedMessages': 20,
      'limits.maxPartialPacketBytes': 33554432,
      'limits.maxQueuedBytes': 1048576,
      'limits.stalledSubscriberTimeoutMs': 3000,
      'limits.maxQoS': 1,
      'limits.maxSessionExpirySeconds': 86400,
      'listeners[0].writeHighWaterMarkBytes': 4096,
      shutdownTimeoutMs: 100,
      dataDir: '/var/lib/mqtt-adapt',
      'log.format': 'json',
    });
  });

  it.each([
    [['--port', '70000'], 'config: --port = 70000 is not a port (0-65535)'],
    [['--port', 'abc'], 'config: --port = "abc" is not a port (0-65535)'],
    [['--port', '1e3'], 'config: --port = "1e3" is not a port (0-65535)'],
    [['--port'], 'config: --port needs a value, e.g. --port 1883'],
    [['--port', '--host', 'x'], 'config: --port needs a value, e.g. --port 1883'],
    [['--prot', '1'], 'config: unknown option --prot; did you mean --port?'],
    [['--frobnicate'], 'config: unknown option --frobnicate; see --help'],
    [['--help=yes'], 'config: --help takes no value; drop "=yes"'],
    [['start'], 'config: unexpected argument "start"; options start with --, see --help'],
    [['--max-qos', '3'], 'config: --max-qos = 3 is not a QoS (0, 1, 2)'],
    [
      ['--max-session-expiry', '4294967296'],
      'config: --max-session-expiry = 4294967296 is not a number of seconds (0-4294967295)',
    ],
    [
      ['--max-queued-bytes', '1k'],
      'config: --max-queued-bytes = "1k" is not a size in bytes (1024-9007199254740991)',
    ],
    [
      ['--stalled-subscriber-timeout-ms', '0'],
      'config: --stalled-subscriber-timeout-ms = 0 is not a timeout in ms (1-2147483647)',
    ],
    [
      ['--log-level', 'loud'],
      'config: --log-level = "loud" is not a log level (fatal, error, warn, info, debug, trace, silent)',
    ],
  ])('rejects %j with one line', (argv, message) => {
    const error = appErrorOf(() => parseCliArgs(argv));
    expect(error.code).toBe('BROKER_CONFIG_INVALID');
    expect(error.message).toBe(message);
  });
});

describe('readEnv', () => {
  it('reads one variable per option, typed and checked', () => {
    const settings = readEnv({
      MQTT_ADAPT_PORT: '1885',
      MQTT_ADAPT_HOST: '::1',
      MQTT_ADAPT_LOG_LEVEL: 'warn',
      MQTT_ADAPT_MAX_QOS: '0',
      MQTT_ADAPT_MAX_PARTIAL_PACKET_BYTES: '67108864',
      MQTT_ADAPT_MAX_QUEUED_BYTES: '134217728',
      MQTT_ADAPT_STALLED_SUBSCRIBER_TIMEOUT_MS: '5000',
      MQTT_ADAPT_CONFIG: '/etc/mqtt-adapt.yaml',
      PATH: '/usr/bin',
    });
    expect(settings.configFile).toBe('/etc/mqtt-adapt.yaml');
    expect(settings.overrides).toEqual([
      { path: ['listeners', 0, 'host'], value: '::1' },
      { path: ['listeners', 0, 'port'], value: 1885 },
      { path: ['limits', 'maxPartialPacketBytes'], value: 67108864 },
      { path: ['limits', 'maxQueuedBytes'], value: 134217728 },
      { path: ['limits', 'stalledSubscriberTimeoutMs'], value: 5000 },
      { path: ['limits', 'maxQoS'], value: 0 },
      { path: ['log', 'level'], value: 'warn' },
    ]);
  });

  it('treats an empty variable as unset', () => {
    expect(readEnv({ MQTT_ADAPT_PORT: '', MQTT_ADAPT_CONFIG: '' })).toEqual({
      configFile: undefined,
      overrides: [],
    });
  });

  it('names the variable of a bad value', () => {
    expect(appErrorOf(() => readEnv({ MQTT_ADAPT_PORT: '65536' })).message).toBe(
      'config: MQTT_ADAPT_PORT = 65536 is not a port (0-65535)',
    );
  });

  it('rejects an unknown MQTT_ADAPT_ variable, suggesting the near one', () => {
    expect(appErrorOf(() => readEnv({ MQTT_ADAPT_PROT: '1' })).message).toBe(
      'config: environment variable MQTT_ADAPT_PROT is not known; did you mean MQTT_ADAPT_PORT?',
    );
  });
});

describe('applyOverride', () => {
  it('creates the first listener and the mappings on its way', () => {
    const raw: Record<string, unknown> = {};
    applyOverride(raw, { path: ['listeners', 0, 'port'], value: 1 });
    applyOverride(raw, { path: ['log', 'level'], value: 'debug' });
    applyOverride(raw, { path: ['dataDir'], value: '/d' });
    expect(raw).toEqual({ listeners: [{ port: 1 }], log: { level: 'debug' }, dataDir: '/d' });
  });

  it('overrides only the first of several listeners', () => {
    const raw: Record<string, unknown> = { listeners: [{ port: 1883 }, { port: 1884 }] };
    applyOverride(raw, { path: ['listeners', 0, 'port'], value: 0 });
    expect(raw).toEqual({ listeners: [{ port: 0 }, { port: 1884 }] });
  });

  it('leaves a wrongly shaped value for validation to report', () => {
    const raw: Record<string, unknown> = { listeners: 5, log: 'x' };
    applyOverride(raw, { path: ['listeners', 0, 'port'], value: 0 });
    applyOverride(raw, { path: ['log', 'level'], value: 'debug' });
    expect(raw).toEqual({ listeners: 5, log: 'x' });
  });
});

describe('helpText', () => {
  const help = helpText('1.2.3');

  it('shows every option with its flag, variable, config key and default', () => {
    for (const spec of configOptions) {
      expect(help).toContain(spec.isSwitch ? `--${spec.flag} ` : `--${spec.flag} <${spec.placeholder}>`);
      expect(help).toContain(
        `env ${spec.env}, config ${formatPath(spec.path)}; default: ${spec.defaultValue}`,
      );
    }
    expect(help).toContain('default: 1883');
    expect(help).toContain('default: 0.0.0.0');
    expect(help).toContain('default: ./data');
  });

  it('shows the command flags, the config file, precedence and exit codes', () => {
    for (const flag of ['--config <file>', '--print-config', '--help', '--version'])
      expect(help).toContain(flag);
    expect(help).toContain(CONFIG_FILE_ENV);
    expect(help).toContain('mqtt-adapt 1.2.3');
    expect(help).toContain('flags > environment variables > config file > defaults');
    expect(help).toContain('2 invalid config');
  });

  it('keeps every flag and variable unique', () => {
    const flags = configOptions.map((spec) => spec.flag);
    const envs = configOptions.map((spec) => spec.env);
    expect(new Set(flags).size).toBe(flags.length);
    expect(new Set(envs).size).toBe(envs.length);
    for (const env of envs) expect(env).toMatch(/^MQTT_ADAPT_[A-Z0-9_]+$/);
  });
});

describe('metrics and $SYS options', () => {
  it('map --metrics-port, --metrics-host and --sys-interval (and their variables) onto the config', () => {
    const args = parseCliArgs(['--metrics-port', '9464', '--metrics-host=0.0.0.0', '--sys-interval', '0']);
    expect(args.overrides).toEqual([
      { path: ['metrics', 'port'], value: 9464 },
      { path: ['metrics', 'host'], value: '0.0.0.0' },
      { path: ['sysInterval'], value: 0 },
    ]);
    expect(
      readEnv({ MQTT_ADAPT_METRICS_PORT: '0', MQTT_ADAPT_METRICS_HOST: '::1', MQTT_ADAPT_SYS_INTERVAL: '30' })
        .overrides,
    ).toEqual([
      { path: ['metrics', 'port'], value: 0 },
      { path: ['metrics', 'host'], value: '::1' },
      { path: ['sysInterval'], value: 30 },
    ]);
  });

  it.each([
    [['--metrics-port', 'off'], 'config: --metrics-port = "off" is not a port (0-65535)'],
    [['--metrics-port', '65536'], 'config: --metrics-port = 65536 is not a port (0-65535)'],
    [['--metrics-port'], 'config: --metrics-port needs a value, e.g. --metrics-port 9464'],
    [['--sys-interval', '-1'], 'config: --sys-interval = "-1" is not an interval in seconds (0-2147483)'],
    [['--sys-interval', '1.5'], 'config: --sys-interval = "1.5" is not an interval in seconds (0-2147483)'],
    [['--metrics-host', ' '], 'config: --metrics-host = "" is not a host (a non-empty string)'],
  ])('rejects %j with one line', (argv, message) => {
    expect(appErrorOf(() => parseCliArgs(argv)).message).toBe(message);
  });

  it('shows the metrics port as off by default in --help', () => {
    const help = helpText('1.0.0');
    expect(help).toContain('--metrics-port <port>');
    expect(help).toContain('env MQTT_ADAPT_METRICS_PORT, config metrics.port; default: off');
    expect(help).toContain('env MQTT_ADAPT_METRICS_HOST, config metrics.host; default: 127.0.0.1');
    expect(help).toContain('env MQTT_ADAPT_SYS_INTERVAL, config sysInterval; default: 10');
  });
});

describe('MQTT 5.0 CONNACK options', () => {
  it('map --receive-maximum, --server-keep-alive, --response-information and the four Available flags (and variables) onto limits', () => {
    const args = parseCliArgs([
      '--receive-maximum',
      '20',
      '--server-keep-alive=60',
      '--response-information',
      'responses/',
      '--retain-available',
      'false',
      '--wildcard-subscription-available=false',
      '--subscription-identifiers-available',
      'false',
      '--shared-subscription-available=true',
    ]);
    expect(Object.fromEntries(args.overrides.map((o) => [formatPath(o.path), o.value]))).toEqual({
      'limits.receiveMaximum': 20,
      'limits.serverKeepAliveSeconds': 60,
      'limits.responseInformation': 'responses/',
      'limits.retainAvailable': false,
      'limits.wildcardSubscriptionAvailable': false,
      'limits.subscriptionIdentifiersAvailable': false,
      'limits.sharedSubscriptionAvailable': true,
    });
    const env = readEnv({
      MQTT_ADAPT_RECEIVE_MAXIMUM: '100',
      MQTT_ADAPT_SERVER_KEEP_ALIVE: '0',
      MQTT_ADAPT_RETAIN_AVAILABLE: 'true',
      MQTT_ADAPT_SHARED_SUBSCRIPTION_AVAILABLE: 'false',
    });
    expect(Object.fromEntries(env.overrides.map((o) => [formatPath(o.path), o.value]))).toEqual({
      'limits.receiveMaximum': 100,
      'limits.serverKeepAliveSeconds': 0,
      'limits.retainAvailable': true,
      'limits.sharedSubscriptionAvailable': false,
    });
  });

  it.each([
    [['--receive-maximum', '0'], 'config: --receive-maximum = 0 is not a message count (1-65535)'],
    [['--receive-maximum', '65536'], 'config: --receive-maximum = 65536 is not a message count (1-65535)'],
    [
      ['--server-keep-alive', '65536'],
      'config: --server-keep-alive = 65536 is not a keepalive in seconds (0-65535)',
    ],
    [['--server-keep-alive'], 'config: --server-keep-alive needs a value, e.g. --server-keep-alive 60'],
    [['--retain-available', 'no'], 'config: --retain-available = "no" is not true or false'],
    [
      ['--wildcard-subscription-available', '0'],
      'config: --wildcard-subscription-available = "0" is not true or false',
    ],
    [
      ['--response-information', ' '],
      'config: --response-information = "" is not a response information string (a non-empty string without U+0000)',
    ],
  ])('rejects %j with one line', (argv, message) => {
    expect(appErrorOf(() => parseCliArgs(argv)).message).toBe(message);
  });

  it('shows their defaults in --help', () => {
    const help = helpText('1.0.0');
    expect(help).toContain('env MQTT_ADAPT_RECEIVE_MAXIMUM, config limits.receiveMaximum; default: 65535');
    expect(help).toContain(
      'env MQTT_ADAPT_SERVER_KEEP_ALIVE, config limits.serverKeepAliveSeconds; default: off',
    );
    expect(help).toContain(
      'env MQTT_ADAPT_RESPONSE_INFORMATION, config limits.responseInformation; default: none',
    );
    expect(help).toContain('env MQTT_ADAPT_RETAIN_AVAILABLE, config limits.retainAvailable; default: true');
  });
});
