import { copyFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers.js';
import {
  connectClient,
  makeTestCerts,
  roundTrip,
  startWithListeners,
  type TestCerts,
} from './listener-harness.js';

// TLS listeners of the built broker: server certificates, client certificates, SIGHUP reload,
// startup errors. Certificates are made with openssl for each run.

let certs: TestCerts;
const clients: MqttClient[] = [];

beforeAll(() => {
  certs = makeTestCerts();
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.endAsync(true)));
  certs?.remove();
});

async function client(url: string, options: Parameters<typeof connectClient>[1] = {}): Promise<MqttClient> {
  const connected = await connectClient(url, options);
  clients.push(connected);
  return connected;
}

/** Serial number of the certificate a TLS server on `port` serves now. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      ca: certs.read(certs.caCert),
      servername: 'localhost',
    });
    socket.once('secureConnect', () => {
      const serial = socket.getPeerCertificate().serialNumber.toUpperCase();
      socket.destroy();
      resolve(serial);
    });
    socket.once('error', reject);
  });
}

describe('tls listener', () => {
  it('serves MQTT over TLS, with and without client certificates', async () => {
    const { broker, ports, listening } = await startWithListeners(certs.dir, [
      { type: 'tcp' },
      { type: 'tls', host: '127.0.0.1', port: 0, cert: certs.serverCert, key: certs.serverKey },
      {
        type: 'tls',
        host: '127.0.0.1',
        port: 0,
        cert: certs.serverCert,
        key: certs.serverKey,
        ca: certs.caCert,
        requestCert: true,
      },
    ]);
    try {
      expect(listening.map(({ listener, host }) => ({ listener, host }))).toEqual([
        { listener: 'tcp', host: '127.0.0.1' },
        { listener: 'tls', host: '127.0.0.1' },
        { listener: 'tls', host: '127.0.0.1' },
      ]);
      const ca = certs.read(certs.caCert);
      const plain = await client(`mqtts://127.0.0.1:${ports[1]}`, { ca, clientId: 'tls-plain' });
      const mutual = await client(`mqtts://127.0.0.1:${ports[2]}`, {
        ca,
        cert: certs.read(certs.clientCert),
        key: certs.read(certs.clientKey),
        clientId: 'tls-mutual',
      });
      const overTcp = await client(`mqtt://127.0.0.1:${ports[0]}`, { clientId: 'tcp' });
      expect(await roundTrip(plain, mutual, 'tls/one', 'hello')).toEqual({
        topic: 'tls/one',
        payload: 'hello',
        qos: 1,
      });
      expect(await roundTrip(overTcp, plain, 'tls/two', 'to tcp')).toMatchObject({
        payload: 'to tcp',
        qos: 1,
      });

      // The listener asking for a client certificate refuses a client without one.
      await expect(client(`mqtts://127.0.0.1:${ports[2]}`, { ca, clientId: 'no-cert' })).rejects.toThrow();
      // A client that does not trust the CA refuses the server.
      await expect(client(`mqtts://127.0.0.1:${ports[1]}`, { clientId: 'no-ca' })).rejects.toThrow(
        /self[- ]signed|unable to (get|verify)/i,
      );
      // Others go on.
      expect(await roundTrip(mutual, plain, 'tls/three', 'still')).toMatchObject({ payload: 'still' });
    } finally {
      await broker.stop();
    }
  });

  it('reloads certificates on SIGHUP without dropping connections; a bad file keeps the old one', async () => {
    const certPath = `${certs.dir}/live.crt`;
    const keyPath = `${certs.dir}/live.key`;
    copyFileSync(certs.serverCert, certPath);
    copyFileSync(certs.serverKey, keyPath);
    const { broker, ports } = await startWithListeners(certs.dir, [
      { type: 'tcp' },
      { type: 'tls', host: '127.0.0.1', port: 0, cert: certPath, key: keyPath },
      { type: 'wss', host: '127.0.0.1', port: 0, cert: certPath, key: keyPath },
    ]);
    try {
      const ca = certs.read(certs.caCert);
      const first = certs.serialOf(certs.serverCert);
      const second = certs.serialOf(certs.otherServerCert);
      expect(await servedSerial(ports[1]!)).toBe(first);
      expect(await servedSerial(ports[2]!)).toBe(first);
      const before = await client(`mqtts://127.0.0.1:${ports[1]}`, { ca, clientId: 'before-reload' });
      const beforeWs = await client(`wss://127.0.0.1:${ports[2]}/mqtt`, {
        ca,
        clientId: 'before-reload-wss',
      });

      copyFileSync(certs.otherServerCert, certPath);
      copyFileSync(certs.otherServerKey, keyPath);
      broker.child.kill('SIGHUP');
      await broker.waitForLine(
        () => broker.lines.filter((line) => line.msg === 'certificates reloaded').length === 2,
      );
      expect(await servedSerial(ports[1]!)).toBe(second);
      expect(await servedSerial(ports[2]!)).toBe(second);
      // Connections made before the reload go on.
      expect(await roundTrip(before, beforeWs, 'reload/one', 'kept')).toMatchObject({ payload: 'kept' });
      const after = await client(`mqtts://127.0.0.1:${ports[1]}`, { ca, clientId: 'after-reload' });
      expect(await roundTrip(after, before, 'reload/two', 'new')).toMatchObject({ payload: 'new' });

      writeFileSync(certPath, 'not a certificate\n');
      broker.child.kill('SIGHUP');
      const failed = await broker.waitForLine(
        (line) => line.msg === 'certificate reload failed; keeping the old certificate',
      );
      expect(failed).toMatchObject({ level: 50, listener: 'tls', cert: certPath });
      expect(String((failed.err as { message: string }).message)).toContain(
        `listeners[1].cert = "${certPath}" is not a PEM certificate`,
      );
      expect(await servedSerial(ports[1]!)).toBe(second);
      expect(await roundTrip(after, before, 'reload/three', 'alive')).toMatchObject({ payload: 'alive' });
      expect(broker.child.exitCode).toBeNull();
    } finally {
      await broker.stop();
    }
  });
});

describe('tls startup errors', () => {
  const base = ['--port', '0', '--host', '127.0.0.1', '--store', 'memory', '--log-format', 'json'];

  it('names a missing certificate file, exit code 2', async () => {
    const missing = `${certs.dir}/missing.crt`;
    const run = await runCli([
      ...base,
      '--tls-port',
      '0',
      '--tls-cert',
      missing,
      '--tls-key',
      certs.serverKey,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `config: listeners[1].cert = "${missing}" cannot be read (ENOENT); check the file or pass --tls-cert\n`,
    );
    expect(run.stdout).not.toContain('"msg":"listening"');
  });

  it('names a tls listener without certificate, and a key that does not match', async () => {
    const noCert = await runCli([...base, '--tls-port', '0']);
    expect(noCert.code).toBe(2);
    expect(noCert.stderr).toBe(
      'config: tls.cert is not set; tls.port (--tls-port) 0 needs cert and key files: pass --tls-cert\n',
    );
    const mismatch = await runCli([
      ...base,
      '--wss-port',
      '0',
      '--tls-cert',
      certs.serverCert,
      '--tls-key',
      certs.clientKey,
    ]);
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toMatch(
      /^config: listeners\[1\]\.key = "[^"]+client\.key" does not make a secure context with listeners\[1\]\.cert = "[^"]+server\.crt" \(.+\); check the file or pass --tls-key\n$/,
    );
  });

  it('reports a TLS port in use with the --tls-port flag', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen({ port: 0, host: '127.0.0.1' }, resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const run = await runCli([
        ...base,
        '--tls-port',
        String(port),
        '--tls-cert',
        certs.serverCert,
        '--tls-key',
        certs.serverKey,
      ]);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(
        `port ${port} is in use on 127.0.0.1; pass --tls-port or stop the other process\n`,
      );
    } finally {
      blocker.close();
    }
  });

  it('--print-config shows the listeners the flags add; --help lists the flags', async () => {
    const run = await runCli([
      '--print-config',
      '--tls-port',
      '8883',
      '--ws-port',
      '8083',
      '--wss-port',
      '8084',
      '--tls-cert',
      certs.serverCert,
      '--tls-key',
      certs.serverKey,
    ]);
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout);
    expect(
      printed.listeners.map(({ type, port, path }: Record<string, unknown>) => ({ type, port, path })),
    ).toEqual([
      { type: 'tcp', port: 1883, path: undefined },
      { type: 'tls', port: 8883, path: undefined },
      { type: 'ws', port: 8083, path: '/mqtt' },
      { type: 'wss', port: 8084, path: '/mqtt' },
    ]);
    expect(printed.listeners[1]).toMatchObject({
      cert: certs.serverCert,
      key: certs.serverKey,
      requestCert: false,
    });
    const help = await runCli(['--help']);
    for (const flag of [
      '--tls-port <port>',
      '--tls-cert <file>',
      '--tls-key <file>',
      '--tls-ca <file>',
      '--ws-port <port>',
      '--wss-port <port>',
    ]) {
      expect(help.stdout).toContain(flag);
    }
    expect(help.stdout).toContain('env MQTT_ADAPT_TLS_PORT, config tls.port; default: off');
  });
});
