// Flow control and measurement shared by the scenarios: the measured window (wall time and
// CPU), waiting for deliveries, and the publishers' pumps with their bounded windows.
import { performance } from 'node:perf_hooks';
import { cpuBetween, cpuSecondsOf, ownCpuSeconds, pidsNamed, processSnapshot, processTree } from './proc.mjs';

/** Stop waiting once no PUBLISH arrived for this long. */
export const IDLE_MS = 2000;
/**
 * With publishers waiting on end-to-end credit and nothing arriving for this long, what is
 * outstanding is taken as dropped by the broker and its credit is released.
 */
const STALL_MS = 200;
/**
 * Services the cluster scenarios measure beside the brokers, by command name: every process of
 * that name on the machine counts (PostgreSQL: the postmaster, its backends and writers).
 */
const INFRA_COMMANDS = { nats: ['nats-server'], postgres: ['postgres'] };

/**
 * Wall time and CPU of the broker and of this process over one measured window. `brokerPid` is
 * one pid (its own CPU), or `{ roots, infra }` (the cluster scenarios): the CPU of every process
 * under the pids `roots` (the nodes of a cluster, a broker with worker processes), and with
 * `infra` that of the NATS server and of PostgreSQL too.
 */
export class Window {
  constructor(brokerPid) {
    this.brokerPid = brokerPid;
    this.group = typeof brokerPid === 'object' && brokerPid !== null ? brokerPid : undefined;
  }

  start() {
    this.snapshot0 = this.group === undefined ? undefined : processSnapshot();
    this.brokerCpu0 = this.#brokerCpu();
    this.generatorCpu0 = ownCpuSeconds();
    this.t0 = performance.now();
    this.mark();
  }

  /** Samples time and CPU now, so that `stop(true)` can end the window here instead. */
  mark() {
    this.tMark = performance.now();
    this.snapshotMark = this.group === undefined ? undefined : processSnapshot();
    this.brokerCpuMark = this.#brokerCpu(this.snapshotMark);
    this.generatorCpuMark = ownCpuSeconds();
  }

  /** Ends the window now, or with `atMark` at the last `mark()` (leaving out an idle wait). */
  stop(atMark = false) {
    if (atMark) {
      this.t1 = this.tMark;
      this.snapshot1 = this.snapshotMark;
      this.brokerCpu1 = this.brokerCpuMark;
      this.generatorCpu1 = this.generatorCpuMark;
      return;
    }
    this.t1 = performance.now();
    this.snapshot1 = this.group === undefined ? undefined : processSnapshot();
    this.brokerCpu1 = this.#brokerCpu(this.snapshot1);
    this.generatorCpu1 = ownCpuSeconds();
  }

  /** One pid: its CPU seconds so far; a group: the CPU of its trees since start() (0 at start). */
  #brokerCpu(snapshot = undefined) {
    if (this.group === undefined) return cpuSecondsOf(this.brokerPid);
    if (snapshot === undefined) return 0;
    const pids = new Set([
      ...processTree(this.snapshot0, this.group.roots),
      ...processTree(snapshot, this.group.roots),
    ]);
    return cpuBetween(this.snapshot0, snapshot, pids);
  }

  #infraCpu(names) {
    const pids = new Set([...pidsNamed(this.snapshot0, names), ...pidsNamed(this.snapshot1, names)]);
    return pids.size === 0 ? null : cpuBetween(this.snapshot0, this.snapshot1, pids);
  }

  summary() {
    const brokerCpu =
      this.brokerCpu0 === undefined || this.brokerCpu1 === undefined
        ? null
        : this.brokerCpu1 - this.brokerCpu0;
    const infra =
      this.group?.infra === true
        ? {
            natsCpuSeconds: this.#infraCpu(INFRA_COMMANDS.nats),
            postgresCpuSeconds: this.#infraCpu(INFRA_COMMANDS.postgres),
          }
        : {};
    return {
      windowSeconds: (this.t1 - this.t0) / 1000,
      brokerCpuSeconds: brokerCpu,
      generatorCpuSeconds: this.generatorCpu1 - this.generatorCpu0,
      ...infra,
    };
  }
}

/**
 * Resolves when the subscribers together received `expected` PUBLISH packets, or when nothing
 * arrived for IDLE_MS ("idle" once publishing is done, "stalled" before), or at `timeoutMs`.
 * `onProgress(total)` runs after every received chunk; `onStall()` every 50 ms while nothing
 * arrived for STALL_MS before publishing is done.
 */
