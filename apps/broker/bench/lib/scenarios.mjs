// The five load scenarios, run inside the generator process (lib/generator.mjs). Each one sets
// up its connections first, then measures a window: wall time, the broker's CPU (from /proc)
// and the generator's own CPU (process.cpuUsage) over exactly that window.
import { connect as netConnect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { closeAll, HOST, openClient, openClients } from './clients.mjs';
import {
  connectPacket,
  DISCONNECT,
  payloadOf,
  publishPacket,
  qos1PublishRing,
  repeatPacket,
} from './packets.mjs';
import { cpuSecondsOf, ownCpuSeconds, rssBytesOf } from './proc.mjs';

const TOPIC = 'bench/t';
const CYCLE_TOPIC = 'bench/c';
/** Stop waiting once no PUBLISH arrived for this long. */
const IDLE_MS = 2000;
/**
 * QoS 1: with publishers blocked on end-to-end credit and nothing arriving for this long, the
 * missing messages are taken as dropped by the broker and their credit is released.
 */
const STALL_MS = 200;
/** Connect cycles: how long the broker may keep a socket open after DISCONNECT. */
const CLOSE_WAIT_MS = 2000;

/** Wall time and CPU of the broker and of this process over one measured window. */
class Window {
  constructor(brokerPid) {
    this.brokerPid = brokerPid;
  }

  start() {
    this.brokerCpu0 = cpuSecondsOf(this.brokerPid);
    this.generatorCpu0 = ownCpuSeconds();
    this.t0 = performance.now();
  }

  stop() {
    this.t1 = performance.now();
    this.brokerCpu1 = cpuSecondsOf(this.brokerPid);
    this.generatorCpu1 = ownCpuSeconds();
  }

  summary() {
    const brokerCpu =
      this.brokerCpu0 === undefined || this.brokerCpu1 === undefined
        ? null
        : this.brokerCpu1 - this.brokerCpu0;
    return {
      windowSeconds: (this.t1 - this.t0) / 1000,
      brokerCpuSeconds: brokerCpu,
      generatorCpuSeconds: this.generatorCpu1 - this.generatorCpu0,
    };
  }
}

/**
 * Resolves when the subscribers together received `expected` PUBLISH packets, or when nothing
 * arrived for IDLE_MS ("idle" once publishing is done, "stalled" before), or at `timeoutMs`.
 * `onProgress(total)` runs after every received chunk; `onStall()` every 50 ms while nothing
 * arrived for STALL_MS before publishing is done.
 */
function awaitDeliveries(subscribers, expected, isPublishingDone, t0, timeoutMs, onProgress, onStall) {
  return new Promise((resolve) => {
    const state = { total: 0, lastArrival: t0 };
    let finished = false;
    const finish = (reason) => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      for (const sub of subscribers) sub.afterData = undefined;
      resolve({ delivered: state.total, lastArrival: state.lastArrival, reason });
    };
    const onData = (client) => {
      const received = client.received;
      state.total += received - client.accounted;
      client.accounted = received;
      state.lastArrival = performance.now();
      if (state.total >= expected) finish('complete');
      else if (onProgress !== undefined) onProgress(state.total);
    };
    for (const sub of subscribers) {
      sub.accounted = sub.received;
      sub.afterData = onData;
    }
    const timer = setInterval(() => {
      const now = performance.now();
      if (subscribers.some((sub) => sub.isClosed)) finish('subscriber disconnected');
      else if (now - t0 > timeoutMs) finish('timeout');
      else if (now - state.lastArrival > IDLE_MS) finish(isPublishingDone() ? 'idle' : 'stalled');
      else if (onStall !== undefined && now - state.lastArrival > STALL_MS && !isPublishingDone()) onStall();
    }, 50);
  });
}

/**
 * End-to-end credit of QoS 0 publishers: messages written but not yet received (per
 * subscriber). Without it, a publisher writes as fast as the kernel accepts (megabytes of
 * loopback socket buffer) in one synchronous burst, the generator's own subscriber is not read
 * meanwhile, and a broker that drops QoS 0 for slow consumers (ours, Mosquitto) drops because
 * of the generator. With it, buffering is bounded and the subscriber is read between batches.
 */
