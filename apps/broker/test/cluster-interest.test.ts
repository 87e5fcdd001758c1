import { describe, expect, it } from 'vitest';
import { prepareCli } from '../src/cli-command.js';
import {
  decodeBusFrame,
  decodeBusFrames,
  decodeDurableBatch,
  encodeBusFrame,
  encodeDurableBatch,
} from '../src/cluster/bus-frame.js';
import { generateNodeId, resolveCluster } from '../src/cluster/cluster-config.js';
import { LocalInterest } from '../src/cluster/local-interest.js';
import { MovedSessions } from '../src/cluster/moved-sessions.js';
import { RemoteInterest } from '../src/cluster/remote-interest.js';
import { resolveConfig } from '../src/config.js';

describe('LocalInterest', () => {
  it('changes on the first and last subscription of a filter; shared filters as written', () => {
    let changes = 0;
    const local = new LocalInterest(1000, () => changes++);
    local.add('a/#');
    local.add('a/#');
    local.add('$share/g1/a/#');
    expect(local.filters()).toEqual(['$share/g1/a/#', 'a/#']);
    expect(changes).toBe(2);
    expect(local.version).toBe(1002);
    local.remove('a/#');
    expect(local.filters()).toEqual(['$share/g1/a/#', 'a/#']);
    local.remove('$share/g1/a/#');
    local.remove('never/added');
    expect(local.filters()).toEqual(['a/#']);
    expect(changes).toBe(3);
  });
});

describe('RemoteInterest', () => {
  it('share groups: one node per group and message, this one included, in turns; not in the plain match', () => {
    const remote = new RemoteInterest();
    remote.update('b', 1, ['$share/g/s/#', '$share/h/s/x']);
    remote.update('c', 1, ['$share/g/s/#']);
    remote.localShared('$share/g/s/#', 'self', true);
    const out: string[] = [];
    expect(remote.matchNodes('s/x', out)).toBe(0);
    const picks: Array<[string, string]> = [];
    const chosen: string[] = [];
    for (let i = 0; i < 6; i++) {
      expect(remote.pickShared('s/x', picks)).toBe(2);
      chosen.push(picks.find(([filter]) => filter === '$share/g/s/#')![1]);
      expect(picks.find(([filter]) => filter === '$share/h/s/x')![1]).toBe('b');
    }
    expect(chosen.slice(0, 3).sort()).toEqual(['b', 'c', 'self']);
    expect(chosen.slice(3)).toEqual(chosen.slice(0, 3));
    // Picked here with no member online here: another node of the group, in turns.
    expect([0, 1, 2, 3].map(() => remote.otherSharedNode('$share/g/s/#', 'self')).sort()).toEqual([
      'b',
      'b',
      'c',
      'c',
    ]);
    expect(remote.otherSharedNode('$share/h/s/x', 'b')).toBeUndefined();
    remote.removeNode('b');
    remote.localShared('$share/g/s/#', 'self', false);
    expect(remote.pickShared('s/x', picks)).toBe(1);
    expect(picks).toEqual([['$share/g/s/#', 'c']]);
    expect(remote.otherSharedNode('$share/g/s/#', 'self')).toBe('c');
  });

  it('names each matching node once, however many of its filters match', () => {
    const remote = new RemoteInterest();
    remote.update('b', 1, ['t/#', 't/+/x', 'other']);
    remote.update('c', 1, ['t/a/x']);
    remote.update('d', 1, []);
    const out: string[] = [];
    expect(remote.matchNodes('t/a/x', out)).toBe(2);
    expect(out.sort()).toEqual(['b', 'c']);
    expect(remote.matchNodes('nothing', out)).toBe(0);
    expect(remote.allNodes(out)).toBe(3);
  });

  it('applies only newer versions, and forgets removed nodes', () => {
    const remote = new RemoteInterest();
    expect(remote.update('b', 5, ['x'])).toBe(true);
    expect(remote.update('b', 4, ['y'])).toBe(false);
    expect(remote.matchNodes('y', [])).toBe(0);
    expect(remote.update('b', 6, ['y'])).toBe(true);
    const out: string[] = [];
    expect(remote.matchNodes('x', out)).toBe(0);
    expect(remote.matchNodes('y', out)).toBe(1);
    remote.removeNode('b');
    expect(remote.matchNodes('y', out)).toBe(0);
    expect(remote.nodeIds).toEqual([]);
  });

  it('skips a filter it cannot use instead of failing the whole update', () => {
    const remote = new RemoteInterest();
    remote.update('b', 1, ['bad/#/x', 'good']);
    expect(remote.matchNodes('good', [])).toBe(1);
  });
});

