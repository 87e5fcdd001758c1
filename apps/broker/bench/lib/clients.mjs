// Raw-socket MQTT clients for the load generator: connect, subscribe, count, ack. No MQTT
// library, no per-message objects: received PUBLISH packets are counted by MqttReader, and the
// acknowledgements the packets of one received chunk call for (PUBACK, PUBREC, PUBREL, PUBCOMP)
// go out in one write.
import { connect as netConnect } from 'node:net';
import { AckByte, connectPacket, PacketType, subscribePacket } from './packets.mjs';
import { MqttReader } from './reader.mjs';

export const HOST = '127.0.0.1';
const HANDSHAKE_TIMEOUT_MS = 15_000;

/** One client connection. Callbacks are created once per connection (not per message). */
export class BenchClient {
  /**
   * PUBACKs (QoS 1) and PUBRECs (QoS 2) received (publisher side): messages the broker took
   * charge of. Every PUBREC is answered with a PUBREL.
   */
  acked = 0;
  /** PUBCOMPs received (QoS 2 publisher side). */
  completed = 0;
  /** Called after every received chunk, once its packets are processed. */
  afterData = undefined;
  /** `received` already added to a shared total (see awaitDeliveries). */
  accounted = 0;
  /** Code of the last socket error, if any. */
  socketError = undefined;
  /** Bytes received from the broker (every packet, CONNACK included). */
  bytesReceived = 0;
  /**
   * Called with (buf, payloadStart) for every QoS 1 or 2 PUBLISH received (set by a scenario);
   * with `peekQos0`, for every QoS 0 PUBLISH too.
   */
  onQosPayload = undefined;
  /** Called with the packet id of every PUBACK received (latency scenarios). */
  onPuback = undefined;
  /** Called for every PINGRESP received (the fairness scenario). */
  onPingresp = undefined;
  /** The acknowledgements owed for the current chunk, 4 bytes each, written once it is read. */
  #acks = Buffer.allocUnsafe(4096);
  #acksLength = 0;
  #waiting = undefined;
  #closed = false;

