import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, startTestBroker, type TestBroker } from './helpers.js';

let broker: TestBroker;
const clients: MqttClient[] = [];

async function client(clientId: string, options: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const created = await mqtt.connectAsync(broker.url, {
    clientId,
    protocolVersion: 5,
    reconnectPeriod: 0,
    ...options,
  });
  clients.push(created);
  return created;
}

function nextMessage(subscriber: MqttClient, timeoutMs = 3000): Promise<mqtt.IPublishPacket | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      subscriber.off('message', onMessage);
      resolve(undefined);
    }, timeoutMs);
    const onMessage = (_topic: string, _payload: Buffer, packet: mqtt.IPublishPacket) => {
      clearTimeout(timer);
      subscriber.off('message', onMessage);
      resolve(packet);
    };
    subscriber.on('message', onMessage);
  });
}

beforeAll(async () => {
  assertBuilt();
  broker = await startTestBroker({ args: ['--store', 'memory'] });
});

afterAll(async () => {
  for (const c of clients) c.end(true);
  await broker.stop('SIGTERM');
});

describe('MQTT 5.0 features with MQTT.js', () => {
  it('a PUBLISH by topic alias reaches subscribers by name, without the alias', async () => {
    const subscriber = await client('v5-sub-alias');
    await subscriber.subscribeAsync('v5/alias/#', { qos: 1 });
    const publisher = await client('v5-pub-alias');
    const first = nextMessage(subscriber);
    await publisher.publishAsync('v5/alias/a-long-topic-name', 'one', {
      qos: 1,
      properties: { topicAlias: 1 },
    });
    expect((await first)?.topic).toBe('v5/alias/a-long-topic-name');
    const second = nextMessage(subscriber);
    await publisher.publishAsync('', 'two', { qos: 1, properties: { topicAlias: 1 } });
    const got = await second;
    expect([got?.topic, got?.payload.toString(), got?.properties?.topicAlias]).toEqual([
      'v5/alias/a-long-topic-name',
      'two',
      undefined,
    ]);
  });

  it('a subscription identifier comes back with the messages it matched', async () => {
    const subscriber = await client('v5-sub-id');
    await subscriber.subscribeAsync('v5/ids/#', { qos: 0, properties: { subscriptionIdentifier: 42 } });
    const publisher = await client('v5-pub-id');
    const arriving = nextMessage(subscriber);
    await publisher.publishAsync('v5/ids/x', 'y', { qos: 0 });
    const ids = (await arriving)?.properties?.subscriptionIdentifier;
    expect(Array.isArray(ids) ? ids : [ids]).toEqual([42]);
  });

  it('an expired retained message is not sent to a later subscriber', async () => {
    const publisher = await client('v5-pub-expiry');
    await publisher.publishAsync('v5/expiry/r', 'brief', {
      qos: 1,
      retain: true,
      properties: { messageExpiryInterval: 1 },
    });
    const early = await client('v5-early');
    const earlyGets = nextMessage(early);
    await early.subscribeAsync('v5/expiry/r', { qos: 1 });
    expect((await earlyGets)?.properties?.messageExpiryInterval).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const late = await client('v5-late');
    const lateGets = nextMessage(late, 1000);
    await late.subscribeAsync('v5/expiry/r', { qos: 1 });
    expect(await lateGets).toBeUndefined();
  });
});
