import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCliArgs } from '../src/cli-options.js';
import { loadConfig, readConfigFile } from '../src/load-config.js';
import { appErrorOf } from './errors-helper.js';

const dir = mkdtempSync(join(tmpdir(), 'mqtt-adapt-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const yamlFile = file(
  'broker.yaml',
  [
    'listeners:',
    '  - type: tcp',
    '    host: 127.0.0.1',
    '    port: 1890',
    'log:',
    '  level: warn',
    'dataDir: /srv/mqtt',
  ].join('\n'),
);

function load(argv: string[], env: NodeJS.ProcessEnv = {}) {
  return loadConfig(parseCliArgs(argv), env, dir).config;
}

describe('loadConfig precedence: flags > environment > file > defaults', () => {
  it('uses the defaults with nothing given', () => {
    const config = load([]);
    expect(config.listeners[0]).toMatchObject({ host: '0.0.0.0', port: 1883 });
    expect(config.log.level).toBe('info');
  });

  it('file beats defaults', () => {
    const config = load(['--config', yamlFile]);
    expect(config.listeners[0]).toMatchObject({ host: '127.0.0.1', port: 1890 });
    expect(config.log.level).toBe('warn');
    expect(config.dataDir).toBe('/srv/mqtt');
    expect(config.limits.maxQoS).toBe(2);
  });

  it('environment beats file', () => {
    const config = load(['--config', yamlFile], { MQTT_ADAPT_PORT: '1891', MQTT_ADAPT_LOG_LEVEL: 'error' });
    expect(config.listeners[0]).toMatchObject({ host: '127.0.0.1', port: 1891 });
    expect(config.log.level).toBe('error');
  });

  it('flags beat environment', () => {
    const config = load(['--config', yamlFile, '--port', '0', '--log-level', 'debug'], {
      MQTT_ADAPT_PORT: '1891',
      MQTT_ADAPT_LOG_LEVEL: 'error',
      MQTT_ADAPT_DATA_DIR: '/env/data',
    });
    expect(config.listeners[0]).toMatchObject({ host: '127.0.0.1', port: 0 });
    expect(config.log.level).toBe('debug');
    expect(config.dataDir).toBe('/env/data');
  });

  it('a flag fixes an invalid file value instead of failing on it', () => {
    const bad = file('bad-port.yaml', 'listeners:\n  - port: 70000\n');
    expect(load(['--config', bad, '--port', '1884']).listeners[0]!.port).toBe(1884);
    expect(appErrorOf(() => load(['--config', bad])).message).toBe(
      'config: listeners[0].port = 70000 is not a port (0-65535)',
    );
  });

  it('finds the file through MQTT_ADAPT_CONFIG, relative to the working directory', () => {
    expect(load([], { MQTT_ADAPT_CONFIG: 'broker.yaml' }).listeners[0]!.port).toBe(1890);
  });

  it('--config beats MQTT_ADAPT_CONFIG', () => {
    const other = file('other.json', JSON.stringify({ listeners: [{ port: 1999 }] }));
    expect(load(['--config', other], { MQTT_ADAPT_CONFIG: yamlFile }).listeners[0]!.port).toBe(1999);
  });

  it('overrides only the first listener of a file with several', () => {
    const two = file('two.yaml', 'listeners:\n  - port: 1\n  - port: 2\n');
    expect(load(['--config', two, '-p', '3']).listeners.map((l) => l.port)).toEqual([3, 2]);
  });
});

describe('readConfigFile', () => {
  it('reads JSON by extension and YAML otherwise', () => {
    expect(readConfigFile(file('a.json', '{"log":{"level":"debug"}}'))).toEqual({ log: { level: 'debug' } });
    expect(readConfigFile(file('a.yml', 'log:\n  level: debug\n'))).toEqual({ log: { level: 'debug' } });
  });

  it('reads an empty file as no keys', () => {
    expect(readConfigFile(file('empty.yaml', ''))).toEqual({});
  });

  it('fails with one line for a missing file', () => {
    const path = join(dir, 'missing.yaml');
    const error = appErrorOf(() => readConfigFile(path));
    expect(error.code).toBe('BROKER_CONFIG_FILE');
    expect(error.message).toBe(`config: cannot read ${path} (ENOENT); check --config`);
  });

  it('fails with one line, naming the position, for broken YAML', () => {
    const path = file('broken.yaml', 'listeners:\n  - port: [1883\n');
    const error = appErrorOf(() => readConfigFile(path));
    expect(error.code).toBe('BROKER_CONFIG_FILE');
    expect(error.message).toMatch(new RegExp(`^config: ${path} is not valid YAML: .*line \\d+`));
    expect(error.message).not.toContain('\n');
  });

  it('fails with one line for broken JSON', () => {
    const path = file('broken.json', '{"listeners": [}');
    const error = appErrorOf(() => readConfigFile(path));
    expect(error.message).toMatch(new RegExp(`^config: ${path} is not valid JSON: `));
    expect(error.message).not.toContain('\n');
  });

  it('fails for a file that holds a list', () => {
    const path = file('list.yaml', '- 1\n- 2\n');
    expect(appErrorOf(() => readConfigFile(path)).message).toBe(
      `config: ${path} holds a list; write a mapping of keys such as listeners, limits, log`,
    );
  });
});