class Credit {
  sent = 0;
  delivered = 0;
  /** Messages taken as dropped by the broker (see STALL_MS). */
  writtenOff = 0;

  constructor(limit) {
    this.limit = limit;
  }

  get outstanding() {
    return this.sent - this.delivered - this.writtenOff;
  }

  get room() {
    return this.limit - this.outstanding;
  }

  /** Nothing arrived for STALL_MS: what is outstanding was dropped. */
  writeOff() {
    const lost = this.outstanding;
    if (lost > 0) this.writtenOff += lost;
  }
}

/**
 * QoS 0 sender: writes `batches` copies of one buffer of `batchCount` pre-encoded PUBLISH
 * packets, while the shared credit has room for a whole batch and the socket takes more
 * (on backpressure it waits for 'drain').
 */
class Qos0Pump {
  written = 0;
  #blocked = false;
  #done = false;

  constructor(client, batch, batchCount, batches, credit, onDone) {
    this.client = client;
    this.batch = batch;
    this.batchCount = batchCount;
    this.batches = batches;
    this.credit = credit;
    this.onDone = onDone;
    client.socket.on('drain', () => {
      this.#blocked = false;
      this.refill();
    });
  }

  refill() {
    if (this.#done) return;
    const credit = this.credit;
    const socket = this.client.socket;
    while (!this.#blocked && this.written < this.batches && credit.room >= this.batchCount) {
      this.written++;
      credit.sent += this.batchCount;
      if (!socket.write(this.batch)) this.#blocked = true;
    }
    if (this.written === this.batches) {
      this.#done = true;
      this.onDone();
    }
  }
}

/**
 * QoS 1 sender. At most `window` of its messages are unacknowledged by the broker (PUBACK),
 * and at most `window` are sent but not yet seen by the subscriber: the subscriber reports
 * the highest sequence number it received from each publisher (`seen`, messages of one
 * publisher arrive in order). The second bound keeps the broker's queue to the subscriber
 * bounded, so a broker that acks publishers faster than it delivers is measured at the rate it
 * delivers, not flooded into dropping. Refills once per received chunk, sending the next
 * packets as one view of the pre-encoded ring.
 */
class Qos1Pump {
  sent = 0;
  #done = false;

  constructor(client, index, ring, window, seen, onDone) {
    this.client = client;
    this.index = index;
    this.ring = ring;
    this.window = window;
    this.seen = seen;
    this.onDone = onDone;
    client.afterData = () => this.refill();
  }

  get total() {
    return this.ring.size;
  }

  refill() {
    const client = this.client;
    if (client.acked >= this.total) {
      if (!this.#done) {
        this.#done = true;
        client.afterData = undefined;
        this.onDone();
      }
      return;
    }
    const unacked = this.sent - client.acked;
    const undelivered = this.sent - this.seen[this.index];
    const n = Math.min(this.window - Math.max(unacked, undelivered), this.total - this.sent);
    if (n <= 0) return;
    const { ring, stride } = this.ring;
    client.socket.write(ring.subarray(this.sent * stride, (this.sent + n) * stride));
    this.sent += n;
  }

