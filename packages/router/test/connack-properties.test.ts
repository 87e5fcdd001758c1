import { PacketType } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import {
  ack,
  connect,
  connectPacket,
  createBroker,
  openClient,
  publishPacket,
  subscribe,
} from './helpers.js';

describe('5.0 CONNACK properties, advertised and enforced', () => {
  it('advertise the Topic Alias Maximum; a Maximum Packet Size and Maximum QoS only when limited', async () => {
    const { broker } = await createBroker();
    const client = openClient(broker, 5);
    client.send(connectPacket({ clientId: 'c', version: 5 }));
    expect(client.take()).toEqual([
      {
        type: PacketType.Connack,
        sessionPresent: false,
        reasonCode: 0,
        properties: { topicAliasMaximum: 10 },
      },
    ]);
    const limited = await createBroker({ maxPacketSize: 4096, maxQoS: 1, topicAliasMaximum: 0 });
    const other = openClient(limited.broker, 5);
    other.send(connectPacket({ clientId: 'c', version: 5 }));
    expect(other.take()).toEqual([
      {
        type: PacketType.Connack,
        sessionPresent: false,
        reasonCode: 0,
        properties: { maximumPacketSize: 4096, maximumQoS: 1 },
      },
    ]);
    // 3.1.1 CONNACKs have no properties.
    const old = openClient(broker, 4);
    old.send(connectPacket({ clientId: 'old' }));
    expect(old.take()).toEqual([
      { type: PacketType.Connack, sessionPresent: false, reasonCode: 0, properties: undefined },
    ]);
  });

  it('a PUBLISH above the Maximum QoS gets DISCONNECT 0x9B; a will above it CONNACK 0x9B', async () => {
    const { broker } = await createBroker({ maxQoS: 1 });
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(publishPacket('t', 'x', 2));
    expect(pub.take()).toEqual([expect.objectContaining({ type: PacketType.Disconnect, reasonCode: 0x9b })]);
    const client = openClient(broker, 5);
    client.send(
      connectPacket({
        clientId: 'w',
        version: 5,
        will: { topicName: 'w', payload: Buffer.from('x'), qos: 2, retain: false, properties: undefined },
      }),
    );
    expect(client.take()).toEqual([
      expect.objectContaining({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0x9b }),
    ]);
  });

  it('PUBACK says 0x10 when nobody was subscribed (5.0 only), 0x00 otherwise', async () => {
    const { broker } = await createBroker();
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(publishPacket('nobody/here', 'x', 1, { packetId: 1 }));
    expect(pub.take()).toEqual([
      { type: PacketType.Puback, packetId: 1, reasonCode: 0x10, properties: undefined },
    ]);
    const sub = connect(broker, { clientId: 'sub', version: 5 });
    subscribe(sub, 'somebody/#', 1);
    pub.send(publishPacket('somebody/here', 'x', 1, { packetId: 2 }));
    expect(pub.take()).toEqual([
      { type: PacketType.Puback, packetId: 2, reasonCode: 0, properties: undefined },
    ]);
    const [delivered] = sub.take();
    if (delivered?.type === PacketType.Publish) sub.send(ack(PacketType.Puback, delivered.packetId!));
    const old = connect(broker, { clientId: 'old' });
    old.send(publishPacket('nobody/here', 'x', 1, { packetId: 3 }));
    expect(old.take()).toEqual([
      { type: PacketType.Puback, packetId: 3, reasonCode: 0, properties: undefined },
    ]);
  });
});

describe("the client's Maximum Packet Size [MQTT-3.1.2-25]", () => {
  it('a delivery larger than it is discarded and counted; the session goes on', async () => {
    const { broker } = await createBroker({ maxInflightMessages: 1 });
    const sub = openClient(broker, 5);
    sub.send({ ...connectPacket({ clientId: 'small', version: 5 }), properties: { maximumPacketSize: 64 } });
    sub.take();
    subscribe(sub, 't', 1);
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send(publishPacket('t', 'x'.repeat(200), 0));
    pub.send(publishPacket('t', 'y'.repeat(200), 1, { packetId: 1 }));
    pub.send(publishPacket('t', 'fits', 1, { packetId: 2 }));
    const got = sub.take().filter((packet) => packet.type === PacketType.Publish);
    expect(
      got.map((packet) => (packet.type === PacketType.Publish ? packet.payload.toString() : '')),
    ).toEqual(['fits']);
    expect(broker.stats.messagesDropped).toBe(2);
  });
});

describe('Server Keep Alive and Response Information', () => {
  it('[MQTT-3.2.2-21] a Server Keep Alive replaces the keepalive a 5.0 client asked for', async () => {
    const { broker, clock } = await createBroker({ serverKeepAliveSeconds: 30 });
    const client = openClient(broker, 5);
    client.send(connectPacket({ clientId: 'k', version: 5, keepaliveSeconds: 0 }));
    expect(client.take()[0]).toMatchObject({ properties: { serverKeepAlive: 30 } });
    clock.advance(44_999);
    expect(client.transport.closed).toBe(false);
    clock.advance(1);
    expect(client.transport.closed).toBe(true);
  });

  it('Response Information goes only to a client that asked for it', async () => {
    const { broker } = await createBroker({ responseInformation: 'responses/' });
    const asking = openClient(broker, 5);
    asking.send({
      ...connectPacket({ clientId: 'a', version: 5 }),
      properties: { requestResponseInformation: 1 },
    });
    expect(asking.take()[0]).toMatchObject({ properties: { responseInformation: 'responses/' } });
    const other = openClient(broker, 5);
    other.send(connectPacket({ clientId: 'b', version: 5 }));
    expect(other.take()).toEqual([
      {
        type: PacketType.Connack,
        sessionPresent: false,
        reasonCode: 0,
        properties: { topicAliasMaximum: 10 },
      },
    ]);
  });
});
