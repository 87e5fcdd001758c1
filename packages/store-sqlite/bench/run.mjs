// Group-commit throughput of the SQLite store for a QoS 1 delivery cycle:
//   n × (saveMessage + saveDelivery), flush;  n × (updateDelivery + deleteDelivery + deleteMessage), flush
// for batch sizes n = 1, 10, 100 and both synchronous levels; median of 5 runs, wall clock.
// Run: npx tsup && node bench/run.mjs   (from packages/store-sqlite)
// Options (env): BENCH_RUNS (default 5), BENCH_MESSAGES (messages per run, default 20000),
// BENCH_DIR (directory for the database files, default the OS temp dir).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SqliteStore } from '../dist/index.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const BATCHES = [1, 10, 100];
const LEVELS = ['normal', 'full'];
const WRITES_PER_MESSAGE = 5;
const payload = Buffer.alloc(256, 0x5a);
const properties = { contentType: 'application/json', userProperties: [['device', 'd-0042']] };

/** One run: `messages` messages through the cycle in batches of `batch`; returns messages/s. */
async function run(store, batch, messages) {
  let id = 0;
  let seq = 0;
  const started = performance.now();
  for (let done = 0; done < messages; done += batch) {
    const first = id + 1;
    for (let i = 0; i < batch; i++) {
      id++;
      seq++;
      store.saveMessage({ id, topicName: `bench/${id & 1023}`, payload, qos: 1, retain: false, properties });
      store.saveDelivery('bench', {
        seq,
        messageId: id,
        qos: 1,
        retain: false,
        packetId: undefined,
        released: false,
      });
    }
    await store.flush();
    for (let i = 0; i < batch; i++) {
      const s = seq - batch + 1 + i;
      store.updateDelivery('bench', s, (s % 65535) + 1, false);
      store.deleteDelivery('bench', s);
      store.deleteMessage(first + i);
    }
    await store.flush();
  }
  return messages / ((performance.now() - started) / 1000);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const fmt = (n) => Math.round(n).toLocaleString('en-US');

const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'mqtt-adapt-sqlite-bench-'));
const rows = [];
try {
  for (const synchronous of LEVELS) {
    for (const batch of BATCHES) {
      const store = new SqliteStore({ path: join(dir, `bench-${synchronous}-${batch}.db`), synchronous });
      await store.open();
      store.saveSession({
        clientId: 'bench',
        protocolVersion: 5,
        sessionExpiryInterval: 3600,
        username: undefined,
      });
      await store.flush();
      // Fewer messages for batch 1 with fsync: each commit costs a disk flush.
      const messages = Math.max(
        batch * 20,
        Math.min(MESSAGES, synchronous === 'full' ? batch * 500 : MESSAGES),
      );
      await run(store, batch, Math.min(messages, batch * 50)); // warm-up
      const samples = [];
      for (let r = 0; r < RUNS; r++) samples.push(await run(store, batch, messages));
      await store.close();
      const perSecond = median(samples);
      rows.push({
        synchronous,
        batch,
        'messages/s': fmt(perSecond),
        'store writes/s': fmt(perSecond * WRITES_PER_MESSAGE),
        'commits/s': fmt((perSecond * 2) / batch),
        'µs/message': (1e6 / perSecond).toFixed(1),
        runs: `${RUNS} × ${fmt(messages)}`,
      });
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log(
  `@mqtt-adapt/store-sqlite — QoS 1 cycle (save message + delivery, flush; update + delete both, flush)`,
);
console.log(
  `node ${process.version}, ${process.platform}/${process.arch}, median of ${RUNS} runs, database in ${tmpdir()}`,
);
console.table(rows);
