import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { exitOnSignals } from '../src/shutdown.js';

const log = pino({ level: 'silent' });
// A signal nobody else in the test process listens to; process.emit runs the handlers only.
const SIGNAL = 'SIGUSR2';
let remove: (() => void) | undefined;

afterEach(() => {
  remove?.();
  vi.useRealTimers();
});

function install(stop: () => Promise<void> | undefined, timeoutMs = 1000) {
  const exit = vi.fn<(code: number) => void>();
  remove = exitOnSignals(log, { timeoutMs, stop, exit, signals: [SIGNAL] });
  return exit;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('exitOnSignals', () => {
  it('stops gracefully and exits 0', async () => {
    const stop = vi.fn(() => Promise.resolve());
    const exit = install(stop);
    process.emit(SIGNAL, SIGNAL);
    await settle();
    expect(stop).toHaveBeenCalledOnce();
    expect(exit.mock.calls).toEqual([[0]]);
  });

  it('exits 0 at once for a signal during startup', async () => {
    const exit = install(() => undefined);
    process.emit(SIGNAL, SIGNAL);
    await settle();
    expect(exit.mock.calls).toEqual([[0]]);
  });

  it('exits 1 when the stop takes longer than the timeout', async () => {
    vi.useFakeTimers();
    const exit = install(() => new Promise<void>(() => {}), 5000);
    process.emit(SIGNAL, SIGNAL);
    vi.advanceTimersByTime(4999);
    expect(exit).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(exit.mock.calls).toEqual([[1]]);
  });

  it('exits 1 at once on a second signal', () => {
    const stop = vi.fn(() => new Promise<void>(() => {}));
    const exit = install(stop);
    process.emit(SIGNAL, SIGNAL);
    process.emit(SIGNAL, SIGNAL);
    expect(stop).toHaveBeenCalledOnce();
    expect(exit.mock.calls).toEqual([[1]]);
  });

  it('exits 1 when the stop fails', async () => {
    const exit = install(() => Promise.reject(new Error('boom')));
    process.emit(SIGNAL, SIGNAL);
    await settle();
    expect(exit.mock.calls).toEqual([[1]]);
  });

  it('removes its handlers', () => {
    const before = process.listenerCount(SIGNAL);
    const exit = install(() => Promise.resolve());
    expect(process.listenerCount(SIGNAL)).toBe(before + 1);
    remove?.();
    remove = undefined;
    expect(process.listenerCount(SIGNAL)).toBe(before);
    expect(exit).not.toHaveBeenCalled();
  });
});
