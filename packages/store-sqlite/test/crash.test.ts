import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/index.js';
import { recordingLogger, removeTempDirs, tempDir } from './helpers.js';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const distEntry = join(packageDir, 'dist', 'index.js');

/** Newest modification time under `dir`, in ms. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestMtime(path) : stat.mtimeMs);
  }
  return newest;
}

/**
 * The child: opens the store, writes 300 deliveries and flushes, prints "flushed", then keeps
 * writing in batches of 50 messages + deliveries, one batch per turn (each committed at the end
 * of its turn), and SIGKILLs itself in the middle of a batch that is still pending.
 */
const childScript = `
const { SqliteStore } = await import(process.env.STORE_MODULE);
const store = new SqliteStore({ path: process.env.STORE_PATH });
await store.open();
const write = (id) => {
  store.saveMessage({ id, topicName: 'crash/' + id, payload: Buffer.alloc(200, id & 0xff), qos: 1, retain: false,
    properties: { userProperties: [['n', String(id)]] } });
  store.saveDelivery('c', { seq: id, messageId: id, qos: 1, retain: false, packetId: undefined, released: false });
};
store.saveSession({ clientId: 'c', protocolVersion: 5, sessionExpiryInterval: 3600, expiresAt: undefined, username: 'alice' });
store.saveSubscription('c', 'crash/#', { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0,
  subscriptionIdentifier: undefined });
for (let id = 1; id <= 300; id++) write(id);
await store.flush();
process.stdout.write('flushed\\n');
let id = 301;
const batch = () => {
  for (let i = 0; i < 50; i++) write(id++);
  if (id > 2000) process.kill(process.pid, 'SIGKILL');
  else setImmediate(batch);
};
batch();
`;

/**
 * The child of the second case: what a broker with one persistent subscriber writes. Each turn
 * saves 40 messages with a delivery to 'c' (every 4th also to 'd': a shared body; every 5th
 * 2000 bytes: not inline), "acknowledges" (deletes) the deliveries saved more than 30 messages
 * ago, some of them still waiting for their commit, and delivers every 10th message of the turn
 * before again to 'd' (a later delivery of a body held inline). It prints `ok S A P` when the
 * flush of a turn resolved: saved up to S, acknowledged up to A, delivered again up to P; and
 * `issued S A` for the writes made when it kills itself, in the middle of a batch.
 */
const ackChildScript = `
const { SqliteStore } = await import(process.env.STORE_MODULE);
const store = new SqliteStore({ path: process.env.STORE_PATH });
await store.open();
const session = (clientId) => ({ clientId, protocolVersion: 4, sessionExpiryInterval: undefined, expiresAt: undefined, username: undefined });
store.saveSession(session('c'));
store.saveSession(session('d'));
await store.flush();
const body = (id) => ({ id, topicName: 'crash/' + id, payload: Buffer.alloc(id % 5 === 0 ? 2000 : 100, id & 0xff),
  qos: 1, retain: false, properties: id % 3 === 0 ? { userProperties: [['n', String(id)]] } : undefined });
const delivery = (seq, messageId) => ({ seq, messageId, qos: 1, retain: false, packetId: (seq % 65535) + 1, released: false });
const refs = new Map();
const unref = (id) => { const n = refs.get(id) - 1; if (n === 0) { refs.delete(id); store.deleteMessage(id); } else refs.set(id, n); };
let saved = 0, acked = 0, again = 0;
const turn = () => {
  const ackTo = Math.max(acked, saved - 30);
  for (let id = acked + 1; id <= ackTo; id++) {
    store.deleteDelivery('c', id); unref(id);
    if (id % 4 === 0) { store.deleteDelivery('d', id); unref(id); }
  }
  acked = ackTo;
  for (let id = again + 1; id <= saved; id++) {
    if (id % 10 !== 1 || !refs.has(id)) continue;
    store.saveDelivery('d', delivery(1000000 + id, id)); refs.set(id, refs.get(id) + 1);
  }
  again = saved;
  for (let i = 0; i < 40; i++) {
    const id = ++saved;
    store.saveMessage(body(id));
    store.saveDelivery('c', delivery(id, id)); refs.set(id, 1);
    if (id % 4 === 0) { store.saveDelivery('d', delivery(id, id)); refs.set(id, 2); }
  }
  const line = 'ok ' + saved + ' ' + acked + ' ' + again + '\\n';
  store.flush().then(() => process.stdout.write(line));
  if (saved < 4000) setImmediate(turn);
  else {
    process.stdout.write('issued ' + saved + ' ' + acked + '\\n');
    process.kill(process.pid, 'SIGKILL');
  }
};
turn();
`;

/** Runs `script` in a child on the built store; resolves with its stdout once it is killed. */
async function runKilledChild(script: string, path: string): Promise<string> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, STORE_MODULE: pathToFileURL(distEntry).href, STORE_PATH: path },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const signal = await new Promise<NodeJS.Signals | null>((done) =>
    child.on('exit', (_code, sig) => done(sig)),
  );
  expect(stderr).toBe('');
  expect(signal).toBe('SIGKILL');
  return stdout;
}

