import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { prepareCli } from '../src/cli-command.js';
import { resolveConfig } from '../src/config.js';
import { appErrorOf } from './errors-helper.js';

const rabbit = {
  name: 'plant',
  type: 'rabbitmq',
  url: 'amqp://guest:s3cret@127.0.0.1:5672',
  exchange: { name: 'iot' },
  queues: [{ name: 'telemetry', bindings: ['telemetry.#'] }],
  uplinks: [
    {
      name: 'telemetry',
      template: '{node_id}/{device_id}/telemetry',
      destination: 'telemetry.{node_id}.{device_id}',
    },
  ],
  downlinks: [{ name: 'commands', source: 'commands' }],
};

function errorOf(bridge: Record<string, unknown>): string {
  return appErrorOf(() => resolveConfig({ bridges: [bridge] })).message;
}

describe('bridges: config', () => {
  it('fills every default of a bridge and its rules', () => {
    const [bridge] = resolveConfig({ bridges: [rabbit] }).bridges;
    expect(bridge).toEqual({
      name: 'plant',
      type: 'rabbitmq',
      url: 'amqp://guest:s3cret@127.0.0.1:5672',
      exchange: { name: 'iot', type: 'topic', durable: true },
      queues: [{ name: 'telemetry', bindings: ['telemetry.#'] }],
      stream: undefined,
      maxLen: undefined,
      clientId: undefined,
      prefixes: [],
      requestReply: {
        commandTemplate: '{node_id}/{device_id}/command',
        responseTemplate: '{node_id}/{device_id}/response',
        qos: 1,
        timeoutMs: 30000,
        correlation: 'auto',
      },
      uplinks: [
        {
          name: 'telemetry',
          template: '{node_id}/{device_id}/telemetry',
          filter: undefined,
          destination: 'telemetry.{node_id}.{device_id}',
          kind: undefined,
          qos: 1,
          ack: 'store',
          maxInFlight: 256,
          concurrency: 16,
          codec: 'json',
          retry: { initialDelayMs: 100, maxDelayMs: 10000, multiplier: 2, jitter: 0.5, maxAttempts: 5 },
          deadLetter: undefined,
        },
      ],
      downlinks: [
        {
          name: 'commands',
          source: 'commands',
          bindings: [],
          group: undefined,
          consumer: 'mqtt-adapt-plant-commands',
          template: undefined,
          qos: 1,
          retain: false,
          codec: 'json',
          maxInFlight: 256,
          concurrency: 16,
          retry: { initialDelayMs: 100, maxDelayMs: 10000, multiplier: 2, jitter: 0.5, maxAttempts: 5 },
          deadLetter: undefined,
          responseTimeoutMs: undefined,
        },
      ],
    });
  });

  it('validates its own output again unchanged (startBroker resolves what the CLI resolved)', () => {
    const bridges = [
      rabbit,
      { name: 'r', type: 'redis', url: 'redis://127.0.0.1:6379', downlinks: [{ name: 'c', source: 'cmd' }] },
      {
        name: 'n',
        type: 'nats',
        url: 'nats://a:4222, nats://b:4222',
        stream: { name: 'IOT', subjects: ['iot.>'] },
        uplinks: [{ name: 'u', filter: 's/#', destination: 'iot.x', ack: 'after-confirm' }],
      },
      {
        name: 'm',
        type: 'mqtt',
        url: 'mqtt://127.0.0.1:1883',
        prefixes: [{ local: 'a/', remote: 'b/' }],
        uplinks: [{ name: 'u', filter: 'a/#' }],
      },
    ];
    const once = resolveConfig({ bridges }).bridges;
    expect(resolveConfig({ bridges: once }).bridges).toEqual(once);
    expect(once[3]).toMatchObject({
      clientId: 'mqtt-adapt-bridge-m',
      uplinks: [{ codec: 'raw', destination: undefined }],
    });
    expect(once[1]?.downlinks[0]?.group).toBe('mqtt-adapt');
  });

  it.each([
    [
      { ...rabbit, type: undefined },
      'config: bridges[0].type is missing; set one of rabbitmq, nats, redis, mqtt',
    ],
    [
      { ...rabbit, type: 'kafka' },
      'config: bridges[0].type = "kafka" is not a bridge type (rabbitmq, nats, redis, mqtt)',
    ],
    [
      { ...rabbit, name: 'a b' },
      'config: bridges[0].name = "a b" is not a name (1-64 letters, digits, _ and -)',
    ],
    [
      { ...rabbit, url: 'redis://guest:s3cret@127.0.0.1' },
      'config: bridges[0].url = "redis://guest:[redacted]@127.0.0.1" is not a rabbitmq URL (amqp://, amqps://)',
    ],
    [
      { ...rabbit, stream: { name: 'X', subjects: ['a'] } },
      'config: bridges[0].stream is only read by nats bridges, not rabbitmq; remove it',
    ],
    [
      { ...rabbit, exchange: undefined },
      'config: bridges[0].exchange is missing; rabbitmq uplinks publish to an exchange (exchange: { name: iot })',
    ],
    [
      { ...rabbit, requestReply: { correlation: 'header' } },
      'config: bridges[0].requestReply.correlation = "header" is not a correlation (auto, envelope)',
    ],
    [
      { ...rabbit, uplinks: [], downlinks: [] },
      'config: bridges[0] has no uplinks and no downlinks; add a rule or remove the bridge',
    ],
    [
      {
        ...rabbit,
        uplinks: [{ name: 'u', template: '{node_id}/{device_id}/x', filter: 'a/#', destination: 'd' }],
      },
      'config: bridges[0].uplinks[0] needs exactly one of template ({node_id}/{device_id}/telemetry) or filter (site/#)',
    ],
    [
      { ...rabbit, uplinks: [{ name: 'u', template: '{node_id}/{device_id}/x' }] },
      'config: bridges[0].uplinks[0].destination is missing; name the routing key (a template such as telemetry.{node_id}.{device_id})',
    ],
    [
      { ...rabbit, uplinks: [{ name: 'u', filter: 'a/#/b', destination: 'd' }] },
      'config: bridges[0].uplinks[0].filter = "a/#/b" is not an MQTT topic filter',
    ],
    [
      {
        ...rabbit,
        uplinks: [{ name: 'u', template: '{node_id}/{device_id}/x', destination: 'd', ack: 'never' }],
      },
      'config: bridges[0].uplinks[0].ack = "never" is not an ack mode (store, after-confirm)',
    ],
    [
      {
        ...rabbit,
        uplinks: [{ name: 'u', template: '{node_id}/{device_id}/x', destination: 'd', maxInFlight: 0 }],
      },
      'config: bridges[0].uplinks[0].maxInFlight = 0 is not a message count (1-65535)',
    ],
    [
      {
        ...rabbit,
        uplinks: [{ name: 'u', template: '{node_id}/{device_id}/x', destination: 'd', retry: { jitter: 2 } }],
      },
      'config: bridges[0].uplinks[0].retry.jitter = 2 is not a jitter fraction (0-1)',
    ],
    [
      { ...rabbit, uplinks: [{ name: 'u', template: '{node_id}/{device_id}/x', destination: 'd', qos: 3 }] },
      'config: bridges[0].uplinks[0].qos = 3 is not a QoS (0, 1, 2)',
    ],
    [
      {
        ...rabbit,
        uplinks: [{ name: 'u', template: '{node_id}/{device_id}/x', destinaton: 'd' }],
      },
      'config: bridges[0].uplinks[0].destinaton is not a known key; did you mean bridges[0].uplinks[0].destination?',
    ],
    [
      {
        ...rabbit,
        uplinks: [
          { name: 'a', template: '{node_id}/{device_id}/x', destination: 'd' },
          { name: 'b', filter: '+/+/x', destination: 'e' },
        ],
      },
      'config: bridges[0].uplinks[1] subscribes to +/+/x, as an earlier uplink does; merge the two rules',
    ],
    [
      { ...rabbit, downlinks: [{ name: 'telemetry', source: 'q' }] },
      'config: bridges[0].downlinks[0].name = "telemetry" is taken by another rule of this bridge',
    ],
    [
      { ...rabbit, downlinks: [{ name: 'c' }] },
      'config: bridges[0].downlinks[0].source is missing; name a queue name',
    ],
    [
      { ...rabbit, downlinks: [{ name: 'c', source: 'q', group: 'g' }] },
      'config: bridges[0].downlinks[0].group is only read by redis bridges; remove it',
    ],
    [
      {
        name: 'n',
        type: 'nats',
        url: 'nats://127.0.0.1:4222',
        uplinks: [{ name: 'u', filter: 'a/#', destination: 'x' }],
      },
      'config: bridges[0].stream is missing; nats bridges need a stream: { name, subjects }',
    ],
  ])('rejects %j with one line', (bridge, message) => {
    expect(errorOf(bridge as Record<string, unknown>)).toBe(message);
  });

  it('rejects a template that is not one, saying why', () => {
    const message = errorOf({
      ...rabbit,
      uplinks: [{ name: 'u', template: '{node_id}/{node_id}/x', destination: 'd' }],
    });
    expect(message).toMatch(
      /^config: bridges\[0\]\.uplinks\[0\]\.template = "\{node_id\}\/\{node_id\}\/x" is not a template: /,
    );
  });

  it('rejects two bridges of one name', () => {
    expect(appErrorOf(() => resolveConfig({ bridges: [rabbit, rabbit] })).message).toBe(
      'config: bridges[1].name = "plant" is taken by an earlier bridge; names must be unique',
    );
  });

  it('--print-config shows the bridges with the passwords of their URLs redacted', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqtt-adapt-bridge-config-'));
    try {
      const file = join(dir, 'config.json');
      writeFileSync(file, JSON.stringify({ bridges: [rabbit] }));
      const command = prepareCli(['--config', file, '--print-config'], {});
      expect(command).toMatchObject({ kind: 'exit', exitCode: 0 });
      const printed = JSON.parse((command as { stdout: string }).stdout) as {
        bridges: Array<{ url: string }>;
      };
      expect(printed.bridges[0]?.url).toBe('amqp://guest:[redacted]@127.0.0.1:5672');
      expect((command as { stdout: string }).stdout).not.toContain('s3cret');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the README's bridges example is a valid config", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Bridges'));
    const yaml = section.slice(
      section.indexOf('```yaml\n') + 8,
      section.indexOf('```', section.indexOf('```yaml\n') + 8),
    );
    const bridges = resolveConfig(parseYaml(yaml)).bridges;
    expect(bridges.map((b) => b.type)).toEqual(['rabbitmq', 'nats', 'redis', 'mqtt']);
  });
});
