// Raw-socket MQTT clients for the load generator: connect, subscribe, count, ack. No MQTT
// library, no per-message objects: received PUBLISH packets are counted by MqttReader and
// QoS 1 PUBLISHes are acked with one write per received chunk.
import { connect as netConnect } from 'node:net';
import { connectPacket, PacketType, pubacksFor, subscribePacket } from './packets.mjs';
import { MqttReader } from './reader.mjs';

export const HOST = '127.0.0.1';
const HANDSHAKE_TIMEOUT_MS = 15_000;

/** One client connection. Callbacks are created once per connection (not per message). */
export class BenchClient {
  /** PUBACKs received (publisher side). */
  acked = 0;
  /** Called after every received chunk, once its packets are processed. */
  afterData = undefined;
  /** `received` already added to a shared total (see awaitDeliveries). */
  accounted = 0;
  /** Code of the last socket error, if any. */
  socketError = undefined;
  /** Called with (buf, payloadStart) for every QoS 1 PUBLISH received (set by a scenario). */
  onQos1Payload = undefined;
  /** Packet ids of QoS 1 PUBLISHes received in the current chunk, to ack. */
  #ackIds = new Uint16Array(1024);
  #ackCount = 0;
  #waiting = undefined;
  #closed = false;

  constructor(socket, name, { peekBytes = 0 } = {}) {
    this.socket = socket;
    this.name = name;
    this.reader = new MqttReader(this, { peekBytes });
    socket.on('data', (chunk) => this.#onData(chunk));
    socket.on('error', (error) => {
      this.socketError = error.code ?? error.message;
      if (this.#waiting !== undefined) this.#settle(new Error(`${name}: socket error ${this.socketError}`));
    });
    socket.on('close', () => {
      this.#closed = true;
      if (this.#waiting !== undefined) this.#settle(new Error(`${name}: connection closed by the broker`));
    });
  }

  get received() {
    return this.reader.publishes;
  }

  get isClosed() {
    return this.#closed;
  }

  #onData(chunk) {
    try {
      this.reader.feed(chunk);
    } catch (error) {
      this.socket.destroy();
      this.socketError = error.message;
      this.#settle(error);
      return;
    }
    if (this.#ackCount > 0) {
      this.socket.write(pubacksFor(this.#ackIds, this.#ackCount));
      this.#ackCount = 0;
    }
    if (this.afterData !== undefined) this.afterData(this);
  }

  // MqttReader owner interface.
  onQos1Publish(packetId, buf, payloadStart) {
    if (this.onQos1Payload !== undefined) this.onQos1Payload(buf, payloadStart);
    if (this.#ackCount === this.#ackIds.length) {
      const grown = new Uint16Array(this.#ackIds.length * 2);
      grown.set(this.#ackIds);
      this.#ackIds = grown;
    }
    this.#ackIds[this.#ackCount++] = packetId;
  }

  onControl(type, _flags, buf, bodyStart, bodyEnd) {
    if (type === PacketType.Puback) {
      this.acked++;
      return;
    }
    if (type === PacketType.Connack) {
      const returnCode = buf[bodyStart + 1];
      if (returnCode === 0) this.#settle(undefined);
      else this.#settle(new Error(`${this.name}: CONNACK return code ${returnCode}`));
      return;
    }
    if (type === PacketType.Suback) {
      const granted = buf[bodyEnd - 1];
      if (granted === 0x80) this.#settle(new Error(`${this.name}: SUBACK refused the subscription (0x80)`));
      else this.#settle(undefined);
    }
    // PINGRESP and anything else: ignored.
  }

  /** Resolves on the next CONNACK or SUBACK (rejects on error, close or timeout). */
  #expectAck(what) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.#settle(new Error(`${this.name}: no ${what} within ${HANDSHAKE_TIMEOUT_MS} ms`)),
        HANDSHAKE_TIMEOUT_MS,
      );
      this.#waiting = { resolve, reject, timer };
    });
  }

  #settle(error) {
    const waiting = this.#waiting;
    if (waiting === undefined) return;
    this.#waiting = undefined;
    clearTimeout(waiting.timer);
    if (error === undefined) waiting.resolve();
    else waiting.reject(error);
  }

  async subscribe(topicFilter, qos) {
    const acked = this.#expectAck('SUBACK');
    this.socket.write(subscribePacket(1, topicFilter, qos));
    await acked;
  }

  /** Waits for CONNACK after the CONNECT written by `openClient`. */
  connected() {
    return this.#expectAck('CONNACK');
  }

  destroy() {
    this.afterData = undefined;
    this.socket.destroy();
  }
}

/** TCP connect, CONNECT (clean session unless `cleanSession` is false), wait for CONNACK. */
export async function openClient(port, clientId, keepaliveSeconds = 0, peekBytes = 0, cleanSession = true) {
  const socket = netConnect({ host: HOST, port, noDelay: true });
  const client = new BenchClient(socket, clientId, { peekBytes });
  const connected = client.connected();
  socket.write(connectPacket(clientId, keepaliveSeconds, cleanSession));
  await connected;
  return client;
}

/** Opens `count` clients with at most `concurrency` handshakes in flight. */
export async function openClients(port, count, prefix, { concurrency = 100, keepaliveSeconds = 0 } = {}) {
  const clients = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      clients[index] = await openClient(port, `${prefix}-${index}`, keepaliveSeconds);
    }
  };
  const workers = [];
  for (let w = 0; w < Math.min(concurrency, count); w++) workers.push(worker());
  try {
    await Promise.all(workers);
  } catch (error) {
    for (const client of clients) client?.destroy();
    throw error;
  }
  return clients;
}

/** Destroys every client and waits (bounded) until their sockets are closed. */
export async function closeAll(clients, timeoutMs = 5000) {
  const closes = [];
  for (const client of clients) {
    if (client === undefined) continue;
    client.afterData = undefined;
    if (!client.isClosed) closes.push(new Promise((resolve) => client.socket.once('close', resolve)));
    client.socket.destroy();
  }
  let timer;
  await Promise.race([
    Promise.all(closes),
    new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
  ]);
  clearTimeout(timer);
}
