// The bare Node.js server of issue 10: a `node:net` server that answers CONNECT with a fixed
// CONNACK (session present 0, return code 0) and PINGREQ with PINGRESP, closes the socket on
// DISCONNECT, and does nothing else (a PUBLISH or SUBSCRIBE is skipped, never answered or
// routed). No MQTT broker written for Node.js can use less memory per connection or set a
// connection up faster, so it is the floor the bench measures ours against (scenarios 4, 5,
// 14-16). It prints the same `listening` line as our CLI and aedes-server.mjs.
// Usage: node bare-server.mjs [--port 0] [--host 127.0.0.1]
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const PINGRESP = Buffer.from([0xd0, 0x00]);
const CONNECT = 1;
const PINGREQ = 12;
const DISCONNECT = 14;

function ignoreError() {
  // A reset by the client is the client's business; the socket closes either way.
}

/**
 * Per connection: one closure and two fields of state (bytes of a body still to skip, the start
 * of a fixed header split across chunks). The packet boundaries are found from the fixed header
 * alone; the byte loop is longer than 50 lines' worth of calls would make it cost.
 */
function onConnection(socket) {
  let skip = 0;
  let head = null;
  socket.on('data', (chunk) => {
    let buf = chunk;
    let i = 0;
    if (skip > 0) {
      if (skip >= buf.length) {
        skip -= buf.length;
        return;
      }
      i = skip;
      skip = 0;
    }
    if (head !== null) {
      buf = Buffer.concat([head, buf.subarray(i)]);
      head = null;
      i = 0;
    }
    const n = buf.length;
    while (i < n) {
      const type = buf[i] >> 4;
      let p = i + 1;
      let length = 0;
      let multiplier = 1;
      let byte = 0x80;
      for (let k = 0; byte & 0x80; k++) {
        if (k === 4) {
          socket.destroy();
          return;
        }
        if (p >= n) {
          head = Buffer.from(buf.subarray(i));
          return;
        }
        byte = buf[p++];
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
      }
      if (type === CONNECT) socket.write(CONNACK);
      else if (type === PINGREQ) socket.write(PINGRESP);
      else if (type === DISCONNECT) {
        socket.destroy();
        return;
      }
      const end = p + length;
      if (end > n) {
        skip = end - n;
        return;
      }
      i = end;
    }
  });
  socket.on('error', ignoreError);
}

const server = createServer({ noDelay: true }, onConnection);
server.on('error', (error) => {
  process.stderr.write(`bare-server: ${error.message}\n`);
  process.exit(1);
});
server.listen({ port: Number(values.port), host: values.host }, () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port, host: values.host, broker: 'bare' })}\n`);
});

const stop = () => {
  server.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
