// The README's first example, with unique names, against the local Mosquitto and RabbitMQ.
import { connect } from 'amqplib';
import mqtt from 'mqtt';
import { expect, it } from 'vitest';
import { MqttClientLink } from '../src/adapters/mqtt.js';
import { createRabbitMqProducer } from '../src/adapters/rabbitmq.js';
import { Bridge } from '../src/index.js';
import { uniqueName, waitFor } from './fixtures/services.js';

it('runs the README example', async () => {
  const exchange = uniqueName('iot');
  const queue = uniqueName('telemetry');
  const site = uniqueName('site');

  const broker = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { protocolVersion: 5 });
  const bridge = new Bridge({
    link: new MqttClientLink(broker),
    uplinks: [
      {
        name: 'telemetry',
        template: '{node_id}/{device_id}/telemetry',
        producer: createRabbitMqProducer({
          url: 'amqp://guest:guest@127.0.0.1:5672',
          exchange: { name: exchange },
          queues: [{ name: queue, bindings: ['telemetry.#'] }],
        }),
        destination: 'telemetry.{node_id}.{device_id}',
      },
    ],
  });
  await bridge.start();

  const device = await mqtt.connectAsync('mqtt://127.0.0.1:1883');
  await device.publishAsync(`${site}/pump-7/telemetry`, '{"rpm":1200}', { qos: 1 });
  const amqp = await connect('amqp://guest:guest@127.0.0.1:5672');
  const ch = await amqp.createChannel();
  const got: Buffer[] = [];
  await ch.consume(queue, (m) => m && got.push(m.content), { noAck: true });
  await waitFor(() => got.length === 1, 5000, 'the envelope');
  expect(JSON.parse(got[0]!.toString())).toMatchObject({
    nodeId: site,
    deviceId: 'pump-7',
    kind: 'telemetry',
    payload: { rpm: 1200 },
    encoding: 'json',
  });

  await bridge.close();
  await ch.deleteQueue(queue);
  await ch.deleteExchange(exchange);
  await amqp.close();
  await device.endAsync();
  await broker.endAsync();
});