  constructor(socket, name, { peekBytes = 0, protocolVersion = 4, peekQos0 = false } = {}) {
    this.socket = socket;
    this.name = name;
    this.protocolVersion = protocolVersion;
    this.reader = new MqttReader(this, { peekBytes, protocolVersion, peekQos0 });
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
    this.bytesReceived += chunk.length;
    try {
      this.reader.feed(chunk);
    } catch (error) {
      this.socket.destroy();
      this.socketError = error.message;
      this.#settle(error);
      return;
    }
    if (this.#acksLength > 0) {
      // A copy: the buffer is reused for the next chunk while this write may still be queued.
      this.socket.write(Buffer.from(this.#acks.subarray(0, this.#acksLength)));
      this.#acksLength = 0;
    }
    if (this.afterData !== undefined) this.afterData(this);
  }

  #queueAck(firstByte, packetId) {
    const at = this.#acksLength;
    if (at + 4 > this.#acks.length) {
      const grown = Buffer.allocUnsafe(this.#acks.length * 2);
      this.#acks.copy(grown, 0, 0, at);
      this.#acks = grown;
    }
    const acks = this.#acks;
    acks[at] = firstByte;
    acks[at + 1] = 2;
    acks.writeUInt16BE(packetId, at + 2);
    this.#acksLength = at + 4;
  }

  // MqttReader owner interface.
  onQosPublish(packetId, qos, buf, payloadStart) {
    if (this.onQosPayload !== undefined) this.onQosPayload(buf, payloadStart);
    this.#queueAck(qos === 1 ? AckByte.Puback : AckByte.Pubrec, packetId);
  }

  onQos0Publish(buf, payloadStart) {
    if (this.onQosPayload !== undefined) this.onQosPayload(buf, payloadStart);
  }

  onControl(type, _flags, buf, bodyStart, bodyEnd) {
    if (type === PacketType.Puback) {
      this.acked++;
      if (this.onPuback !== undefined) this.onPuback(buf.readUInt16BE(bodyStart));
      return;
    }
    if (type === PacketType.Pingresp) {
      if (this.onPingresp !== undefined) this.onPingresp();
      return;
    }
    if (type === PacketType.Pubrec) {
      this.acked++;
      this.#queueAck(AckByte.Pubrel, buf.readUInt16BE(bodyStart));
      return;
    }
    if (type === PacketType.Pubrel) {
      this.#queueAck(AckByte.Pubcomp, buf.readUInt16BE(bodyStart));
      return;
    }
    if (type === PacketType.Pubcomp) {
      this.completed++;
      return;
    }
    if (type === PacketType.Connack) {
      // 3.1.1 return code and 5.0 reason code are both the second byte.
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
    // Anything else: ignored.
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
    this.socket.write(subscribePacket(1, topicFilter, qos, this.protocolVersion));
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

/**
 * TCP connect, CONNECT (clean session unless `cleanSession` is false; with `credentials`,
 * { username, password }, if given), wait for CONNACK. With `v5` ({ topicAliasMaximum }), the
 * client speaks MQTT 5.0 (see packets.mjs connectPacket).
 */
export async function openClient(
  port,
  clientId,
  keepaliveSeconds = 0,
  peekBytes = 0,
  cleanSession = true,
  credentials = undefined,
  v5 = undefined,
  { peekQos0 = false } = {},
) {
  const socket = netConnect({ host: HOST, port, noDelay: true });
  const protocolVersion = v5 === undefined ? 4 : 5;
  const client = new BenchClient(socket, clientId, { peekBytes, protocolVersion, peekQos0 });
  const connected = client.connected();
  socket.write(connectPacket(clientId, keepaliveSeconds, cleanSession, credentials, v5));
  await connected;
  return client;
}

/**
 * Opens `count` clients with at most `concurrency` handshakes in flight (5.0 with `v5`). `port`
 * is a port, or a function of the client's index returning one (the nodes of a cluster).
 */
export async function openClients(
  port,
  count,
  prefix,
  { concurrency = 100, keepaliveSeconds = 0, v5 = undefined } = {},
) {
  const clients = new Array(count);
  const portOf = typeof port === 'function' ? port : () => port;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      clients[index] = await openClient(
        portOf(index),
        `${prefix}-${index}`,
        keepaliveSeconds,
        0,
        true,
        undefined,
        v5,
      );
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

/**
 * Whether the broker on `port` speaks MQTT 5.0: sends a 5.0 CONNECT and reads the answer.
 * Resolves undefined when it accepts (CONNACK, reason code 0), else with what it did instead
 * (`CONNACK return code 1`, `closed the connection`, ...), for the n/a cells of the 5.0 scenarios.
 */
export function probeMqtt5(port, timeoutMs = 3000) {
  return new Promise((resolve) => {
    const socket = netConnect({ host: HOST, port, noDelay: true });
    let head = Buffer.alloc(0);
    let settled = false;
    const settle = (answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => settle(`no answer to a 5.0 CONNECT within ${timeoutMs} ms`), timeoutMs);
    socket.on('data', (chunk) => {
      head = Buffer.concat([head, chunk]);
      if (head.length < 4) return;
      if (head[0] >> 4 !== PacketType.Connack)
        settle(`answered a 5.0 CONNECT with packet type ${head[0] >> 4}`);
      else if (head[3] === 0) settle(undefined);
      else settle(`answered a 5.0 CONNECT with CONNACK return code ${head[3]}`);
    });
    socket.on('error', (error) => settle(`socket error ${error.code ?? error.message}`));
    socket.on('close', () => settle('closed the connection on a 5.0 CONNECT'));
    socket.write(connectPacket(`bench-probe-${process.pid}`, 0, true, undefined, {}));
  });
}
