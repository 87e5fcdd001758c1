// Latency scenarios, run inside the generator process like lib/scenarios.mjs: 17 and 18,
// latency at a fixed rate, and 19, fairness (other clients' round trips while one paused
// subscriber is flooded). Publisher and receiver sit in the same process, so every time is
// one clock (performance.now()): from just before the write to the moment the answer's chunk
// is read.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { closeAll, openClient } from './clients.mjs';
import { IDLE_MS, Window } from './flow.mjs';
import { PINGREQ, payloadOf, publishPacket, publishRing, repeatPacket } from './packets.mjs';
import { tagOf } from './scenarios.mjs';
import { awaitCrossNodeInterest, placement } from './topology.mjs';

/** Most packets written in one tick of a paced sender after the generator fell behind. */
const MAX_BURST = 25;

/**
 * Percentiles (nearest rank) of `samples` (ms) as microseconds or milliseconds (`scale`), or
 * nulls when there is none.
 */
function percentiles(samples, count, scale) {
  if (count === 0) return { p50: null, p90: null, p99: null, p999: null, max: null, mean: null, samples: 0 };
  const sorted = samples.slice(0, count).sort();
  const at = (q) => sorted[Math.min(count - 1, Math.max(0, Math.ceil(q * count) - 1))] * scale;
  let sum = 0;
  for (let i = 0; i < count; i++) sum += sorted[i];
  return {
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    p999: at(0.999),
    max: sorted[count - 1] * scale,
    mean: (sum / count) * scale,
    samples: count,
  };
}

/**
 * Latencies (ms) of the messages 1..count that were answered: `answeredAt[i] - sentAt[i]`. With
 * `unansweredAt` set, a message never answered counts as answered then (a lower bound: it
 * waited at least that long), so losses cannot improve a percentile.
 */
function latencies(sentAt, answeredAt, count, unansweredAt = undefined) {
  const out = new Float64Array(count);
  let n = 0;
  for (let i = 1; i <= count; i++) {
    if (answeredAt[i] > 0) out[n++] = answeredAt[i] - sentAt[i];
    else if (unansweredAt !== undefined && sentAt[i] > 0) out[n++] = unansweredAt - sentAt[i];
  }
  return { samples: out, count: n };
}

/**
 * Calls `send(n, now)` with the number of packets due by now at `ratePerSecond` (at most
 * MAX_BURST at once), once per millisecond timer tick, until `total` were sent. Open loop: the
 * schedule does not wait for answers. Resolves with the time the last one was written.
 */
function pace(total, ratePerSecond, send) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let sent = 0;
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - t0) * ratePerSecond) / 1000) + 1);
      const n = Math.min(due - sent, MAX_BURST);
      if (n > 0) {
        send(sent, n, now);
        sent += n;
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve(now);
    };
    tick();
  });
}

/** Resolves once `isDone()` or nothing new was answered (`progress()`) for `idleMs`. */
function waitFor(isDone, progress, idleMs) {
  return new Promise((resolve) => {
    let last = progress();
    let lastChange = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      const current = progress();
      if (current !== last) {
        last = current;
        lastChange = now;
      }
      if (isDone()) {
        clearInterval(timer);
        resolve('complete');
      } else if (now - lastChange > idleMs) {
        clearInterval(timer);
        resolve('idle');
      }
    }, 5);
  });
}

/**
 * 17, 18. One publisher sends `ratePerSecond` PUBLISH packets (QoS `qos`, 64 B) for `durationMs`
 * on a topic of its own; one subscriber at the same QoS receives them (and PUBACKs at QoS 1).
 * Measured per message: publish -> delivery at the subscriber, and at QoS 1 publish -> PUBACK at
 * the publisher; the value is the median of publish -> delivery in µs.
 */
