// Starts an in-memory Aedes broker on a TCP port (0 = any free port) and prints one JSON line
// {"msg":"listening","port":N} once it accepts connections, like our broker's CLI does.
// Usage: node aedes-server.mjs [--port 0] [--host 127.0.0.1] [--password-file <mosquitto passwd>]
// With --password-file (scenario 9, cycles-auth), an `authenticate` handler checks every
// CONNECT against that file's `$7$` PBKDF2-HMAC-SHA512 hashes (what Mosquitto 2.0's
// mosquitto_passwd writes; 101 iterations), asynchronously on libuv's thread pool, and refuses
// anonymous clients: the same KDF and policy as the bench's Mosquitto.
import { pbkdf2, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { Aedes } from 'aedes';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'password-file': { type: 'string' },
  },
});

/** user name -> { iterations, salt, hash } from a `mosquitto_passwd` file (`$7$` lines only). */
function readPasswordFile(path) {
  const users = new Map();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const parts = line
      .slice(colon + 1)
      .trim()
      .split('$'); // ['', '7', iterations, salt, hash]
    if (parts.length !== 5 || parts[1] !== '7') {
      throw new Error(`${path}: user ${line.slice(0, colon)} has no $7$ (PBKDF2-SHA512) hash`);
    }
    users.set(line.slice(0, colon), {
      iterations: Number(parts[2]),
      salt: Buffer.from(parts[3], 'base64'),
      hash: Buffer.from(parts[4], 'base64'),
    });
  }
  return users;
}

function passwordAuthenticator(users) {
  const refuse = (callback) => {
    const error = new Error('bad user name or password');
    error.returnCode = 4;
    callback(error, false);
  };
  return (_client, username, password, callback) => {
    const user = username === undefined ? undefined : users.get(username);
    if (user === undefined || password === undefined) {
      refuse(callback);
      return;
    }
    pbkdf2(password, user.salt, user.iterations, user.hash.length, 'sha512', (error, key) => {
      if (error) callback(error, false);
      else if (timingSafeEqual(key, user.hash)) callback(null, true);
      else refuse(callback);
    });
  };
}

const aedes = await Aedes.createBroker(
  values['password-file'] === undefined
    ? undefined
    : { authenticate: passwordAuthenticator(readPasswordFile(values['password-file'])) },
);
// noDelay like our broker's listener and Mosquitto's set_tcp_nodelay in the bench config.
const server = createServer({ noDelay: true }, aedes.handle);
server.on('error', (error) => {
  process.stderr.write(`aedes-server: ${error.message}\n`);
  process.exit(1);
});
server.listen({ port: Number(values.port), host: values.host }, () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port, host: values.host, broker: 'aedes' })}\n`);
});

const stop = () => {
  server.close();
  aedes.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
