import type { Properties } from '@mqtt-adapt/codec';
import { filterLevelsMatch as matchesTopicFilter } from '@mqtt-adapt/router';
import { describe, expect, it } from 'vitest';
import { redactConnectionString } from '../src/index.js';
import { Batch } from '../src/internal/batch.js';
import { describeTarget, isConnectionError, redactSecrets } from '../src/internal/connection.js';
import { InlineBodies } from '../src/internal/inline-bodies.js';
import { decodeProperties, encodeProperties } from '../src/internal/json.js';
import { planBatch } from '../src/internal/plan.js';
import { buildSql } from '../src/internal/sql.js';
import { escapeLike, retainedQuery } from '../src/internal/topic-filter.js';

// Pure parts, no database.

describe('properties as JSON', () => {
  it('round-trips Buffers (tagged base64), user property order and duplicates, through JSON text', () => {
    const properties: Properties = {
      payloadFormatIndicator: 1,
      correlationData: Buffer.from([0, 255, 0]),
      authenticationData: Buffer.alloc(0),
      subscriptionIdentifiers: [3, 1, 3],
      userProperties: [
        ['b', '1'],
        ['a', '2'],
        ['b', '1'],
      ],
      contentType: undefined,
    };
    const text = encodeProperties(properties) as string;
    expect(JSON.parse(text).correlationData).toEqual({ $base64: 'AP8A' });
    const decoded = decodeProperties(JSON.parse(text));
    expect(decoded).toEqual(properties);
    expect(Buffer.isBuffer(decoded?.correlationData)).toBe(true);
    expect('contentType' in (decoded as object)).toBe(false);
    expect(encodeProperties(undefined)).toBeNull();
    expect(decodeProperties(null)).toBeUndefined();
  });
});

describe('findRetained prefilter', () => {
  it.each([
    ['a/b', { kind: 'exact', topicName: 'a/b' }],
    ['a/+', { kind: 'prefix', pattern: 'a/%' }],
    ['a/#', { kind: 'prefix', pattern: 'a%' }],
    ['a/b/+/c/#', { kind: 'prefix', pattern: 'a/b/%' }],
    ['100%_x\\/#', { kind: 'prefix', pattern: '100\\%\\_x\\\\%' }],
    ['#', { kind: 'all' }],
    ['+/x', { kind: 'all' }],
    ['/+', { kind: 'prefix', pattern: '/%' }],
  ])('%s -> %j', (filter, expected) => {
    expect(retainedQuery(filter)).toEqual(expected);
  });

  it('escapes LIKE metacharacters', () => {
    expect(escapeLike('a%b_c\\d')).toBe('a\\%b\\_c\\\\d');
  });

  it.each([
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['a/#', 'ab', false],
    ['a/+', 'a/', true],
    ['a/+', 'a', false],
    ['a/+', 'a/b/c', false],
    ['+/+', '/x', true],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS', true],
    ['x/+', 'x/$y', true],
  ])('%s matches %s: %s', (filter, topic, expected) => {
    expect(matchesTopicFilter(filter.split('/'), topic)).toBe(expected);
  });
});

describe('connection strings', () => {
  it('describes host and port without credentials, and redacts passwords', () => {
    expect(describeTarget('postgres://u:p@db.example:6543/x')).toBe('db.example:6543');
    expect(describeTarget('postgres://u@127.0.0.1/x')).toBe('127.0.0.1:5432');
    expect(describeTarget('postgres:///x?host=/var/run/postgresql')).toBe('/var/run/postgresql');
    expect(redactConnectionString('postgres://u:s%40cret@h:1/d')).toBe('postgres://u:***@h:1/d');
    expect(redactSecrets('auth failed for s@cret and s%40cret', 'postgres://u:s%40cret@h/d')).toBe(
      'auth failed for *** and ***',
    );
  });

  it('classifies lost connections', () => {
    expect(isConnectionError(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe(
      true,
    );
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('syntax'), { code: '42601' }))).toBe(false);
  });
});

describe('batch coalescing', () => {
  const sql = buildSql('s');
  const keyOf = (id: number) => ({ epoch: 9, id });
  const options = {
    qos: 0 as const,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0 as const,
    subscriptionIdentifier: undefined,
  };

  it('keeps the net effect per key and runs deletes before upserts', () => {
    const batch = new Batch();
    batch.saveSession({
      clientId: 'c',
      protocolVersion: 4,
      sessionExpiryInterval: undefined,
      expiresAt: undefined,
      username: undefined,
    });
    batch.saveSubscription('c', 'f', options);
    batch.deleteSubscription('c', 'f');
    batch.saveSubscription('c', 'f', { ...options, qos: 2 });
    batch.saveDelivery('c', {
      seq: 1,
      messageId: 1,
      qos: 1,
      retain: false,
      packetId: undefined,
      released: false,
    });
    batch.updateDelivery('c', 1, 5, false);
    batch.updateDelivery('c', 2, 6, true);
    batch.deleteDelivery('c', 3);
    batch.updateDelivery('c', 3, 7, false);
    const statements = planBatch(batch, sql, keyOf, new InlineBodies());
    expect(statements.map((s) => [s.name, s.values])).toEqual([
      ['mqa_sessions_upsert', [['c'], [4], [null], [null], [null]]],
      ['mqa_subscriptions_delete', [['c'], ['f']]],
      ['mqa_subscriptions_upsert', [['c'], ['f'], [2], [false], [false], [0], [null]]],
      ['mqa_deliveries_delete', [['c'], [3]]],
      [
        'mqa_deliveries_upsert',
        [['c'], [1], [9], [1], [1], [false], [5], [false], [null], [null], [null], [null], [null]],
      ],
      ['mqa_deliveries_update', [['c'], [2], [6], [true]]],
    ]);
    expect(batch.size).toBe(9);
  });

  it('deleteSession drops what the batch held for the client; writes after it stay', () => {
    const batch = new Batch();
    batch.saveSubscription('c', 'old', options);
    batch.addInboundQos2('c', 1);
    batch.deleteSession('c');
    batch.saveSession({
      clientId: 'c',
      protocolVersion: 5,
      sessionExpiryInterval: 0,
      expiresAt: undefined,
      username: undefined,
    });
    batch.addInboundQos2('c', 2);
    expect(planBatch(batch, sql, keyOf, new InlineBodies()).map((s) => [s.name, s.values])).toEqual([
      ['mqa_sessions_delete', [['c']]],
      ['mqa_sessions_upsert', [['c'], [5], [0], [null], [null]]],
      ['mqa_inbound_insert', [['c'], [2]]],
    ]);
  });
});
