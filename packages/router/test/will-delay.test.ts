import { PacketType, type Will } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import { connect, connectPacket, createBroker, openClient, publishes, subscribe } from './helpers.js';

const delayedWill = (seconds: number): Will => ({
  topicName: 'wills/dev',
  payload: Buffer.from('gone'),
  qos: 0,
  retain: false,
  properties: { willDelayInterval: seconds },
});

async function setup() {
  const { broker, clock } = await createBroker();
  const watcher = connect(broker, { clientId: 'watcher', version: 5 });
  subscribe(watcher, 'wills/#', 0);
  const dev = openClient(broker, 5);
  dev.send(
    connectPacket({
      clientId: 'dev',
      version: 5,
      cleanStart: false,
      will: delayedWill(10),
      properties: { sessionExpiryInterval: 3600 },
    }),
  );
  dev.take();
  dev.connection.transportClosed(new Error('reset'));
  return { broker, clock, watcher };
}

describe('5.0 Will Delay Interval (§3.1.3.2.2)', () => {
  it('a session that lives on publishes its will only after the delay', async () => {
    const { clock, watcher } = await setup();
    clock.advance(9_999);
    expect(publishes(watcher.take())).toEqual([]);
    clock.advance(1);
    const [will] = publishes(watcher.take());
    expect(will?.payload.toString()).toBe('gone');
    expect(will?.properties?.willDelayInterval).toBeUndefined();
  });

  it('[MQTT-3.1.3-9] a reconnect to the session within the delay means no will', async () => {
    const { broker, clock, watcher } = await setup();
    clock.advance(5_000);
    const back = openClient(broker, 5);
    back.send(
      connectPacket({
        clientId: 'dev',
        version: 5,
        cleanStart: false,
        properties: { sessionExpiryInterval: 3600 },
      }),
    );
    expect(back.take()[0]).toMatchObject({ type: PacketType.Connack, sessionPresent: true });
    clock.advance(60_000);
    expect(publishes(watcher.take())).toEqual([]);
  });

  it('a session that ends sooner (a Clean Start reconnect) publishes the will then', async () => {
    const { broker, clock, watcher } = await setup();
    clock.advance(1_000);
    const fresh = openClient(broker, 5);
    fresh.send(connectPacket({ clientId: 'dev', version: 5, cleanStart: true }));
    expect(publishes(watcher.take()).map((p) => p.payload.toString())).toEqual(['gone']);
    clock.advance(60_000);
    expect(publishes(watcher.take())).toEqual([]);
  });

  it('a session that ends with its connection publishes at once', async () => {
    const { broker, watcher } = await (async () => {
      const created = await createBroker();
      const w = connect(created.broker, { clientId: 'watcher', version: 5 });
      subscribe(w, 'wills/#', 0);
      return { ...created, watcher: w };
    })();
    const dev = openClient(broker, 5);
    dev.send(connectPacket({ clientId: 'dev', version: 5, cleanStart: true, will: delayedWill(10) }));
    dev.take();
    dev.connection.transportClosed();
    expect(publishes(watcher.take()).map((p) => p.payload.toString())).toEqual(['gone']);
  });
});