export function awaitDeliveries(subscribers, expected, isPublishingDone, t0, timeoutMs, onProgress, onStall) {
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
export class Credit {
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
export class Qos0Pump {
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
export class Qos1Pump {
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

/** Flood scenarios: the run ends once nothing arrived for this long (see awaitFlood). */
export const FLOOD_IDLE_MS = 3000;

/**
 * Flood sender (scenarios 7 and 8): writes every packet of its pre-encoded ring, `batch`
 * packets per write (one view of the ring), without waiting for any acknowledgement. It stops
 * only at socket backpressure, until 'drain'. The client counts the broker's acks (`acked`)
 * and answers PUBRECs with PUBRELs.
 */
export class FloodPump {
  sent = 0;

  constructor(client, ring, batch) {
    this.client = client;
    this.ring = ring;
    this.batch = batch;
    client.socket.on('drain', () => this.write());
  }

  get total() {
    return this.ring.size;
  }

  write() {
    const { ring, stride, size } = this.ring;
    const socket = this.client.socket;
    while (this.sent < size && !socket.destroyed) {
      const n = Math.min(this.batch, size - this.sent);
      const more = socket.write(ring.subarray(this.sent * stride, (this.sent + n) * stride));
      this.sent += n;
      if (!more) return;
    }
  }
}

/**
 * What one subscriber received of numbered messages (payload: publisher index, sequence
 * 1..perPublisher, as lib/packets.mjs publishRing writes them): unique messages, duplicates
 * (a message seen before), and order violations (a first arrival with a lower sequence than
 * one already received from the same publisher; a gap left by a dropped message is not one).
 */
export class DeliveryTally {
  unique = 0;
  duplicates = 0;
  outOfOrder = 0;
  /** Payloads that name no message of this run. */
  foreign = 0;

  constructor(publishers, perPublisher) {
    this.publishers = publishers;
    this.perPublisher = perPublisher;
    this.seen = new Uint8Array(publishers * (perPublisher + 1));
    this.highest = new Uint32Array(publishers);
  }

  record(index, sequence) {
    if (index >= this.publishers || sequence < 1 || sequence > this.perPublisher) {
      this.foreign++;
      return;
    }
    const at = index * (this.perPublisher + 1) + sequence;
    if (this.seen[at] === 1) {
      this.duplicates++;
      return;
    }
    this.seen[at] = 1;
    this.unique++;
    if (sequence < this.highest[index]) this.outOfOrder++;
    else this.highest[index] = sequence;
  }
}

/**
 * Waits for the end of a flood run: every publisher got all its acks, and then either every
 * acknowledged message reached the subscriber ("complete") or none arrived for FLOOD_IDLE_MS
 * ("idle"). Also ends when neither an ack nor a message arrived for FLOOD_IDLE_MS before all
 * acks were in ("stalled"), when a client was disconnected, or at `timeoutMs`. Every 50 ms with
 * something received since the last tick, `window.mark()` samples the CPU, so the window can
 * end at the last activity rather than after the idle wait. Resolves with the times of the last
 * ack and the last delivery.
 */
export function awaitFlood(pumps, sub, tally, window, timeoutMs) {
  const t0 = window.t0;
  return new Promise((resolve) => {
    const state = { lastAck: t0, lastArrival: t0, active: false, acked: 0 };
    const sent = pumps.reduce((sum, pump) => sum + pump.total, 0);
    let finished = false;
    const finish = (reason) => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      sub.afterData = undefined;
      for (const pump of pumps) pump.client.afterData = undefined;
      resolve({ reason, lastAck: state.lastAck, lastArrival: state.lastArrival, acked: state.acked });
    };
    const isAllAcked = () => state.acked >= sent;
    const check = () => {
      if (isAllAcked() && tally.unique >= state.acked) finish('complete');
    };
    const onAck = () => {
      let acked = 0;
      for (const pump of pumps) acked += pump.client.acked;
      if (acked === state.acked) return;
      state.acked = acked;
      state.lastAck = performance.now();
      state.active = true;
      check();
    };
    for (const pump of pumps) pump.client.afterData = onAck;
    sub.afterData = () => {
      state.lastArrival = performance.now();
      state.active = true;
      check();
    };
    const timer = setInterval(() => {
      const now = performance.now();
      if (state.active) {
        window.mark();
        state.active = false;
      }
      const quietMs = now - Math.max(state.lastAck, state.lastArrival);
      if (sub.isClosed || pumps.some((pump) => pump.client.isClosed)) finish('client disconnected');
      else if (now - t0 > timeoutMs) finish('timeout');
      else if (quietMs > FLOOD_IDLE_MS) finish(isAllAcked() ? 'idle' : 'stalled');
    }, 50);
  });
}
