// Starts an in-memory Aedes broker on a TCP port (0 = any free port) and prints one JSON line
// {"msg":"listening","port":N} once it accepts connections, like our broker's CLI does.
// Usage: node aedes-server.mjs [--port 0] [--host 127.0.0.1]
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { Aedes } from 'aedes';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
});

const aedes = await Aedes.createBroker();
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