export async function publishLatency(run) {
  const { brokerPid, params } = run;
  const { qos, ratePerSecond, durationMs, payloadBytes } = params;
  const at = placement(run);
  const tag = tagOf(`lat${qos}`);
  const topic = `bench/l/${tag}`;
  // Packet ids are the sequence numbers, never reused within a run.
  const count = Math.min(65_535, Math.round((ratePerSecond * durationMs) / 1000));
  const sub = await openClient(at.sub(0), `${tag}-sub`, 0, 4, true, undefined, undefined, {
    peekQos0: qos === 0,
  });
  await sub.subscribe(topic, qos);
  const pub = await openClient(at.pub(0), `${tag}-pub`);
  await awaitCrossNodeInterest(run, tag);
  const { ring, stride } = publishRing(topic, payloadOf(payloadBytes), qos, 0, count);
  const sentAt = new Float64Array(count + 1);
  const deliveredAt = new Float64Array(count + 1);
  const ackedAt = new Float64Array(count + 1);
  let delivered = 0;
  let acked = 0;
  let duplicates = 0;
  sub.onQosPayload = (buf, at) => {
    const sequence = buf.readUInt16BE(at + 2);
    if (sequence < 1 || sequence > count || deliveredAt[sequence] !== 0) {
      duplicates++;
      return;
    }
    deliveredAt[sequence] = performance.now();
    delivered++;
  };
  pub.onPuback = (packetId) => {
    if (packetId < 1 || packetId > count || ackedAt[packetId] !== 0) return;
    ackedAt[packetId] = performance.now();
    acked++;
  };

  const window = new Window(brokerPid);
  window.start();
  const lastSend = await pace(count, ratePerSecond, (from, n, now) => {
    for (let i = 1; i <= n; i++) sentAt[from + i] = now;
    pub.socket.write(ring.subarray(from * stride, (from + n) * stride));
  });
  const sendSeconds = (lastSend - window.t0) / 1000;
  const end = await waitFor(
    () => delivered === count && (qos === 0 || acked === count),
    () => delivered + acked,
    IDLE_MS,
  );
  window.stop();
  const disconnected = [sub, pub].filter((c) => c.isClosed).length;
  await closeAll([sub, pub]);
  const toUs = 1000;
  const d = latencies(sentAt, deliveredAt, count);
  const a = latencies(sentAt, ackedAt, count);
  const delivery = percentiles(d.samples, d.count, toUs);
  return {
    unit: 'us',
    value: delivery.p50,
    delivery,
    puback: qos === 1 ? percentiles(a.samples, a.count, toUs) : null,
    expected: count,
    delivered,
    acked: qos === 1 ? acked : undefined,
    duplicates,
    sentPerSecond: sendSeconds > 0 ? count / sendSeconds : null,
    seconds: sendSeconds,
    end,
    disconnected,
    ...window.summary(),
  };
}

/**
 * 19. Fairness: one subscriber of a flood topic stops reading its socket (`socket.pause()`);
 * one publisher writes QoS 0 PUBLISH packets to that topic as fast as the broker reads them
 * (`floodBatch` per write, only socket backpressure holds it back; a few writes per event-loop
 * turn, so this process keeps its timers). After `fillMs`, three other clients probe the
 * broker every `probeIntervalMs` for `probeMs`, open loop: one sends PINGREQ (round trip to
 * PINGRESP), one publishes QoS 1 on a topic of its own (round trip to PUBACK) to a fourth,
 * subscribed at QoS 1 (publish -> delivery). A probe unanswered `graceMs` after the last one was
 * sent counts with the time it waited. The value is the PINGRESP median in ms.
 */