describe('a real crash: kill -9 in a child process', () => {
  const dir = tempDir();
  const path = join(dir, 'crash.db');

  beforeAll(() => {
    // The child runs the built package; a stale build would test old code.
    if (!existsSync(distEntry) || statSync(distEntry).mtimeMs < newestMtime(join(packageDir, 'src'))) {
      throw new Error(
        `${distEntry} is missing or older than src/: run \`npx tsup\` in packages/store-sqlite first`,
      );
    }
  });
  afterAll(removeTempDirs);

  it('keeps everything flushed before the kill, and commits whole batches only', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', childScript], {
      env: { ...process.env, STORE_MODULE: pathToFileURL(distEntry).href, STORE_PATH: path },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const signal = await new Promise<NodeJS.Signals | null>((done) =>
      child.on('exit', (_code, sig) => done(sig)),
    );
    expect(stderr).toBe('');
    expect(signal).toBe('SIGKILL');
    expect(stdout).toBe('flushed\n');
    // Never closed: the committed data is still in the WAL, which the next open must recover.
    expect(existsSync(`${path}-wal`)).toBe(true);

    const store = new SqliteStore({ path });
    const snapshot = await store.open();
    await store.close();
    expect(snapshot.sessions).toHaveLength(1);
    const session = snapshot.sessions[0]!;
    expect(session.session).toEqual({
      clientId: 'c',
      protocolVersion: 5,
      sessionExpiryInterval: 3600,
      username: 'alice',
    });
    expect(session.subscriptions.map((s) => s.topicFilter)).toEqual(['crash/#']);
    const seqs = session.deliveries.map((d) => d.seq);
    // Everything flushed is there, and what was committed after it is whole batches in order:
    // 1..n with n = 300 + 50k, never a torn batch; the batch pending at the kill is lost.
    expect(seqs.length).toBeGreaterThanOrEqual(300);
    expect(seqs.length).toBeLessThan(2000);
    expect((seqs.length - 300) % 50).toBe(0);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(snapshot.maxMessageId).toBe(seqs.length);
    for (const delivery of session.deliveries) {
      expect(delivery.message.payload.equals(Buffer.alloc(200, delivery.seq & 0xff))).toBe(true);
      expect(delivery.message.properties).toEqual({ userProperties: [['n', String(delivery.seq)]] });
    }
  });

  it('with deliveries acknowledged before their commit: nothing acknowledged is lost, nothing deleted comes back', async () => {
    const ackPath = join(dir, 'crash-acks.db');
    const stdout = await runKilledChild(ackChildScript, ackPath);
    const lines = stdout.trim().split('\n');
    const issued = lines.pop() as string;
    const last = lines[lines.length - 1] as string;
    expect(last).toMatch(/^ok \d+ \d+ \d+$/);
    expect(issued).toMatch(/^issued \d+ \d+$/);
    const [saved, acked, again] = last.split(' ').slice(1).map(Number) as [number, number, number];
    const [, issuedAcked] = issued.split(' ').slice(1).map(Number) as [number, number];
    expect(saved).toBeGreaterThan(1000);

    const { logger, calls } = recordingLogger();
    const store = new SqliteStore({ path: ackPath, logger });
    const snapshot = await store.open();
    await store.close();
    expect(calls.filter((c) => c.level === 'warn')).toEqual([]);
    const deliveries = (clientId: string) =>
      snapshot.sessions.find((s) => s.session.clientId === clientId)?.deliveries ?? [];
    for (const clientId of ['c', 'd']) {
      const present = new Set(deliveries(clientId).map((d) => d.seq));
      for (let seq = 1; seq <= saved; seq++) {
        if (clientId === 'd' && seq % 4 !== 0) continue;
        // Acknowledged and flushed: gone. Flushed and never acknowledged: there. Acknowledged
        // after the last flush: either (a delete that cancelled a save waiting for its commit
        // took effect with that commit, as it would have with its own).
        if (seq <= acked) expect(present.has(seq), `${clientId}/${seq}`).toBe(false);
        else if (seq > issuedAcked) expect(present.has(seq), `${clientId}/${seq}`).toBe(true);
      }
    }
    // Every message delivered again to 'd' (its body inline in 'c' first) up to `again` is there.
    const againSeqs = new Set(
      deliveries('d')
        .map((d) => d.seq)
        .filter((seq) => seq >= 1000000),
    );
    let checked = 0;
    for (let id = 1; id <= again; id++) {
      // Saved in turn k (ids 40k-39..40k), delivered again in turn k+1 unless acknowledged first.
      const k = Math.ceil(id / 40);
      if (id % 10 !== 1 || id <= 40 * k - 30) continue;
      expect(againSeqs.has(1000000 + id), `d/${1000000 + id}`).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
    for (const clientId of ['c', 'd']) {
      for (const delivery of deliveries(clientId)) {
        const id = delivery.messageId;
        expect(delivery.message.payload.equals(Buffer.alloc(id % 5 === 0 ? 2000 : 100, id & 0xff))).toBe(
          true,
        );
        expect(delivery.message.properties).toEqual(
          id % 3 === 0 ? { userProperties: [['n', String(id)]] } : undefined,
        );
      }
    }
  });
});
