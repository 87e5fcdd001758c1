import { describe, expect, it } from 'vitest';
import { chargeInput, INPUT_BUDGET_BYTES } from '../src/input-fairness.js';
import { SocketTransport, type TransportSocket } from '../src/socket-transport.js';

/** A socket that only records whether it is being read. */
function fakeSocket(): TransportSocket & { reading: boolean } {
  const socket = {
    reading: true,
    destroyed: false,
    writableEnded: false,
    writableLength: 0,
    writableHighWaterMark: 16384,
    remoteAddress: '127.0.0.1',
    remotePort: 1,
    pause() {
      socket.reading = false;
      return socket;
    },
    resume() {
      socket.reading = true;
      return socket;
    },
    cork() {},
    uncork() {},
    write: () => true,
    end() {
      return socket;
    },
    destroy() {
      socket.destroyed = true;
      return socket;
    },
  };
  return socket as unknown as TransportSocket & { reading: boolean };
}

const nextCheckPhase = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('chargeInput: one socket read a full budget in a row yields to the others for a turn', () => {
  it('reads below the budget never pause the socket', async () => {
    const socket = fakeSocket();
    const transport = new SocketTransport(socket);
    for (let i = 0; i < 100; i++) {
      chargeInput(transport, 100);
      // Another socket's input between resets the count.
      chargeInput(new SocketTransport(fakeSocket()), 1);
    }
    expect(socket.reading).toBe(true);
  });

  it('a budget read in a row pauses the socket until the next check phase', async () => {
    const socket = fakeSocket();
    const transport = new SocketTransport(socket);
    chargeInput(transport, INPUT_BUDGET_BYTES / 2);
    expect(socket.reading).toBe(true);
    chargeInput(transport, INPUT_BUDGET_BYTES / 2);
    expect(socket.reading).toBe(false);
    await nextCheckPhase();
    expect(socket.reading).toBe(true);
  });

  it('a socket the router paused stays paused after its yield ends, and the other way round', async () => {
    const socket = fakeSocket();
    const transport = new SocketTransport(socket);
    chargeInput(transport, INPUT_BUDGET_BYTES);
    transport.pause();
    await nextCheckPhase();
    expect(socket.reading).toBe(false);
    transport.resume();
    expect(socket.reading).toBe(true);

    chargeInput(transport, INPUT_BUDGET_BYTES);
    transport.pause();
    transport.resume();
    expect(socket.reading).toBe(false);
    await nextCheckPhase();
    expect(socket.reading).toBe(true);
  });

  it('a closing transport is not read again after its yield', async () => {
    const socket = fakeSocket();
    const transport = new SocketTransport(socket);
    transport.write(Buffer.from([0xd0, 0]));
    chargeInput(transport, INPUT_BUDGET_BYTES);
    transport.close();
    await nextCheckPhase();
    expect(socket.reading).toBe(false);
  });
});
