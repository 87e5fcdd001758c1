import { describe, expect, it } from 'vitest';
import type { RetainedRecord } from '../store.js';
import {
  byTopicName,
  everyByteValue,
  expectBytes,
  pseudoRandomBytes,
  publishProperties,
  retainedRecord,
} from './store-contract-fixtures.js';
import type { ContractRun } from './store-contract-run.js';

/** Topics for `findRetained`: levels, case, `$` topics, empty levels, SQL LIKE metacharacters. */
const topics = [
  'a',
  'a/b',
  'a/b/c',
  'a/c',
  'A/b',
  'b',
  '/x',
  '//',
  'a/',
  'a//c',
  '$SYS',
  '$SYS/x',
  '$SYS/broker/load',
  'x/$y',
  'a_b/c',
  'axb/c',
  '100%/x',
  '1000/x',
  'température/🙂',
];
const nonDollar = topics.filter((topic) => !topic.startsWith('$'));

/** Filter -> the topics it matches [MQTT-4.7.1, MQTT-4.7.2-1]. */
const matches: Array<[filter: string, expected: string[]]> = [
  ['a/b', ['a/b']],
  ['A/b', ['A/b']],
  ['a', ['a']],
  ['a/+', ['a/', 'a/b', 'a/c']],
  ['+/b', ['A/b', 'a/b']],
  ['+', ['a', 'b']],
  ['#', nonDollar],
  ['a/#', ['a', 'a/', 'a//c', 'a/b', 'a/b/c', 'a/c']],
  ['a/b/#', ['a/b', 'a/b/c']],
  ['a/b/c/#', ['a/b/c']],
  ['a/+/c', ['a//c', 'a/b/c']],
  ['+/+', ['/x', '100%/x', '1000/x', 'A/b', 'a/', 'a/b', 'a/c', 'a_b/c', 'axb/c', 'température/🙂', 'x/$y']],
  ['+/x', ['/x', '100%/x', '1000/x']],
  ['/+', ['/x']],
  ['+/+/+', ['//', 'a//c', 'a/b/c']],
  ['+/#', nonDollar],
  ['+/broker/load', []],
  ['$SYS/#', ['$SYS', '$SYS/broker/load', '$SYS/x']],
  ['$SYS/+', ['$SYS/x']],
  ['$SYS', ['$SYS']],
  ['x/+', ['x/$y']],
  ['a_b/+', ['a_b/c']],
  ['100%/+', ['100%/x']],
  ['température/+', ['température/🙂']],
  ['a/b/c/d', []],
  ['nothing/#', []],
];

/** Retained messages: save, replace, delete, match, round-trip. */
export function describeRetainedContract(run: ContractRun): void {
  describe('retained messages', () => {
    it('saveRetained replaces by topic and deleteRetained removes', async () => {
      const store = run.store;
      store.saveRetained(retainedRecord('a/b', { qos: 1 }));
      store.saveRetained(retainedRecord('c'));
      store.saveRetained(retainedRecord('d'));
      await store.flush();
      const replacement = retainedRecord('a/b', {
        payload: Buffer.from('second'),
        qos: 2,
        properties: { userProperties: [['v', '2']] },
      });
      store.saveRetained(replacement);
      store.deleteRetained('c');
      store.deleteRetained('never/retained');
      await store.flush();
      expect(await store.findRetained('a/b')).toEqual([replacement]);
      expect(await store.findRetained('c')).toEqual([]);
      const { store: reopened, snapshot } = await run.restart(store);
      expect(byTopicName(snapshot.retained)).toEqual([replacement, retainedRecord('d')]);
      expect(byTopicName(await reopened.findRetained('#'))).toEqual([replacement, retainedRecord('d')]);
    });

    it('open() returns every retained message, $ topics included', async () => {
      const records = topics.map((topic, i) => retainedRecord(topic, { qos: (i % 3) as 0 | 1 | 2 }));
      for (const record of records) run.store.saveRetained(record);
      const { snapshot } = await run.restart(run.store);
      expect(byTopicName(snapshot.retained)).toEqual(byTopicName(records));
      expect(snapshot.sessions).toEqual([]);
    });

    it.each(matches)('findRetained(%j) matches exactly the expected topics', async (filter, expected) => {
      for (const topic of topics) run.store.saveRetained(retainedRecord(topic));
      await run.store.flush();
      const found = await run.store.findRetained(filter);
      expect(found.map((record) => record.topicName).sort()).toEqual([...expected].sort());
      expect(byTopicName(found)).toEqual(byTopicName(expected.map((topic) => retainedRecord(topic))));
    });

    it('findRetained answers the same after a restart', async () => {
      for (const topic of topics) run.store.saveRetained(retainedRecord(topic));
      const { store } = await run.restart(run.store);
      for (const [filter, expected] of matches) {
        const found = await store.findRetained(filter);
        expect(found.map((record) => record.topicName).sort(), filter).toEqual([...expected].sort());
      }
    });

    it('payloads and properties of retained messages round-trip (NULs, every byte value, 1 MiB, a view)', async () => {
      const backing = pseudoRandomBytes(2048, 11);
      const records: RetainedRecord[] = [
        retainedRecord('bin/nuls', { payload: Buffer.alloc(16) }),
        retainedRecord('bin/all', { payload: everyByteValue(), qos: 1, properties: publishProperties() }),
        retainedRecord('bin/big', { payload: pseudoRandomBytes(1024 * 1024, 3), qos: 2 }),
        retainedRecord('bin/view', { payload: backing.subarray(100, 164) }),
        retainedRecord('bin/props', {
          properties: {
            userProperties: [
              ['x', '1'],
              ['x', '1'],
              ['a', '0'],
            ],
            payloadFormatIndicator: 0,
          },
        }),
      ];
      for (const record of records) run.store.saveRetained(record);
      const { store, snapshot } = await run.restart(run.store);
      for (const found of [byTopicName(snapshot.retained), byTopicName(await store.findRetained('bin/+'))]) {
        expect(found.map((record) => record.topicName)).toEqual(byTopicName(records).map((r) => r.topicName));
        for (const expected of records) {
          const actual = found.find((record) => record.topicName === expected.topicName);
          expectBytes(actual?.payload, expected.payload, `payload of ${expected.topicName}`);
          expect(actual?.qos, `qos of ${expected.topicName}`).toBe(expected.qos);
          expect(actual?.properties, `properties of ${expected.topicName}`).toEqual(expected.properties);
        }
      }
      const withProperties = snapshot.retained.find((record) => record.topicName === 'bin/all');
      expectBytes(
        withProperties?.properties?.correlationData,
        publishProperties().correlationData as Buffer,
        'correlationData',
      );
    });
  });
}