  /** Nothing arrived for STALL_MS: take this publisher's undelivered messages as dropped. */
  writeOff() {
    const lost = this.sent - this.seen[this.index];
    if (lost > 0) this.seen[this.index] = this.sent;
    return lost;
  }
}

let runSerial = 0;
function tagOf(name) {
  runSerial++;
  return `${name}-${process.pid}-${runSerial}`;
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

/** 1. N publishers -> 1 subscriber, QoS 0. */
export async function fanIn({ port, brokerPid, params }) {
  const { publishers, messagesPerPublisher, payloadBytes, batch, window, timeoutMs } = params;
  const tag = tagOf('fi');
  const sub = await openClient(port, `${tag}-sub`);
  await sub.subscribe(TOPIC, 0);
  const pubs = await openClients(port, publishers, `${tag}-pub`, { concurrency: publishers });
  const batches = Math.ceil(messagesPerPublisher / batch);
  const batchBytes = repeatPacket(publishPacket(TOPIC, payloadOf(payloadBytes), 0), batch);
  return runQos0(pubs, [sub], batchBytes, batch, batches, window * publishers, brokerPid, timeoutMs);
}

/** 2. 1 publisher -> N subscribers, QoS 0. */
export async function fanOut({ port, brokerPid, params }) {
  const { subscribers, messages, payloadBytes, batch, window, timeoutMs } = params;
  const tag = tagOf('fo');
  const subs = await openClients(port, subscribers, `${tag}-sub`, { concurrency: 50 });
  await Promise.all(subs.map((sub) => sub.subscribe(TOPIC, 0)));
  const pub = await openClient(port, `${tag}-pub`);
  const batches = Math.ceil(messages / batch);
  const batchBytes = repeatPacket(publishPacket(TOPIC, payloadOf(payloadBytes), 0), batch);
  return runQos0([pub], subs, batchBytes, batch, batches, window, brokerPid, timeoutMs);
}

/** 3. N publishers (bounded in-flight window) -> 1 subscriber, QoS 1 end to end. */
export async function qos1({ port, brokerPid, params }) {
  const { publishers, messagesPerPublisher, payloadBytes, window: inflight, timeoutMs } = params;
  const tag = tagOf('q1');
  const sub = await openClient(port, `${tag}-sub`, 0, 4);
  await sub.subscribe(TOPIC, 1);
  const pubs = await openClients(port, publishers, `${tag}-pub`, { concurrency: publishers });
  const payload = payloadOf(payloadBytes);
  const rings = pubs.map((_, i) => qos1PublishRing(TOPIC, payload, i, messagesPerPublisher));
  const expected = messagesPerPublisher * publishers;
  const seen = new Uint32Array(publishers);
  sub.onQos1Payload = (buf, at) => {
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

/**
 * 4. Connect-publish-disconnect cycles: TCP connect, CONNECT, CONNACK, PUBLISH QoS 0 +
 * DISCONNECT, close; `workers` cycles run concurrently. A subscriber counts the publishes
 * the broker actually routed.
 */
export async function connectCycles({ port, brokerPid, params }) {
  const { workers, cycles, timeoutMs } = params;
  const tag = tagOf('cy');
  const sub = await openClient(port, `${tag}-sub`);
  await sub.subscribe(CYCLE_TOPIC, 0);
  // Pre-encode every cycle's CONNECT (unique client ids) and the shared PUBLISH + DISCONNECT.
  const connects = Array.from({ length: cycles }, (_, i) => connectPacket(`${tag}-${i}`, 0));
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
  while (sub.received < completed && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  const delivered = sub.received;
  await closeAll([sub]);
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

/** 5. Memory per idle connection: broker RSS before and after opening `connections` clients. */
export async function idleMemory({ port, brokerPid, params }) {
  const { connections, concurrency, settleMs } = params;
  const tag = tagOf('idle');
  await sleep(settleMs);
  const rssBefore = rssBytesOf(brokerPid);
  const window = new Window(brokerPid);
  window.start();
  const clients = await openClients(port, connections, tag, { concurrency, keepaliveSeconds: 0 });
  window.stop();
  await sleep(settleMs);
  const rssAfter = rssBytesOf(brokerPid);
  const alive = clients.filter((c) => !c.isClosed).length;
  await closeAll(clients, 10_000);
  if (rssBefore === undefined || rssAfter === undefined)
    throw new Error(`cannot read /proc/${brokerPid}/status`);
  const summary = window.summary();
  return {
    unit: 'B/conn',
    value: (rssAfter - rssBefore) / connections,
    rssBefore,
    rssAfter,
    connections,
    alive,
    connectsPerSecond: connections / summary.windowSeconds,
    ...summary,
  };
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const scenarioFunctions = { fanIn, fanOut, qos1, connectCycles, idleMemory };
