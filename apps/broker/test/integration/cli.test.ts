import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSocket, readUntilClosed, runCli, startTestBroker } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'mqtt-adapt-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('mqtt-adapt startup', () => {
  it('logs one JSON listening line with the bound host, port and store', async () => {
    const broker = await startTestBroker();
    try {
      const listening = broker.lines.filter((line) => line.msg === 'listening');
      expect(listening).toHaveLength(1);
      // sqlite is the default store.
      expect(listening[0]).toMatchObject({ level: 30, listener: 'tcp', host: '127.0.0.1', store: 'sqlite' });
      expect(broker.port).toBeGreaterThan(0);
      expect(broker.port).toBeLessThan(65536);
      const socket = await openSocket(broker.port);
      socket.destroy();
      expect(broker.stderr).toEqual([]);
    } finally {
      await broker.stop();
    }
  });

  it('fails with one line and exit code 1 when the port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen({ port: 0, host: '127.0.0.1' }, resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const run = await runCli(['--port', String(port), '--host', '127.0.0.1', '--log-format', 'json']);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(`port ${port} is in use on 127.0.0.1; pass --port or stop the other process\n`);
      // The store opened (and logged so) before the port was tried; nothing listened.
      expect(run.stdout).not.toContain('"msg":"listening"');
    } finally {
      blocker.close();
    }
  });

  it('fails with one line and exit code 2 for an invalid config file', async () => {
    const path = configFile('bad-port.yaml', 'listeners:\n  - type: tcp\n    port: 70000\n');
    const run = await runCli(['--config', path]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('config: listeners[0].port = 70000 is not a port (0-65535)\n');
    expect(run.stdout).toBe('');
  });

  it('fails with one line and exit code 2 for a config file that does not parse', async () => {
    const path = configFile('broken.yaml', 'listeners: [\n');
    const run = await runCli(['--config', path]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^config: ${path} is not valid YAML: [^\\n]+\\n$`));
  });

  it('fails with one line and exit code 2 for a bad flag or variable', async () => {
    const flag = await runCli(['--prot', '1884']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe('config: unknown option --prot; did you mean --port?\n');
    const variable = await runCli([], { MQTT_ADAPT_MAX_QOS: '5' });
    expect(variable.code).toBe(2);
    expect(variable.stderr).toBe('config: MQTT_ADAPT_MAX_QOS = 5 is not a QoS (0, 1, 2)\n');
  });

  it('--help shows every option with its default, --version the version', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--port <port>');
    expect(help.stdout).toContain('env MQTT_ADAPT_PORT, config listeners[0].port; default: 1883');
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\S*\n$/);
  });
});

describe('mqtt-adapt --print-config', () => {
  it('prints the merged config (flags > env > file > defaults), redacted, and exits 0', async () => {
    const path = configFile(
      'print.yaml',
      'listeners:\n  - host: 127.0.0.1\n    port: 1900\nlimits:\n  maxQoS: 1\nlog:\n  level: warn\n',
    );
    const run = await runCli(['--config', path, '--print-config', '--log-level', 'debug'], {
      MQTT_ADAPT_PORT: '1901',
      MQTT_ADAPT_LOG_LEVEL: 'error',
    });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const printed = JSON.parse(run.stdout);
    expect(printed.listeners).toEqual([
      {
        type: 'tcp',
        host: '127.0.0.1',
        port: 1901,
        writeHighWaterMarkBytes: 1048576,
        maxConnections: 0,
        protocolVersions: [3, 4, 5],
      },
    ]);
    expect(printed.limits.maxQoS).toBe(1);
    expect(printed.limits.maxPacketSize).toBe(268435460);
    expect(printed.log.level).toBe('debug');
    expect(printed.dataDir).toBe('./data');
  });

  it('does not start a broker or create the data directory', async () => {
    const dataDir = join(dir, 'data-not-created');
    const run = await runCli(['--print-config', '--data-dir', dataDir]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).dataDir).toBe(dataDir);
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('mqtt-adapt shutdown', () => {
  it('exits 0 promptly on SIGTERM, logging shutting down and stopped', async () => {
    const broker = await startTestBroker();
    const exit = await broker.stop('SIGTERM');
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.durationMs).toBeLessThan(3000);
    expect(broker.lines.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['shutting down', 'stopped']),
    );
    expect(broker.lines.find((line) => line.msg === 'shutting down')).toMatchObject({ signal: 'SIGTERM' });
  });

  it('exits 0 on SIGINT with an open connection, which it closes', async () => {
    const broker = await startTestBroker();
    const socket = await openSocket(broker.port);
    const closed = readUntilClosed(socket);
    const exit = await broker.stop('SIGINT');
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.durationMs).toBeLessThan(3000);
    await closed;
  });

  it('frees the port: a new broker binds it right after', async () => {
    const first = await startTestBroker();
    await first.stop();
    const second = await startTestBroker({ args: ['--port', String(first.port)] });
    expect(second.port).toBe(first.port);
    await second.stop();
  });
});
