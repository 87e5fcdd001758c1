// The README's example, type-checked by `tsc -p tsconfig.json` (never run: it opens files).
import { Broker } from '@mqtt-adapt/router';
import { openSqliteStore, SqliteStore } from '../src/index.js';

const broker = new Broker({ store: openSqliteStore('./data') });
await broker.open();

const store = new SqliteStore({ path: './other.db' });
const { sessions, retained, maxMessageId } = await store.open();
store.saveSession({
  clientId: 'sensor-1',
  protocolVersion: 5,
  sessionExpiryInterval: 3600,
  expiresAt: undefined,
  username: undefined,
});
store.saveRetained({
  topicName: 'status/sensor-1',
  payload: Buffer.from('up'),
  qos: 1,
  properties: undefined,
});
await store.flush();
console.log(await store.findRetained('status/+'), sessions, retained, maxMessageId);
await store.close();
