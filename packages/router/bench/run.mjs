// In-process router benchmark: the broker core alone, no sockets. Transports are null sinks
// that count bytes; clients feed pre-encoded packets. Prints msgs/s (median of runs).
// Run: npx tsup && node --expose-gc bench/run.mjs
import { encode, PacketType } from '@mqtt-adapt/codec';
import { Broker } from '../dist/index.js';

const RUNS = Number(process.env.RUNS ?? 7);

class SinkTransport {
  remoteAddress = 'bench';
  bytes = 0;
  onWrite = undefined;
  write(data) {
    this.bytes += data.length;
    this.onWrite?.(data);
    return true;
  }
  close() {}
  pause() {}
  resume() {}
}

/** CONNECT at protocol level `version`; a 5.0 one with Topic Alias Maximum `topicAliasMaximum` if given. */
const connectBytes = (clientId, cleanStart = true, version = 4, topicAliasMaximum = undefined) =>
  encode(
    {
      type: PacketType.Connect,
      protocolName: 'MQTT',
      protocolVersion: version,
      cleanStart,
      keepaliveSeconds: 0,
      clientId,
      will: undefined,
      username: undefined,
      password: undefined,
      properties: topicAliasMaximum === undefined ? undefined : { topicAliasMaximum },
    },
    version,
  );

const subscribeBytes = (topicFilter, qos, version = 4) =>
  encode(
    {
      type: PacketType.Subscribe,
      packetId: 1,
      subscriptions: [{ topicFilter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 }],
      properties: undefined,
    },
    version,
  );

const publishBytes = (qos, packetId, payload, version = 4) =>
  encode(
    {
      type: PacketType.Publish,
      dup: false,
      qos,
      retain: false,
      topicName: 'site/7/device/42/temp',
      packetId: qos === 0 ? undefined : packetId,
      payload,
      properties: undefined,
    },
    version,
  );

async function client(broker, clientId, cleanStart, version = 4, topicAliasMaximum = undefined) {
  const transport = new SinkTransport();
  const connection = broker.accept(transport);
  connection.feed(connectBytes(clientId, cleanStart, version, topicAliasMaximum));
  await new Promise((resolve) => setImmediate(resolve));
  return { transport, connection };
}

/**
 * 1 publisher -> `subscribers` QoS 0 subscribers; batches of 1000 publishes per feed. Every
 * client speaks protocol level `version`; with `topicAliasMaximum`, the 5.0 subscribers take
 * outbound topic aliases.
 */
async function fanOut(subscribers, messages, version = 4, topicAliasMaximum = undefined) {
  const broker = new Broker();
  await broker.open();
  for (let i = 0; i < subscribers; i++) {
    const sub = await client(broker, `sub-${i}`, true, version, topicAliasMaximum);
    sub.connection.feed(subscribeBytes('site/+/device/#', 0, version));
  }
  const pub = await client(broker, 'pub', true, version);
  const batch = Buffer.concat(
    Array.from({ length: 1000 }, () => publishBytes(0, 0, Buffer.alloc(64), version)),
  );
  const start = process.hrtime.bigint();
  for (let sent = 0; sent < messages; sent += 1000) pub.connection.feed(batch);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await broker.close();
  return (messages * subscribers) / seconds;
}

/** QoS 1 end to end: 1 publisher -> 1 subscriber that acks every delivery at once. */
async function qos1(messages, persistent) {
  const broker = new Broker({ maxInflightMessages: 1000 });
  await broker.open();
  const sub = await client(broker, 'sub', !persistent);
  sub.connection.feed(subscribeBytes('site/#', 1));
  const pubacks = Array.from({ length: 65536 }, (_, id) =>
    id === 0
      ? undefined
      : encode({ type: PacketType.Puback, packetId: id, reasonCode: 0, properties: undefined }, 4),
  );
  sub.transport.onWrite = (data) => {
    // PUBLISH QoS 1 from the broker: the packet id sits after the topic.
    if (data[0] >> 4 === 3) {
      const topicLength = data.readUInt16BE(2);
      sub.connection.feed(pubacks[data.readUInt16BE(4 + topicLength)]);
    }
  };
  const pub = await client(broker, 'pub', true);
  const batch = Buffer.concat(
    Array.from({ length: 1000 }, (_, i) => publishBytes(1, i + 1, Buffer.alloc(64))),
  );
  const start = process.hrtime.bigint();
  for (let sent = 0; sent < messages; sent += 1000) pub.connection.feed(batch);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await broker.close();
  return messages / seconds;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const scenarios = [
  ['fan-out QoS 0, 1 -> 100 (deliveries/s)', () => fanOut(100, 20_000)],
  ['fan-out QoS 0, 1 -> 100, 5.0 (deliveries/s)', () => fanOut(100, 20_000, 5)],
  ['fan-out QoS 0, 1 -> 100, 5.0, topic aliases (deliveries/s)', () => fanOut(100, 20_000, 5, 16)],
  ['QoS 1, 1 -> 1 clean session (msgs/s)', () => qos1(100_000, false)],
  ['QoS 1, 1 -> 1 persistent, memory store (msgs/s)', () => qos1(100_000, true)],
];
console.log(`node ${process.version}, ${RUNS} runs, median`);
for (const [name, run] of scenarios) {
  await run(); // warm-up
  const results = [];
  for (let i = 0; i < RUNS; i++) {
    globalThis.gc?.();
    results.push(await run());
  }
  console.log(`${name.padEnd(52)} ${Math.round(median(results)).toLocaleString('en-US').padStart(12)}`);
}
