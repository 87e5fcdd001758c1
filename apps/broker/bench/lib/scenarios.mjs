// The load scenarios, run inside the generator process (lib/generator.mjs). Each one sets
// up its connections first, then measures a window: wall time, the broker's CPU (from /proc)
// and the generator's own CPU (process.cpuUsage) over exactly that window.
import { connect as netConnect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { closeAll, HOST, openClient, openClients } from './clients.mjs';
import {
  awaitDeliveries,
  awaitFlood,
  Credit,
  DeliveryTally,
  FloodPump,
  IDLE_MS,
  Qos0Pump,
  Qos1Pump,
  Window,
} from './flow.mjs';
import {
  connectPacket,
  DISCONNECT,
  NO_PROPERTIES,
  payloadOf,
  publishPacket,
  publishRing,
  qos1PublishRing,
  repeatPacket,
  userPropertiesSection,
} from './packets.mjs';
import { awaitCrossNodeInterest, placement } from './topology.mjs';

const TOPIC = 'bench/t';
const CYCLE_TOPIC = 'bench/c';
/** Connect cycles: how long the broker may keep a socket open after DISCONNECT. */
const CLOSE_WAIT_MS = 2000;

let runSerial = 0;
/** A name unique to this run (client ids, topics). */
export function tagOf(name) {
  runSerial++;
  return `${name}-${process.pid}-${runSerial}`;
}

/**
 * The protocol of a scenario's clients from its params: 3.1.1 (`v5` undefined, `properties`
 * undefined), or with `protocolVersion: 5` 5.0 clients (no Topic Alias Maximum) whose PUBLISH
 * packets carry `userProperties` ([[name, value], ...]) or no properties.
 */
function protocolOf(params) {
  if (params.protocolVersion !== 5) return { v5: undefined, properties: undefined };
  const pairs = params.userProperties ?? [];
  return { v5: {}, properties: pairs.length > 0 ? userPropertiesSection(pairs) : NO_PROPERTIES };
}

function deliveryResult(window, outcome, expected, unit, extra = {}) {
  const summary = window.summary();
  const seconds = Math.max((outcome.lastArrival - window.t0) / 1000, 1e-6);
  return {
    unit,
    value: outcome.delivered / seconds,
    delivered: outcome.delivered,
    expected,
    seconds,
    end: outcome.reason,
    ...summary,
    ...extra,
  };
}

/**
 * Runs QoS 0 pumps (one per publisher) until the subscribers received `expected` messages; the
 * credit counts messages per subscriber (deliveries / subscribers).
 */
async function runQos0(pubs, subs, batchBytes, batchCount, batches, creditLimit, brokerPid, timeoutMs) {
  const expected = batches * batchCount * pubs.length * subs.length;
  const credit = new Credit(Math.max(creditLimit, batchCount));
  let done = 0;
  const pumps = pubs.map((pub) => new Qos0Pump(pub, batchBytes, batchCount, batches, credit, () => done++));
  const refillAll = () => {
    for (const pump of pumps) pump.refill();
  };
  const onProgress = (total) => {
    credit.delivered = Math.floor(total / subs.length);
    refillAll();
  };
  let stalls = 0;
  const onStall = () => {
    if (credit.outstanding <= 0) return;
    stalls++;
    credit.writeOff();
    refillAll();
  };
  const window = new Window(brokerPid);
  window.start();
  refillAll();
  const isDone = () => done === pumps.length;
  const outcome = await awaitDeliveries(subs, expected, isDone, window.t0, timeoutMs, onProgress, onStall);
  window.stop();
  const disconnected = [...pubs, ...subs].filter((c) => c.isClosed).length;
  await closeAll([...pubs, ...subs]);
  return deliveryResult(window, outcome, expected, 'msgs/s', { disconnected, credit: credit.limit, stalls });
}

/** 1. N publishers -> 1 subscriber, QoS 0 (11: in 5.0, with user properties). */
export async function fanIn(run) {
  const { brokerPid, params } = run;
  const { publishers, messagesPerPublisher, payloadBytes, batch, window, timeoutMs } = params;
  const { v5, properties } = protocolOf(params);
  const at = placement(run);
  const tag = tagOf('fi');
  const sub = await openClient(at.sub(0), `${tag}-sub`, 0, 0, true, undefined, v5);
  await sub.subscribe(TOPIC, 0);
  const pubs = await openClients(at.pub, publishers, `${tag}-pub`, { concurrency: publishers, v5 });
  await awaitCrossNodeInterest(run, tag);
  const batches = Math.ceil(messagesPerPublisher / batch);
  const batchBytes = repeatPacket(publishPacket(TOPIC, payloadOf(payloadBytes), 0, 0, properties), batch);
  return runQos0(pubs, [sub], batchBytes, batch, batches, window * publishers, brokerPid, timeoutMs);
}

/** 2. 1 publisher -> N subscribers, QoS 0. */
export async function fanOut(run) {
  const { brokerPid, params } = run;
  const { subscribers, messages, payloadBytes, batch, window, timeoutMs } = params;
  const at = placement(run);
  const tag = tagOf('fo');
  const subs = await openClients(at.sub, subscribers, `${tag}-sub`, { concurrency: 50 });
  await Promise.all(subs.map((sub) => sub.subscribe(TOPIC, 0)));
  const pub = await openClient(at.pub(0), `${tag}-pub`);
  await awaitCrossNodeInterest(run, tag);
  const batches = Math.ceil(messages / batch);
  const batchBytes = repeatPacket(publishPacket(TOPIC, payloadOf(payloadBytes), 0), batch);
  return runQos0([pub], subs, batchBytes, batch, batches, window, brokerPid, timeoutMs);
}

/** 3. N publishers (bounded in-flight window) -> 1 subscriber, QoS 1 end to end (12: in 5.0). */
export function qos1(run) {
  return qos1EndToEnd(run, { tag: tagOf('q1'), topic: TOPIC, persistent: false });
}

/**
 * 6. QoS 1 into a persistent session: as 3, but the subscriber connects with Clean Session 0,
 * so every message is stored for it (a durable store commits it before the PUBACK to the
 * publisher) and deleted once it acknowledged. A topic of its own per run; the session is
 * ended afterwards (Clean Session 1 reconnect), so runs do not pile up offline sessions.
 */
export async function qos1Persistent(run) {
  const tag = tagOf('qp');
  const result = await qos1EndToEnd(run, {
    tag,
    topic: `bench/p/${tag}`,
    persistent: true,
  });
  const ender = await openClient(placement(run).sub(0), `${tag}-sub`, 0, 0, true);
  ender.socket.end(DISCONNECT);
  await closeAll([ender]);
  return result;
}

async function qos1EndToEnd(run, { tag, topic, persistent }) {
  const { brokerPid, params } = run;
  const { publishers, messagesPerPublisher, payloadBytes, window: inflight, timeoutMs } = params;
  const { v5, properties } = protocolOf(params);
  const at = placement(run);
  const sub = await openClient(at.sub(0), `${tag}-sub`, 0, 4, !persistent, undefined, v5);
  await sub.subscribe(topic, 1);
  const pubs = await openClients(at.pub, publishers, `${tag}-pub`, { concurrency: publishers, v5 });
  await awaitCrossNodeInterest(run, tag);
  const payload = payloadOf(payloadBytes);
  const rings = pubs.map((_, i) => qos1PublishRing(topic, payload, i, messagesPerPublisher, properties));
  const expected = messagesPerPublisher * publishers;
  const seen = new Uint32Array(publishers);
  sub.onQosPayload = (buf, at) => {
    const index = buf.readUInt16BE(at);
    const sequence = buf.readUInt16BE(at + 2);
    if (index < publishers && sequence > seen[index]) seen[index] = sequence;
  };

  const window = new Window(brokerPid);
  let done = 0;
  const pumps = pubs.map((pub, i) => new Qos1Pump(pub, i, rings[i], inflight, seen, () => done++));
  const onProgress = () => {
    for (const pump of pumps) pump.refill();
  };
  let writtenOff = 0;
  const onStall = () => {
    for (const pump of pumps) writtenOff += pump.writeOff();
    for (const pump of pumps) pump.refill();
  };
  window.start();
  for (const pump of pumps) pump.refill();
  const isDone = () => done === pubs.length;
  const outcome = await awaitDeliveries([sub], expected, isDone, window.t0, timeoutMs, onProgress, onStall);
  window.stop();
  const acked = pubs.reduce((sum, pub) => sum + pub.acked, 0);
  const disconnected = [sub, ...pubs].filter((c) => c.isClosed).length;
  await closeAll([sub, ...pubs]);
  return deliveryResult(window, outcome, expected, 'msgs/s', { acked, disconnected, writtenOff });
}

/** 7. QoS 1 flood: publishers pipeline every message without waiting for PUBACKs. */
export function qos1Flood({ port, brokerPid, params }) {
  return flood(port, brokerPid, params, 1, tagOf('f1'));
}

/** 8. QoS 2 flood: as 7 at QoS 2; publishers answer PUBREC with PUBREL, the subscriber acks both steps. */
export function qos2Flood({ port, brokerPid, params }) {
  return flood(port, brokerPid, params, 2, tagOf('f2'));
}

/**
 * N publishers each write all their numbered QoS 1/2 PUBLISH packets at once (socket
 * backpressure is the only limit); 1 subscriber at the same QoS acks every message. Counts
 * the acks at the publishers (PUBACK / PUBREC: the broker took charge of the message) and the
 * unique messages at the subscriber, so a broker that acknowledges what it later drops shows
 * it as a share below 100%. A topic of its own per run: nothing of an earlier run can arrive.
 */
async function flood(port, brokerPid, params, qos, tag) {
  const { publishers, messagesPerPublisher, payloadBytes, batch, timeoutMs } = params;
  const topic = `bench/f/${tag}`;
  const sub = await openClient(port, `${tag}-sub`, 0, 4);
  await sub.subscribe(topic, qos);
  const pubs = await openClients(port, publishers, `${tag}-pub`, { concurrency: publishers });
  const payload = payloadOf(payloadBytes);
  const tally = new DeliveryTally(publishers, messagesPerPublisher);
  sub.onQosPayload = (buf, at) => tally.record(buf.readUInt16BE(at), buf.readUInt16BE(at + 2));
  const pumps = pubs.map(
    (pub, i) => new FloodPump(pub, publishRing(topic, payload, qos, i, messagesPerPublisher), batch),
  );

  const window = new Window(brokerPid);
  window.start();
  for (const pump of pumps) pump.write();
  const outcome = await awaitFlood(pumps, sub, tally, window, timeoutMs);
  // Past the last ack or delivery, a wait for more is not part of the measured window.
  window.stop(outcome.reason !== 'complete');
  const sent = messagesPerPublisher * publishers;
  const completed = pubs.reduce((sum, pub) => sum + pub.completed, 0);
  const received = sub.received;
  const disconnected = [sub, ...pubs].filter((c) => c.isClosed).length;
  await closeAll([sub, ...pubs]);
  const deliverySeconds = Math.max((outcome.lastArrival - window.t0) / 1000, 1e-6);
  const ackSeconds = Math.max((outcome.lastAck - window.t0) / 1000, 1e-6);
  return {
    unit: 'msgs/s',
    value: tally.unique / deliverySeconds,
    delivered: tally.unique,
    expected: sent,
    seconds: deliverySeconds,
    acked: outcome.acked,
    ackedPerSecond: outcome.acked / ackSeconds,
    ackSeconds,
    share: outcome.acked > 0 ? tally.unique / outcome.acked : null,
    duplicates: tally.duplicates,
    outOfOrder: tally.outOfOrder,
    foreign: tally.foreign,
    received,
    ...(qos === 2 ? { completed } : {}),
    end: outcome.reason,
    disconnected,
    ...window.summary(),
  };
}

/**
 * 4, 15, 16. Connect-publish-disconnect cycles: TCP connect, CONNECT, CONNACK, PUBLISH QoS 0 +
 * DISCONNECT, close; `workers` cycles run concurrently. A subscriber counts the publishes
 * the broker actually routed (not on the bare server, which routes nothing and answers no
 * SUBSCRIBE). With `params.credentials` ({ username, password }: scenario 9, cycles-auth) every
 * CONNECT, the subscriber's too, carries them.
 */
export async function connectCycles({ port, brokerPid, params, broker }) {
  const { workers, cycles, timeoutMs, credentials } = params;
  const tag = tagOf(credentials === undefined ? 'cy' : 'ca');
  const sub = broker === 'bare' ? undefined : await openClient(port, `${tag}-sub`, 0, 0, true, credentials);
  await sub?.subscribe(CYCLE_TOPIC, 0);
  // Pre-encode every cycle's CONNECT (unique client ids) and the shared PUBLISH + DISCONNECT.
  const connects = Array.from({ length: cycles }, (_, i) =>
    connectPacket(`${tag}-${i}`, 0, true, credentials),
  );
  const tail = Buffer.concat([publishPacket(CYCLE_TOPIC, payloadOf(16), 0), DISCONNECT]);

  const window = new Window(brokerPid);
  let started = 0;
  let completed = 0;
  let errors = 0;
  let latencyMsTotal = 0;
  let lastEnd = 0;
  const firstErrors = new Set();
  const outcome = await new Promise((resolve) => {
    let active = 0;
    let finished = false;
    const finish = (reason) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve(reason);
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    // Deliberately lean (no BenchClient, no reader): a TCP connect costs the client about as
    // much kernel time as the server, so every microsecond of JS here counts against how hard
    // the generator can push. The client does not close: the broker closes on DISCONNECT (as
    // MQTT brokers do), so TIME_WAIT lands on the broker's side and the generator does not run
    // out of ephemeral ports. A broker that keeps the socket open fails the cycle after
    // CLOSE_WAIT_MS.
    const runCycle = () => {
      if (finished) return;
      if (started === cycles) {
        if (active === 0) finish('complete');
        return;
      }
      const index = started++;
      active++;
      const begin = performance.now();
      const socket = netConnect({ host: HOST, port, noDelay: true });
      let head = null;
      let acked = false;
      let error;
      let guard;
      socket.on('data', (chunk) => {
        if (acked) return;
        head = head === null ? chunk : Buffer.concat([head, chunk]);
        if (head.length < 4) return;
        if (head[0] === 0x20 && head[3] === 0) {
          acked = true;
          socket.write(tail);
          guard = setTimeout(() => {
            error = `socket still open ${CLOSE_WAIT_MS} ms after DISCONNECT`;
            socket.destroy();
          }, CLOSE_WAIT_MS);
        } else {
          error = `unexpected CONNACK ${head.subarray(0, 4).toString('hex')}`;
          socket.destroy();
        }
      });
      socket.on('error', (e) => {
        error ??= e.code ?? e.message;
      });
      socket.on('close', () => {
        clearTimeout(guard);
        active--;
        const end = performance.now();
        if (acked && error === undefined) {
          completed++;
          latencyMsTotal += end - begin;
          lastEnd = end;
        } else {
          errors++;
          if (firstErrors.size < 3) firstErrors.add(error ?? 'closed before CONNACK');
        }
        runCycle();
      });
      socket.write(connects[index]);
    };
    window.start();
    for (let w = 0; w < workers; w++) runCycle();
  });
  window.stop();
  // The publishes of the last cycles may still be on their way to the subscriber.
  const deadline = performance.now() + IDLE_MS;
  while (sub !== undefined && sub.received < completed && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  const delivered = sub?.received;
  if (sub !== undefined) await closeAll([sub]);
  const summary = window.summary();
  const seconds = Math.max(((lastEnd || window.t1) - window.t0) / 1000, 1e-6);
  return {
    unit: 'cycles/s',
    value: completed / seconds,
    latencyUs: completed > 0 ? (latencyMsTotal / completed) * 1000 : null,
    cycles: completed,
    expected: cycles,
    errors,
    errorSamples: [...firstErrors],
    delivered,
    seconds,
    end: outcome,
    ...summary,
  };
}

/**
 * 13. Bytes on the wire with and without outbound Topic Aliases: 1 publisher sends `messages`
 * QoS 0 PUBLISH packets on one topic of `topicLength` characters to 2 subscribers of that
 * topic, both 5.0: one whose CONNECT sets Topic Alias Maximum `topicAliasMaximum`, one without
 * (absent = 0: the broker may send it no alias). Counts the bytes each received while the
 * messages arrived; the value is bytes per PUBLISH received by the one that allows aliases.
 */
export async function aliasBytes({ port, brokerPid, params }) {
  const { messages, payloadBytes, topicLength, topicAliasMaximum, batch, window, timeoutMs } = params;
  const tag = tagOf('ab');
  const topic = longTopic(`bench/a/${tag}`, topicLength);
  const plain = await openClient(port, `${tag}-plain`, 0, 0, true, undefined, { topicAliasMaximum: 0 });
  const aliased = await openClient(port, `${tag}-alias`, 0, 0, true, undefined, { topicAliasMaximum });
  await plain.subscribe(topic, 0);
  await aliased.subscribe(topic, 0);
  const pub = await openClient(port, `${tag}-pub`, 0, 0, true, undefined, {});
  const batches = Math.ceil(messages / batch);
  const batchBytes = repeatPacket(publishPacket(topic, payloadOf(payloadBytes), 0, 0, NO_PROPERTIES), batch);
  const subs = [plain, aliased];
  const before = subs.map((sub) => sub.bytesReceived);
  const result = await runQos0([pub], subs, batchBytes, batch, batches, window, brokerPid, timeoutMs);
  const [plainBytes, aliasedBytes] = subs.map((sub, i) => sub.bytesReceived - before[i]);
  const perMessage = (bytes, sub) => (sub.received > 0 ? bytes / sub.received : null);
  const plainPerMessage = perMessage(plainBytes, plain);
  const aliasedPerMessage = perMessage(aliasedBytes, aliased);
  return {
    ...result,
    unit: 'B/msg',
    value: aliasedPerMessage,
    topicLength: topic.length,
    // The PUBLISH as the publisher sent it (what a subscriber gets without an alias).
    publishedBytesPerMessage: batchBytes.length / batch,
    aliasedBytes,
    plainBytes,
    aliasedReceived: aliased.received,
    plainReceived: plain.received,
    aliasedPerMessage,
    plainPerMessage,
    share: aliasedPerMessage !== null && plainPerMessage ? aliasedPerMessage / plainPerMessage : null,
  };
}

/** `prefix` followed by `/level-N` levels up to exactly `length` characters. */
function longTopic(prefix, length) {
  let topic = prefix;
  for (let level = 0; topic.length < length; level++) topic += `/level-${level}`;
  return topic.slice(0, Math.max(length, prefix.length));
}

/** 9. Connect cycles as 4, every CONNECT with a user name and password. */
export function connectCyclesAuth(run) {
  if (run.params.credentials === undefined) throw new Error('cycles-auth needs params.credentials');
  return connectCycles(run);
}

export const scenarioFunctions = {
  fanIn,
  fanOut,
  qos1,
  connectCycles,
  qos1Persistent,
  qos1Flood,
  qos2Flood,
  connectCyclesAuth,
  aliasBytes,
};
