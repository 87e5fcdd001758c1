import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { packageVersion, prepareCli } from '../src/cli-command.js';

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('prepareCli', () => {
  it('--help prints the help and exits 0', () => {
    const command = prepareCli(['--help'], {});
    expect(command).toMatchObject({ kind: 'exit', exitCode: 0, stderr: '' });
    expect(command.kind === 'exit' && command.stdout).toContain('Usage: mqtt-adapt [options]');
  });

  it('--help wins over an invalid config', () => {
    expect(prepareCli(['--help'], { MQTT_ADAPT_PORT: 'x' })).toMatchObject({ kind: 'exit', exitCode: 0 });
  });

  it('--version prints the package version', () => {
    expect(packageVersion()).toBe(manifest.version);
    expect(prepareCli(['--version'], {})).toEqual({
      kind: 'exit',
      exitCode: 0,
      stdout: `${manifest.version}\n`,
      stderr: '',
    });
  });

  it('--print-config prints the merged config as JSON', () => {
    const command = prepareCli(['--print-config', '--port', '0'], { MQTT_ADAPT_LOG_LEVEL: 'debug' });
    expect(command.kind).toBe('exit');
    if (command.kind !== 'exit') return;
    const printed = JSON.parse(command.stdout);
    expect(printed.listeners[0].port).toBe(0);
    expect(printed.log.level).toBe('debug');
    expect(printed.limits.maxPacketSize).toBe(268435460);
    expect(printed.limits.maxInflightMessages).toBe(256);
    expect(printed.limits.stalledSubscriberTimeoutMs).toBe(30000);
  });

  it('a config error is one line on stderr and exit code 2', () => {
    expect(prepareCli(['--port', '70000'], {})).toEqual({
      kind: 'exit',
      exitCode: 2,
      stdout: '',
      stderr: 'config: --port = 70000 is not a port (0-65535)\n',
    });
    const missing = prepareCli(['--config', '/nonexistent/broker.yaml'], {});
    expect(missing).toMatchObject({ kind: 'exit', exitCode: 2 });
  });

  it('otherwise starts the broker with the resolved config', () => {
    const command = prepareCli(['--port', '0', '--host', '127.0.0.1'], {});
    expect(command.kind).toBe('start');
    if (command.kind !== 'start') return;
    expect(command.config.listeners).toEqual([
      {
        type: 'tcp',
        host: '127.0.0.1',
        port: 0,
        writeHighWaterMarkBytes: 1048576,
        maxConnections: 0,
        protocolVersions: [3, 4, 5],
      },
    ]);
    expect(command.configFile).toBeUndefined();
  });
});
