import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from './helpers.js';

// First MQTT behaviour test against the built broker; more go beside it (MQTT.js for
// behaviour, raw sockets from helpers.ts for malformed and flooding input).

let broker: TestBroker;
const clients: MqttClient[] = [];

beforeAll(async () => {
  broker = await startTestBroker();
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.endAsync(true)));
  await broker?.stop();
});

async function client(options: IClientOptions = {}): Promise<MqttClient> {
  const connected = await connectAsync(broker.url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  clients.push(connected);
  return connected;
}

interface Received {
  topic: string;
  payload: string;
  qos: number;
}

function collect(subscriber: MqttClient, count: number): Promise<Received[]> {
  return new Promise((resolve, reject) => {
    const received: Received[] = [];
    const timer = setTimeout(
      () => reject(new Error(`got ${JSON.stringify(received)} of ${count} messages`)),
      5000,
    );
    subscriber.on('message', (topic, payload, packet) => {
      received.push({ topic, payload: payload.toString(), qos: packet.qos });
      if (received.length === count) {
        clearTimeout(timer);
        resolve(received);
      }
    });
  });
}

describe.each([
  { name: 'MQTT 3.1.1', protocolVersion: 4 as const },
  { name: 'MQTT 5.0', protocolVersion: 5 as const },
])('$name smoke test', ({ protocolVersion }) => {
  it('connects, subscribes and receives QoS 0, 1 and 2 publishes', async () => {
    const prefix = `smoke/v${protocolVersion}`;
    const subscriber = await client({ protocolVersion, clientId: `sub-v${protocolVersion}` });
    const granted = await subscriber.subscribeAsync(`${prefix}/#`, { qos: 2 });
    expect(granted.map(({ topic, qos }) => ({ topic, qos }))).toEqual([{ topic: `${prefix}/#`, qos: 2 }]);

    const messages = collect(subscriber, 3);
    const publisher = await client({ protocolVersion, clientId: `pub-v${protocolVersion}` });
    await publisher.publishAsync(`${prefix}/q0`, 'zero', { qos: 0 });
    await publisher.publishAsync(`${prefix}/q1`, 'one', { qos: 1 });
    await publisher.publishAsync(`${prefix}/q2`, 'two', { qos: 2 });

    const received = await messages;
    expect(received.sort((a, b) => a.qos - b.qos)).toEqual([
      { topic: `${prefix}/q0`, payload: 'zero', qos: 0 },
      { topic: `${prefix}/q1`, payload: 'one', qos: 1 },
      { topic: `${prefix}/q2`, payload: 'two', qos: 2 },
    ]);
  });
});
