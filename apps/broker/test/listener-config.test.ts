import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../src/cli-options.js';
import { resolveConfig } from '../src/config.js';
import { loadConfig } from '../src/load-config.js';
import { appErrorOf } from './errors-helper.js';

// The listener kinds (tcp, tls, ws, wss), their per-listener limits and the --tls-*/--ws-*
// shortcuts, as resolveConfig validates them (files are read later, at startup).

const files = { cert: '/etc/mqtt/server.crt', key: '/etc/mqtt/server.key' };

describe('resolveConfig: listeners', () => {
  it('fills the defaults of every kind', () => {
    const { listeners } = resolveConfig({
      listeners: [{ type: 'tcp' }, { type: 'tls', ...files }, { type: 'ws' }, { type: 'wss', ...files }],
    });
    const base = {
      host: '0.0.0.0',
      writeHighWaterMarkBytes: 1048576,
      maxConnections: 0,
      protocolVersions: [3, 4, 5],
    };
    const tls = {
      ...files,
      ca: undefined,
      requestCert: false,
      rejectUnauthorized: true,
      useIdentityAsUsername: false,
    };
    expect(listeners).toEqual([
      { type: 'tcp', ...base, port: 1883 },
      { type: 'tls', ...base, port: 8883, ...tls },
      { type: 'ws', ...base, port: 8083, path: '/mqtt' },
      { type: 'wss', ...base, port: 8084, path: '/mqtt', ...tls },
    ]);
  });

  it('keeps per-listener limits and client-certificate options', () => {
    const { listeners } = resolveConfig({
      listeners: [
        { type: 'tcp', port: 0, maxConnections: 10, protocolVersions: [5, 4] },
        { type: 'tls', ...files, ca: '/etc/mqtt/ca.crt', requestCert: true, rejectUnauthorized: false },
        { type: 'ws', path: '/broker/mqtt', protocolVersions: [3] },
      ],
    });
    expect(listeners[0]).toMatchObject({ maxConnections: 10, protocolVersions: [4, 5] });
    expect(listeners[1]).toMatchObject({
      ca: '/etc/mqtt/ca.crt',
      requestCert: true,
      rejectUnauthorized: false,
    });
    expect(listeners[2]).toMatchObject({ path: '/broker/mqtt', protocolVersions: [3] });
  });

  it('adds one listener per tls/ws/wss port on the first host; tls files apply to tls and wss', () => {
    const config = resolveConfig({
      listeners: [{ host: '127.0.0.1', port: 1884 }],
      tls: { port: 8883, ...files, ca: '/ca.crt' },
      ws: { port: 0 },
      wss: { port: 8084 },
    });
    expect(config.listeners.map(({ type, host, port }) => ({ type, host, port }))).toEqual([
      { type: 'tcp', host: '127.0.0.1', port: 1884 },
      { type: 'tls', host: '127.0.0.1', port: 8883 },
      { type: 'ws', host: '127.0.0.1', port: 0 },
      { type: 'wss', host: '127.0.0.1', port: 8084 },
    ]);
    expect(config.listeners[3]).toMatchObject({ ...files, ca: '/ca.crt' });
    // Folded into listeners: resolving the result again gives the same config.
    expect(resolveConfig(config)).toEqual(config);
    // A listener's own files win over tls.cert / tls.key.
    const own = resolveConfig({
      listeners: [{ type: 'wss', cert: '/own.crt', key: '/own.key' }],
      tls: files,
    });
    expect(own.listeners[0]).toMatchObject({ cert: '/own.crt', key: '/own.key' });
  });

  it('reads --tls-port, --tls-cert, --ws-port and their variables', () => {
    const args = parseCliArgs(['--tls-port', '8883', '--tls-cert', files.cert, '--ws-port', '8083']);
    const { config } = loadConfig(args, { MQTT_ADAPT_TLS_KEY: files.key, MQTT_ADAPT_WSS_PORT: '0' });
    expect(config.listeners.map(({ type, port }) => `${type}:${port}`)).toEqual([
      'tcp:1883',
      'tls:8883',
      'ws:8083',
      'wss:0',
    ]);
    expect(config.listeners[1]).toMatchObject(files);
    expect(appErrorOf(() => parseCliArgs(['--tls-port', '70000'])).message).toBe(
      'config: --tls-port = 70000 is not a port (0-65535)',
    );
  });

  it.each([
    [
      { listeners: [{ type: 'tls' }] },
      'config: listeners[0].cert is not set; a tls listener needs cert and key files: set listeners[0].cert or pass --tls-cert',
    ],
    [
      { listeners: [{ type: 'wss', cert: '/a.crt' }] },
      'config: listeners[0].key is not set; a wss listener needs cert and key files: set listeners[0].key or pass --tls-key',
    ],
    [
      { tls: { port: 8883 } },
      'config: tls.cert is not set; tls.port (--tls-port) 8883 needs cert and key files: pass --tls-cert',
    ],
    [
      { listeners: [{ type: 'tls', ...files, requestCert: true }] },
      'config: listeners[0].requestCert = true needs listeners[0].ca, the CA that signs client certificates; pass --tls-ca',
    ],
    [
      { listeners: [{ type: 'tls', ...files, useIdentityAsUsername: true }] },
      'config: listeners[0].useIdentityAsUsername = true takes the username from a client certificate: set listeners[0].requestCert = true and a ca',
    ],
    [
      { listeners: [{ type: 'tls', ...files, requestCert: 'yes' }] },
      'config: listeners[0].requestCert = "yes" is not a boolean (true, false)',
    ],
    [
      { listeners: [{ type: 'tls', cert: '', key: 'k' }] },
      'config: listeners[0].cert = "" is not a file path (a non-empty string)',
    ],
    [
      { listeners: [{ type: 'ws', path: 'mqtt' }] },
      'config: listeners[0].path = "mqtt" is not an HTTP path (starting with /, e.g. "/mqtt")',
    ],
    [
      { listeners: [{ type: 'tcp', path: '/mqtt' }] },
      'config: listeners[0].path is not a known key; known keys: type, host, port, writeHighWaterMarkBytes, maxConnections, protocolVersions',
    ],
    [
      { listeners: [{ maxConnections: -1 }] },
      'config: listeners[0].maxConnections = -1 is not a connection count (0 = unlimited) (0-2147483647)',
    ],
    [
      { listeners: [{ protocolVersions: [] }] },
      'config: listeners[0].protocolVersions = [] is not a list of protocol levels (3 = 3.1, 4 = 3.1.1, 5 = 5.0), e.g. [4, 5]',
    ],
    [
      { listeners: [{ protocolVersions: [4, 6] }] },
      'config: listeners[0].protocolVersions = [4,6] is not a list of protocol levels (3 = 3.1, 4 = 3.1.1, 5 = 5.0), e.g. [4, 5]',
    ],
    [
      { listeners: [{ protocolVersions: [5, 5] }] },
      'config: listeners[0].protocolVersions = [5,5] is not a list of protocol levels (3 = 3.1, 4 = 3.1.1, 5 = 5.0), e.g. [4, 5]',
    ],
    [{ ws: { port: 'x' } }, 'config: ws.port = "x" is not a port (0-65535)'],
    [{ tls: { prot: 1 } }, 'config: tls.prot is not a known key; did you mean tls.port?'],
  ])('rejects %j with one line naming key, value and fix', (input, message) => {
    expect(appErrorOf(() => resolveConfig(input)).message).toBe(message);
  });
});