export async function fairness({ port, brokerPid, params }) {
  const { payloadBytes, floodBatch, fillMs, probeMs, probeIntervalMs, graceMs } = params;
  const tag = tagOf('fair');
  const floodTopic = `bench/fair/${tag}/flood`;
  const probeTopic = `bench/fair/${tag}/probe`;
  const slow = await openClient(port, `${tag}-slow`);
  await slow.subscribe(floodTopic, 0);
  const flooder = await openClient(port, `${tag}-flood`);
  const pinger = await openClient(port, `${tag}-ping`);
  const probeSub = await openClient(port, `${tag}-psub`, 0, 4);
  await probeSub.subscribe(probeTopic, 1);
  const probePub = await openClient(port, `${tag}-ppub`);
  const probes = Math.floor(probeMs / probeIntervalMs);

  // Probes: PINGRESPs come back in order, so the n-th answers the n-th PINGREQ.
  const pingSentAt = new Float64Array(probes + 1);
  const pingAnsweredAt = new Float64Array(probes + 1);
  let pingsAnswered = 0;
  pinger.onPingresp = () => {
    if (pingsAnswered < probes) pingAnsweredAt[++pingsAnswered] = performance.now();
  };
  const { ring, stride } = publishRing(probeTopic, payloadOf(payloadBytes), 1, 0, probes);
  const publishedAt = new Float64Array(probes + 1);
  const ackedAt = new Float64Array(probes + 1);
  const deliveredAt = new Float64Array(probes + 1);
  let acked = 0;
  let delivered = 0;
  probePub.onPuback = (id) => {
    if (id < 1 || id > probes || ackedAt[id] !== 0) return;
    ackedAt[id] = performance.now();
    acked++;
  };
  probeSub.onQosPayload = (buf, at) => {
    const sequence = buf.readUInt16BE(at + 2);
    if (sequence < 1 || sequence > probes || deliveredAt[sequence] !== 0) return;
    deliveredAt[sequence] = performance.now();
    delivered++;
  };

  // The flood.
  slow.socket.pause();
  const floodBytes = repeatPacket(publishPacket(floodTopic, payloadOf(payloadBytes), 0), floodBatch);
  let flooding = true;
  let blocked = false;
  let floodWritten = 0;
  const pump = () => {
    if (!flooding || blocked || flooder.socket.destroyed) return;
    for (let k = 0; k < 4; k++) {
      floodWritten += floodBatch;
      if (!flooder.socket.write(floodBytes)) {
        blocked = true;
        return;
      }
    }
    setImmediate(pump);
  };
  flooder.socket.on('drain', () => {
    blocked = false;
    pump();
  });
  const floodStart = performance.now();
  pump();
  await new Promise((resolve) => setTimeout(resolve, fillMs));

  // The probes, with this process's own event-loop delay watched (it adds to every round trip).
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const window = new Window(brokerPid);
  const floodAtProbeStart = floodWritten;
  window.start();
  const lastProbe = await pace(probes, 1000 / probeIntervalMs, (from, n, now) => {
    for (let i = 1; i <= n; i++) {
      pingSentAt[from + i] = now;
      publishedAt[from + i] = now;
      pinger.socket.write(PINGREQ);
    }
    probePub.socket.write(ring.subarray(from * stride, (from + n) * stride));
  });
  const end = await waitFor(
    () => pingsAnswered === probes && acked === probes && delivered === probes,
    () => pingsAnswered + acked + delivered,
    graceMs,
  );
  const probeEnd = performance.now();
  window.stop();
  loopDelay.disable();
  const floodSeconds = (probeEnd - window.t0) / 1000;
  const floodDuringProbes = floodWritten - floodAtProbeStart;
  flooding = false;
  const slowDisconnected = slow.isClosed;
  const probesDisconnected = [pinger, probePub, probeSub].filter((c) => c.isClosed).length;
  await closeAll([slow, flooder, pinger, probeSub, probePub]);

  const ping = latencies(pingSentAt, pingAnsweredAt, probes, probeEnd);
  const puback = latencies(publishedAt, ackedAt, probes, probeEnd);
  const delivery = latencies(publishedAt, deliveredAt, probes, probeEnd);
  const pingMs = percentiles(ping.samples, ping.count, 1);
  return {
    unit: 'ms',
    value: pingMs.p50,
    ping: pingMs,
    puback: percentiles(puback.samples, puback.count, 1),
    delivery: percentiles(delivery.samples, delivery.count, 1),
    probes,
    pingsAnswered,
    acked,
    expected: probes,
    delivered,
    // Written by the flooding publisher (and so read by the broker, give or take the socket
    // buffers) per second while the probes ran.
    floodPerSecond: floodDuringProbes / floodSeconds,
    floodMessages: floodWritten,
    floodSeconds: (probeEnd - floodStart) / 1000,
    slowSubscriberDisconnected: slowDisconnected,
    disconnected: probesDisconnected,
    generatorLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    seconds: (lastProbe - window.t0) / 1000,
    end:
      probesDisconnected > 0
        ? 'probe client disconnected'
        : end === 'complete'
          ? 'complete'
          : 'unanswered probes',
    ...window.summary(),
  };
}
