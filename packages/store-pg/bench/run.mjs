// QoS 1 delivery-cycle writes per second through PgStore's group commit, in batches of 1, 10
// and 100 cycles per transaction. Each run uses its own schema, dropped afterwards.
// Run: npx tsup && node bench/run.mjs   (from packages/store-pg)
// Env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), BENCH_RUNS (default 5),
// BENCH_CYCLES (cycles per run and batch size, default 1000).
//
// One cycle is what a persistent subscriber costs the store for one QoS 1 message:
//   turn 1: saveMessage + saveDelivery            -> flush (before PUBACK to the publisher)
//   turn 2: updateDelivery (sent with a packet id) -> flush
//   turn 3: deleteDelivery + deleteMessage (PUBACK from the subscriber) -> flush
// = 5 writes and 3 transactions per batch. A batch of N cycles puts N of each in those 3
// transactions, as N publishes arriving in one event-loop turn would.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { PgStore } from '../dist/index.js';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 5));
const CYCLES = Math.max(100, Number(process.env.BENCH_CYCLES ?? 1000));
const BATCHES = [1, 10, 100];
const WRITES_PER_CYCLE = 5;
const payload = Buffer.alloc(256, 0x61);

async function admin(text) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

/** Seconds for CYCLES delivery cycles in batches of `batch` on a fresh schema. */
async function run(batch) {
  const schema = `mqtt_adapt_bench_${randomBytes(5).toString('hex')}`;
  const store = new PgStore({ connectionString: url, schema });
  try {
    await store.open();
    const clients = 10;
    for (let c = 0; c < clients; c++) {
      store.saveSession({
        clientId: `sub-${c}`,
        protocolVersion: 4,
        sessionExpiryInterval: undefined,
        username: undefined,
      });
    }
    await store.flush();
    let id = 0;
    const start = performance.now();
    for (let done = 0; done < CYCLES; done += batch) {
      const ids = [];
      for (let i = 0; i < batch; i++) {
        id++;
        ids.push(id);
        const clientId = `sub-${id % clients}`;
        store.saveMessage({
          id,
          topicName: `sensors/${id}`,
          payload,
          qos: 1,
          retain: false,
          properties: undefined,
        });
        store.saveDelivery(clientId, {
          seq: id,
          messageId: id,
          qos: 1,
          retain: false,
          packetId: undefined,
          released: false,
        });
      }
      await store.flush();
      for (const n of ids) store.updateDelivery(`sub-${n % clients}`, n, (n % 65535) + 1, false);
      await store.flush();
      for (const n of ids) {
        store.deleteDelivery(`sub-${n % clients}`, n);
        store.deleteMessage(n);
      }
      await store.flush();
    }
    return (performance.now() - start) / 1000;
  } finally {
    await store.close();
    await admin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const [{ synchronous_commit: syncCommit }] = await admin('SHOW synchronous_commit');
const [{ server_version: version }] = await admin('SHOW server_version');
console.log(
  `PgStore QoS 1 delivery cycles: PostgreSQL ${version}, synchronous_commit=${syncCommit}, ` +
    `${CYCLES} cycles per run, median of ${RUNS} runs, node ${process.version}\n`,
);
const rows = [];
for (const batch of BATCHES) {
  const seconds = [];
  for (let r = 0; r < RUNS; r++) seconds.push(await run(batch));
  const s = median(seconds);
  rows.push({
    'cycles/batch': batch,
    'writes/s': Math.round((CYCLES * WRITES_PER_CYCLE) / s),
    'cycles/s': Math.round(CYCLES / s),
    'commits/s': Math.round(((CYCLES / batch) * 3) / s),
    'ms/commit': ((s * 1000) / ((CYCLES / batch) * 3)).toFixed(2),
  });
}
const headers = Object.keys(rows[0]);
const widths = headers.map((h) => Math.max(h.length, ...rows.map((row) => String(row[h]).length)));
const line = (cells) => `| ${cells.map((cell, i) => String(cell).padStart(widths[i])).join(' | ')} |`;
console.log(line(headers));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows) console.log(line(headers.map((h) => row[h])));
