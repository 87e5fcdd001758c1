import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { type LogLine, startTestBroker, type TestBroker } from './helpers.js';

/**
 * Test certificates made with openssl at test time (P-256 keys: fast): a CA, server
 * certificates for 127.0.0.1 / localhost, and a client certificate, all in one temp directory.
 */
export interface TestCerts {
  readonly dir: string;
  /** Paths. */
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A second server certificate (another serial), for reload tests. */
  readonly otherServerCert: string;
  readonly otherServerKey: string;
  /** File contents, for MQTT.js options. */
  read(path: string): Buffer;
  /** Serial number (hex, upper case) of a certificate file. */
  serialOf(path: string): string;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function issue(dir: string, name: string, subject: string, serial: string, extensions: string): void {
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, `${extensions}\n`);
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.ec.key`]);
  // PKCS#8, the format Node and most brokers read.
  openssl(dir, ['pkcs8', '-topk8', '-nocrypt', '-in', `${name}.ec.key`, '-out', `${name}.key`]);
  openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-set_serial',
    serial,
    '-days',
    '2',
    '-extfile',
    ext,
    '-out',
    `${name}.crt`,
  ]);
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-adapt-certs-'));
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key']);
  openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    'ca.key',
    '-subj',
    '/CN=mqtt-adapt test CA',
    '-days',
    '2',
    '-out',
    'ca.crt',
  ]);
  const serverExt = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth';
  issue(dir, 'server', '/CN=localhost', '0x1001', serverExt);
  issue(dir, 'server2', '/CN=localhost', '0x1002', serverExt);
  issue(dir, 'client', '/CN=device-1', '0x2001', 'extendedKeyUsage=clientAuth');
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
    otherServerCert: join(dir, 'server2.crt'),
    otherServerKey: join(dir, 'server2.key'),
    read: (path) => readFileSync(path),
    serialOf: (path) => new X509Certificate(readFileSync(path)).serialNumber.toUpperCase(),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// --- brokers with a list of listeners, and MQTT.js clients on them ---

export interface ListenerBroker {
  readonly broker: TestBroker;
  /** Bound port of each listener, in config order. */
  readonly ports: number[];
  /** The `listening` lines, in config order. */
  readonly listening: LogLine[];
  readonly configPath: string;
}

/**
 * Starts the built broker with `listeners` from a config file (the harness's `--port 0 --host
 * 127.0.0.1` apply to the first), memory store, and waits for one `listening` line per listener.
 */
export async function startWithListeners(
  dir: string,
  listeners: ReadonlyArray<Record<string, unknown>>,
  args: readonly string[] = [],
): Promise<ListenerBroker> {
  const configPath = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(configPath, JSON.stringify({ listeners }));
  const broker = await startTestBroker({
    args: ['--config', configPath, '--store', 'memory', '--log-level', 'debug', ...args],
  });
  await broker.waitForLine(() => listeningLines(broker).length >= listeners.length);
  const listening = listeningLines(broker);
  return { broker, ports: listening.map((line) => Number(line.port)), listening, configPath };
}

function listeningLines(broker: TestBroker): LogLine[] {
  return broker.lines.filter((line) => line.msg === 'listening' && line.listener !== 'metrics');
}

/**
 * MQTT.js `connectAsync` without retries that also fails when the connection closes before
 * CONNACK (a refused TLS client certificate shows as a close, not always an error).
 */
export function connectClient(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    const fail = (error: Error) => {
      client.end(true);
      reject(error);
    };
    client.once('connect', () => {
      client.off('error', fail);
      resolve(client);
    });
    client.once('error', fail);
    client.once('close', () => fail(new Error('connection closed before CONNACK')));
  });
}

/** Subscribes `subscriber` to `topic` at QoS 1, publishes from `publisher` at QoS 1, resolves with what arrived. */
export async function roundTrip(
  subscriber: MqttClient,
  publisher: MqttClient,
  topic: string,
  payload: string,
): Promise<{ topic: string; payload: string; qos: number }> {
  await subscriber.subscribeAsync(topic, { qos: 1 });
  const received = new Promise<{ topic: string; payload: string; qos: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message on ${topic}`)), 5000);
    const onMessage = (got: string, body: Buffer, packet: { qos: number }) => {
      if (got !== topic) return;
      clearTimeout(timer);
      subscriber.off('message', onMessage);
      resolve({ topic: got, payload: body.toString(), qos: packet.qos });
    };
    subscriber.on('message', onMessage);
  });
  await publisher.publishAsync(topic, payload, { qos: 1 });
  return received;
}
