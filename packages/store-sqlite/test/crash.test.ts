import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/index.js';
import { removeTempDirs, tempDir } from './helpers.js';

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
});
