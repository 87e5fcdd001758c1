// A generator process of the idle-connection scenarios (5, 14): opens its share of the idle
// clients from its own source addresses (round robin), holds them until told, then closes them. lib/idle-memory.mjs
// runs several at once when one process cannot hold them all (its file descriptor limit) or one
// source address has too few ephemeral ports. Protocol over IPC:
//   child -> { phase: 'ready' }
//   parent -> { cmd: 'open', port, count, prefix, concurrency, localAddresses, ratePerSecond }
//   child -> { phase: 'opened', opened, setupMs, failed, errorSamples, cpuSeconds, startedAt, endedAt }
//   (as often as the parent likes: each 'open' adds `count` connections)
//   parent -> { cmd: 'close' }
//   child -> { phase: 'closed', alive, closedByBroker }, then exits
// Each connection is a bare socket with one listener per event (no BenchClient, no reader, no
// ack buffer): 50,000 of them must fit in one or a few processes.
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { HOST } from './clients.mjs';
import { connectPacket } from './packets.mjs';
import { ownCpuSeconds } from './proc.mjs';

const HANDSHAKE_TIMEOUT_MS = 15_000;
/** Past this many failed connections the holder stops opening more (the run has failed anyway). */
const MAX_FAILURES = 50;

const sockets = [];
/** Per connection opened by the last 'open': TCP connect -> CONNACK, ms. */
let setupMs = [];
let closedByBroker = 0;
let closing = false;

/** Connects, sends CONNECT, resolves undefined on CONNACK 0 or an error text. */
function openOne(port, clientId, localAddress) {
  return new Promise((resolve) => {
    const begin = performance.now();
    const socket = connect({ host: HOST, port, localAddress, noDelay: true });
    let head = null;
    let settled = false;
    const settle = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error === undefined) {
        sockets.push(socket);
        setupMs.push(performance.now() - begin);
      } else socket.destroy();
      resolve(error);
    };
    const timer = setTimeout(
      () => settle(`no CONNACK within ${HANDSHAKE_TIMEOUT_MS} ms`),
      HANDSHAKE_TIMEOUT_MS,
    );
    socket.on('data', (chunk) => {
      if (settled) return;
      head = head === null ? chunk : Buffer.concat([head, chunk]);
      if (head.length < 4) return;
      settle(
        head[0] === 0x20 && head[3] === 0 ? undefined : `CONNACK ${head.subarray(0, 4).toString('hex')}`,
      );
    });
    socket.on('error', (error) => settle(error.code ?? error.message));
    socket.on('close', () => {
      if (!settled) settle('closed before CONNACK');
      else if (!closing) closedByBroker++;
    });
    socket.write(connectPacket(clientId, 0, true));
  });
}

/**
 * Opens `count` more connections, at most `concurrency` handshakes at a time and, with
 * `ratePerSecond`, no faster than that (the i-th starts no earlier than i / rate s in).
 */
async function open({ port, count, prefix, concurrency, localAddresses, ratePerSecond }) {
  const t0 = performance.now();
  const startedAt = performance.timeOrigin + t0;
  const cpu0 = ownCpuSeconds();
  const first = sockets.length;
  setupMs = [];
  let next = 0;
  let failed = 0;
  const errorSamples = new Set();
  const worker = async () => {
    while (next < count && failed < MAX_FAILURES) {
      const index = next++;
      if (ratePerSecond !== undefined) {
        const wait = t0 + (index * 1000) / ratePerSecond - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      const localAddress = localAddresses[(first + index) % localAddresses.length];
      const error = await openOne(port, `${prefix}-${first + index}`, localAddress);
      if (error !== undefined) {
        failed++;
        if (errorSamples.size < 3) errorSamples.add(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return {
    phase: 'opened',
    opened: sockets.length - first,
    setupMs,
    failed,
    errorSamples: [...errorSamples],
    cpuSeconds: ownCpuSeconds() - cpu0,
    startedAt,
    endedAt: performance.timeOrigin + performance.now(),
  };
}

async function closeEverything() {
  const alive = sockets.filter((socket) => !socket.destroyed).length;
  closing = true;
  const closes = sockets.map((socket) =>
    socket.destroyed ? undefined : new Promise((resolve) => socket.once('close', resolve)),
  );
  for (const socket of sockets) socket.destroy();
  let timer;
  await Promise.race([
    Promise.all(closes),
    new Promise((resolve) => {
      timer = setTimeout(resolve, 10_000);
    }),
  ]);
  clearTimeout(timer);
  return { phase: 'closed', alive, closedByBroker };
}

process.on('message', async (message) => {
  try {
    if (message.cmd === 'open') process.send(await open(message));
    else if (message.cmd === 'close') {
      const reply = await closeEverything();
      process.send(reply, () => {
        process.disconnect();
        setTimeout(() => process.exit(0), 100).unref();
      });
    }
  } catch (error) {
    process.send({ phase: 'error', error: error instanceof Error ? error.message : String(error) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ phase: 'ready' });
