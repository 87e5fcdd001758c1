import { PacketType, type QoS, type RetainHandling } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import {
  connect,
  connectPacket,
  createBroker,
  openClient,
  publishes,
  publishPacket,
  type TestClient,
} from './helpers.js';

function subscribeWith(
  client: TestClient,
  topicFilter: string,
  options: { qos?: QoS; noLocal?: boolean; retainAsPublished?: boolean; retainHandling?: RetainHandling },
  packetId = 1,
) {
  client.send({
    type: PacketType.Subscribe,
    packetId,
    subscriptions: [
      {
        topicFilter,
        qos: options.qos ?? 0,
        noLocal: options.noLocal ?? false,
        retainAsPublished: options.retainAsPublished ?? false,
        retainHandling: options.retainHandling ?? 0,
      },
    ],
    properties: undefined,
  });
  return publishes(client.take());
}

describe('5.0 subscription options (§3.8.3.1)', () => {
  it('Retain Handling 0 sends retained on every subscribe, 1 only on a new subscription, 2 never', async () => {
    const { broker } = await createBroker();
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(publishPacket('r', 'kept', 0, { retain: true }));
    const sub = connect(broker, { clientId: 'sub', version: 5 });
    expect(subscribeWith(sub, 'r', { retainHandling: 0 })).toHaveLength(1);
    expect(subscribeWith(sub, 'r', { retainHandling: 0 }, 2)).toHaveLength(1);
    expect(subscribeWith(sub, 'r', { retainHandling: 1 }, 3)).toHaveLength(0); // exists already
    expect(subscribeWith(sub, 'r2/#', { retainHandling: 2 }, 4)).toHaveLength(0);
    const other = connect(broker, { clientId: 'other', version: 5 });
    expect(subscribeWith(other, 'r', { retainHandling: 1 })).toHaveLength(1); // new
    expect(subscribeWith(other, 'r', { retainHandling: 2 }, 2)).toHaveLength(0);
  });

  it('Retain As Published keeps RETAIN on forwarded messages; without it RETAIN is 0', async () => {
    const { broker } = await createBroker();
    const keep = connect(broker, { clientId: 'keep', version: 5 });
    subscribeWith(keep, 't', { retainAsPublished: true });
    const plain = connect(broker, { clientId: 'plain', version: 5 });
    subscribeWith(plain, 't', {});
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(publishPacket('t', 'x', 0, { retain: true }));
    expect(publishes(keep.take()).map((p) => p.retain)).toEqual([true]);
    expect(publishes(plain.take()).map((p) => p.retain)).toEqual([false]);
  });

  it("No Local keeps a client's own messages from it; a resubscribe replaces every option, No Local included", async () => {
    const { broker } = await createBroker();
    const self = connect(broker, { clientId: 'self', version: 5 });
    subscribeWith(self, 't', { noLocal: true });
    self.send(publishPacket('t', 'mine', 0));
    expect(publishes(self.take())).toEqual([]);
    subscribeWith(self, 't', { noLocal: false }, 2);
    self.send(publishPacket('t', 'mine again', 0));
    expect(publishes(self.take()).map((p) => p.payload.toString())).toEqual(['mine again']);
  });
});

describe('enhanced authentication', () => {
  it('[MQTT-4.12.0-1] an Authentication Method the broker does not offer: CONNACK 0x8C, closed', async () => {
    const { broker } = await createBroker();
    const client = openClient(broker, 5);
    client.send({
      ...connectPacket({ clientId: 'c', version: 5 }),
      properties: { authenticationMethod: 'SCRAM-SHA-256' },
    });
    expect(client.take()).toEqual([
      expect.objectContaining({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0x8c }),
    ]);
    expect(client.transport.closed).toBe(true);
  });
});
