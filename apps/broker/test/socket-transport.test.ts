import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  beginInputTurn,
  CLOSE_GRACE_MS,
  endInputTurn,
  formatAddress,
  SocketTransport,
  type TransportSocket,
} from '../src/socket-transport.js';

/** Records what the transport does to its socket; `write` answers like a stream with `highWaterMark`. */
class FakeSocket {
  calls: string[] = [];
  written: Buffer[] = [];
  writableLength = 0;
  writableEnded = false;
  destroyed = false;
  remoteAddress: string | undefined = '127.0.0.1';
  remotePort: number | undefined = 53211;
  constructor(readonly highWaterMark = 100) {}
  get writableHighWaterMark() {
    return this.highWaterMark;
  }
  cork() {
    this.calls.push('cork');
  }
  uncork() {
    this.calls.push('uncork');
  }
  write(data: Buffer) {
    this.calls.push('write');
    this.written.push(data);
    this.writableLength += data.length;
    return this.writableLength < this.highWaterMark;
  }
  end() {
    this.calls.push('end');
    this.writableEnded = true;
    return this;
  }
  destroy() {
    this.calls.push('destroy');
    this.destroyed = true;
    return this;
  }
  pause() {
    this.calls.push('pause');
    return this;
  }
  resume() {
    this.calls.push('resume');
    return this;
  }
}

function transportOf(socket: FakeSocket): SocketTransport {
  return new SocketTransport(socket as unknown as TransportSocket);
}