describe('bus frame', () => {
  it('round-trips topic, payload, QoS, retain and properties as an MQTT 5.0 PUBLISH', () => {
    const message = {
      topicName: 'a/b',
      payload: Buffer.from('hello'),
      qos: 1 as const,
      retain: true,
      properties: { contentType: 'text/plain', userProperties: [['k', 'v']] as Array<[string, string]> },
      publisherId: 'p',
    };
    const decoded = decodeBusFrame(encodeBusFrame(message));
    expect(decoded).toMatchObject({ topicName: 'a/b', qos: 1, retain: true });
    expect(decoded.payload.toString()).toBe('hello');
    expect(decoded.properties).toMatchObject({ contentType: 'text/plain' });
  });

  it('rejects bytes that are not one PUBLISH', () => {
    expect(() => decodeBusFrame(Buffer.from([0xc0, 0x00]))).toThrow(/not one PUBLISH/);
    expect(() => decodeBusFrame(Buffer.from([0x30, 0x05, 0x00]))).toThrow();
  });

  it('QoS 0 frames of one turn travel in one bus message and come back in order', () => {
    const frame = (text: string) =>
      encodeBusFrame({
        topicName: `t/${text}`,
        payload: Buffer.from(text),
        qos: 0,
        retain: false,
        properties: undefined,
        publisherId: undefined,
      });
    const decoded = decodeBusFrames(Buffer.concat([frame('a'), frame('b'), frame('c')]));
    expect(decoded.map((m) => m.payload.toString())).toEqual(['a', 'b', 'c']);
    expect(() => decodeBusFrames(Buffer.concat([frame('a'), Buffer.from([0xc0, 0x00])]))).toThrow(
      /not a PUBLISH/,
    );
  });

  it('a durable batch keeps its header (seqs, share groups) and frames together', () => {
    const frames = ['x', 'y'].map((text) =>
      encodeBusFrame({
        topicName: `d/${text}`,
        payload: Buffer.from(text),
        qos: 1,
        retain: false,
        properties: undefined,
        publisherId: undefined,
      }),
    );
    const header = { origin: 'node-a/1', seqs: [7, 8], shared: [null, ['$share/g/d/#']] };
    const batch = decodeDurableBatch(encodeDurableBatch(header, frames));
    expect(batch.header).toEqual(header);
    expect(batch.messages.map((m) => m.topicName)).toEqual(['d/x', 'd/y']);
    expect(() => decodeDurableBatch(encodeDurableBatch({ origin: 'a', seqs: [1] }, frames))).toThrow(
      /2 messages names 1 seqs/,
    );
    expect(() => decodeDurableBatch(Buffer.from([0, 0, 0, 9, 1]))).toThrow(/runs past its end/);
  });
});

describe('cluster config', () => {
  it('is off by default, with the documented defaults', () => {
    expect(resolveConfig({}).cluster).toEqual({
      enabled: false,
      natsUrl: 'nats://127.0.0.1:4222',
      nodeId: undefined,
      heartbeatMs: 1000,
      deadAfterMs: 5000,
    });
  });

  it('needs the postgres store, with one config line saying so', () => {
    expect(() => resolveConfig({ cluster: { enabled: true } })).toThrow(
      'config: cluster.enabled = true needs store.type = "postgres" (is "sqlite"); pass --store postgres --database-url ... or drop --cluster',
    );
    const config = resolveConfig({
      store: { type: 'postgres', url: 'postgres://u@h/db' },
      cluster: { enabled: true, nodeId: 'n-1' },
    });
    expect(config.cluster).toMatchObject({ enabled: true, nodeId: 'n-1' });
  });

  it('validates each key in the one-line style', () => {
    expect(() => resolveCluster({ nodeId: 'a.b' }, 'postgres')).toThrow(
      'config: cluster.nodeId = "a.b" is not a node id (letters, digits, - and _, 1-64)',
    );
    expect(() => resolveCluster({ natsUrl: 'http://x' }, 'postgres')).toThrow(
      'config: cluster.natsUrl = "http://x" is not a NATS URL (nats://host:4222)',
    );
    expect(() => resolveCluster({ enabled: true, heartbeatMs: 1000, deadAfterMs: 1500 }, 'postgres')).toThrow(
      /cluster.deadAfterMs = 1500 is not above twice cluster.heartbeatMs = 1000/,
    );
    expect(() => resolveCluster({ enable: true }, 'postgres')).toThrow(/cluster.enable is not a known key/);
  });

  it('generates node ids usable as NATS subject tokens', () => {
    expect(generateNodeId('db.example.com', 42)).toMatch(/^db-example-com-42-[0-9a-f]{6}$/);
  });

  it('--cluster takes no value, --node-id overrides, --print-config shows it', () => {
    const command = prepareCli(
      [
        '--store',
        'postgres',
        '--database-url',
        'postgres://u:secret@h/db',
        '--cluster',
        '--node-id',
        'n-2',
        '--print-config',
      ],
      {},
    );
    expect(command.kind).toBe('exit');
    const printed = JSON.parse((command as { stdout: string }).stdout) as { cluster: unknown };
    expect(printed.cluster).toEqual({
      enabled: true,
      natsUrl: 'nats://127.0.0.1:4222',
      nodeId: 'n-2',
      heartbeatMs: 1000,
      deadAfterMs: 5000,
    });
    expect(prepareCli(['--cluster'], {})).toMatchObject({
      exitCode: 2,
      stderr: expect.stringMatching(/^config: cluster.enabled = true needs store.type = "postgres"/),
    });
    expect(prepareCli(['--cluster=yes'], {})).toMatchObject({
      exitCode: 2,
      stderr: 'config: --cluster takes no value; drop "=yes"\n',
    });
  });
});

describe('MovedSessions', () => {
  it('names the new owners of sessions just lost whose filters match, for a while, share filters aside', () => {
    let now = 1000;
    const moved = new MovedSessions(500, () => now);
    moved.record('a', 'node-b', ['t/#', '$share/g/t/#']);
    moved.record('c', 'node-c', ['t/x']);
    expect(moved.ownersFor('t/x').sort()).toEqual(['node-b', 'node-c']);
    expect(moved.ownersFor('t/y')).toEqual(['node-b']);
    expect(moved.ownersFor('other')).toEqual([]);
    moved.record('a', 'node-d', ['t/y']); // moved again: the latest owner and filters
    expect(moved.ownersFor('t/y')).toEqual(['node-d']);
    now += 501;
    expect(moved.ownersFor('t/x')).toEqual([]);
  });
});