const nextTick = () => new Promise<void>((resolve) => process.nextTick(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe('SocketTransport', () => {
  it('corks on the second write of a turn and uncorks once, in process.nextTick', async () => {
    const socket = new FakeSocket();
    const transport = transportOf(socket);
    transport.write(Buffer.from([1]));
    expect(socket.calls).toEqual([]);
    transport.write(Buffer.from([2]));
    transport.write(Buffer.from([3]));
    expect(socket.calls).toEqual(['cork', 'write', 'write', 'write']);
    await nextTick();
    expect(socket.calls).toEqual(['cork', 'write', 'write', 'write', 'uncork']);
    expect(Buffer.concat(socket.written)).toEqual(Buffer.from([1, 2, 3]));
  });

  it('writes the single write of a turn at the end of the turn, without corking', async () => {
    const socket = new FakeSocket();
    const transport = transportOf(socket);
    transport.write(Buffer.from([4]));
    expect(socket.calls).toEqual([]);
    await nextTick();
    expect(socket.calls).toEqual(['write']);
    expect(Buffer.concat(socket.written)).toEqual(Buffer.from([4]));
  });

  it('flushes every transport written to in a turn, in one nextTick', async () => {
    const sockets = [new FakeSocket(), new FakeSocket(), new FakeSocket()];
    const transports = sockets.map(transportOf);
    transports[0]!.write(Buffer.from([1]));
    transports[1]!.write(Buffer.from([2]));
    transports[1]!.write(Buffer.from([3]));
    transports[2]!.write(Buffer.from([4]));
    await nextTick();
    expect(sockets.map((s) => s.calls)).toEqual([['write'], ['cork', 'write', 'write', 'uncork'], ['write']]);
    transports[0]!.write(Buffer.from([5]));
    await nextTick();
    expect(sockets[0]!.calls).toEqual(['write', 'write']);
    expect(Buffer.concat(sockets[0]!.written)).toEqual(Buffer.from([1, 5]));
  });

  it('flushes the writes of an input turn when it ends, without waiting for nextTick', () => {
    const sockets = [new FakeSocket(), new FakeSocket()];
    const transports = sockets.map(transportOf);
    beginInputTurn();
    transports[0]!.write(Buffer.from([1]));
    beginInputTurn(); // nested: only the outermost end flushes
    transports[1]!.write(Buffer.from([2]));
    transports[1]!.write(Buffer.from([3]));
    endInputTurn();
    expect(sockets[0]!.calls).toEqual([]);
    endInputTurn();
    expect(sockets.map((s) => s.calls)).toEqual([['write'], ['cork', 'write', 'write', 'uncork']]);
    expect(Buffer.concat(sockets[1]!.written)).toEqual(Buffer.from([2, 3]));
  });

  it('drops the write of a turn whose socket was destroyed before the end of the turn', async () => {
    const socket = new FakeSocket();
    const transport = transportOf(socket);
    transport.write(Buffer.from([1]));
    socket.destroyed = true;
    await nextTick();
    expect(socket.calls).toEqual([]);
  });

  it('a burst within one turn is not a slow client, even past the high-water mark', () => {
    const socket = new FakeSocket(10);
    const transport = transportOf(socket);
    expect(transport.write(Buffer.alloc(6))).toBe(true);
    expect(transport.write(Buffer.alloc(6))).toBe(true);
    expect(transport.write(Buffer.alloc(60))).toBe(true);
  });

  it('returns false when the backlog of earlier turns is past the high-water mark', async () => {
    const socket = new FakeSocket(10);
    const transport = transportOf(socket);
    transport.write(Buffer.alloc(12));
    await nextTick(); // the peer read nothing: 12 bytes still queued at the next turn
    expect(transport.write(Buffer.alloc(1))).toBe(false);
    socket.writableLength = 0; // drained
    await nextTick();
    expect(transport.write(Buffer.alloc(1))).toBe(true);
  });

  it('close destroys a socket with nothing left to send at once, once', () => {
    const socket = new FakeSocket();
    const transport = transportOf(socket);
    transport.close();
    transport.close();
    expect(socket.calls).toEqual(['destroy']);
  });

  it('close ends a socket with bytes still queued once and destroys it after the grace period', () => {
    vi.useFakeTimers();
    const socket = new FakeSocket();
    socket.writableLength = 5; // written in an earlier turn, not yet sent
    const transport = transportOf(socket);
    transport.close();
    transport.close();
    expect(socket.calls).toEqual(['end']);
    vi.advanceTimersByTime(CLOSE_GRACE_MS - 1);
    expect(socket.destroyed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(socket.destroyed).toBe(true);
  });

  it('does not destroy a socket that closed within the grace period', () => {
    vi.useFakeTimers();
    const socket = new FakeSocket();
    socket.writableLength = 5;
    const transport = transportOf(socket);
    transport.close();
    transport.socketClosed();
    vi.advanceTimersByTime(CLOSE_GRACE_MS * 2);
    expect(socket.calls).toEqual(['end']);
  });

  it('drops writes after close, and after the socket ended or was destroyed', () => {
    const closed = new FakeSocket();
    const transport = transportOf(closed);
    transport.close();
    expect(transport.isClosing).toBe(true);
    expect(transport.write(Buffer.from([1]))).toBe(false);
    expect(closed.written).toEqual([]);

    const destroyed = new FakeSocket();
    destroyed.destroyed = true;
    expect(transportOf(destroyed).write(Buffer.from([1]))).toBe(false);
    expect(destroyed.calls).toEqual([]);
  });

  it('flushes writes of the turn in which close is called (end uncorks)', async () => {
    const socket = new FakeSocket();
    const transport = transportOf(socket);
    transport.write(Buffer.from([1]));
    transport.close();
    await nextTick();
    // The held write goes before end(); the end of the turn has nothing left to write.
    expect(socket.calls).toEqual(['write', 'end']);

    const corked = new FakeSocket();
    const twice = transportOf(corked);
    twice.write(Buffer.from([1]));
    twice.write(Buffer.from([2]));
    twice.close();
    await nextTick();
    // The nextTick uncork still runs but the socket's end() has flushed already.
    expect(corked.calls.slice(0, 4)).toEqual(['cork', 'write', 'write', 'end']);
    expect(Buffer.concat(corked.written)).toEqual(Buffer.from([1, 2]));
  });

  it('maps pause and resume to the socket, and does not resume a closing one', () => {
    const socket = new FakeSocket();
    const transport = transportOf(socket);
    transport.pause();
    transport.resume();
    transport.close();
    transport.resume();
    expect(socket.calls).toEqual(['pause', 'resume', 'destroy']);
  });

  it('names the peer as address:port, IPv6 in brackets', () => {
    expect(transportOf(new FakeSocket()).remoteAddress).toBe('127.0.0.1:53211');
    expect(formatAddress('::1', 1883)).toBe('[::1]:1883');
    expect(formatAddress(undefined, undefined)).toBe('unknown');
  });
});
