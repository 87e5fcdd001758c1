import { PacketType } from '@mqtt-adapt/codec';
import { describe, expect, it } from 'vitest';
import {
  connect,
  connectPacket,
  createBroker,
  openClient,
  publishes,
  publishPacket,
  subscribe,
} from './helpers.js';

const notUtf8 = Buffer.from([0x68, 0xff, 0x69]);

describe('5.0 Payload Format Indicator (§3.3.2.3.2)', () => {
  it('a payload said to be UTF-8 that is not: PUBACK 0x99 (QoS 1), DISCONNECT 0x99 (QoS 0); never forwarded', async () => {
    const { broker } = await createBroker();
    const sub = connect(broker, { clientId: 'sub', version: 5 });
    subscribe(sub, 't', 1);
    const pub = connect(broker, { clientId: 'pub', version: 5 });
    pub.send({
      ...publishPacket('t', '', 1, { packetId: 1 }),
      payload: notUtf8,
      properties: { payloadFormatIndicator: 1 },
    });
    expect(pub.take()).toEqual([
      {
        type: PacketType.Puback,
        packetId: 1,
        reasonCode: 0x99,
        properties: { reasonString: 'payload is not the UTF-8 it claims' },
      },
    ]);
    pub.send({
      ...publishPacket('t', 'héllo', 1, { packetId: 2 }),
      properties: { payloadFormatIndicator: 1 },
    });
    expect(publishes(sub.take()).map((p) => p.payload.toString())).toEqual(['héllo']);
    // Binary payloads without the indicator are anyone's business.
    pub.send({ ...publishPacket('t', '', 0), payload: notUtf8 });
    expect(publishes(sub.take())).toHaveLength(1);
    pub.take();
    pub.send({ ...publishPacket('t', '', 0), payload: notUtf8, properties: { payloadFormatIndicator: 1 } });
    expect(pub.take()).toEqual([expect.objectContaining({ type: PacketType.Disconnect, reasonCode: 0x99 })]);
  });

  it('a will whose payload is not the UTF-8 it claims: CONNACK 0x99', async () => {
    const { broker } = await createBroker();
    const client = openClient(broker, 5);
    client.send(
      connectPacket({
        clientId: 'w',
        version: 5,
        will: {
          topicName: 'w',
          payload: notUtf8,
          qos: 0,
          retain: false,
          properties: { payloadFormatIndicator: 1 },
        },
      }),
    );
    expect(client.take()).toEqual([
      expect.objectContaining({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0x99 }),
    ]);
  });
});

describe('shared subscriptions', () => {
  it('[MQTT-3.8.3-4] No Local on a shared subscription is a protocol error (DISCONNECT 0x82)', async () => {
    const { broker } = await createBroker();
    const client = connect(broker, { clientId: 'c', version: 5 });
    client.send({
      type: PacketType.Subscribe,
      packetId: 1,
      subscriptions: [
        { topicFilter: '$share/g/t', qos: 1, noLocal: true, retainAsPublished: false, retainHandling: 0 },
      ],
      properties: undefined,
    });
    expect(client.take()).toEqual([
      expect.objectContaining({ type: PacketType.Disconnect, reasonCode: 0x82 }),
    ]);
  });
});

describe('Reason Strings (§3.14.2.2.2, §3.1.2.11.7)', () => {
  it('a DISCONNECT or refusing CONNACK says why, unless the client set Request Problem Information to 0', async () => {
    const { broker } = await createBroker({ topicAliasMaximum: 1 });
    const talkative = connect(broker, { clientId: 'a', version: 5 });
    talkative.send({ ...publishPacket('t', 'x', 0), properties: { topicAlias: 2 } });
    expect(talkative.take()).toEqual([
      {
        type: PacketType.Disconnect,
        reasonCode: 0x94,
        properties: { reasonString: 'topic alias 2 exceeds the Topic Alias Maximum 1 the broker advertised' },
      },
    ]);
    const quiet = openClient(broker, 5);
    quiet.send({
      ...connectPacket({ clientId: 'b', version: 5 }),
      properties: { requestProblemInformation: 0 },
    });
    quiet.take();
    quiet.send({ ...publishPacket('t', 'x', 0), properties: { topicAlias: 2 } });
    expect(quiet.take()).toEqual([{ type: PacketType.Disconnect, reasonCode: 0x94, properties: undefined }]);
    const refused = openClient(broker, 5);
    refused.send(
      connectPacket({
        clientId: 'c',
        version: 5,
        will: {
          topicName: 'w',
          payload: notUtf8,
          qos: 0,
          retain: false,
          properties: { payloadFormatIndicator: 1 },
        },
      }),
    );
    expect(refused.take()).toEqual([
      {
        type: PacketType.Connack,
        sessionPresent: false,
        reasonCode: 0x99,
        properties: { reasonString: 'will payload is not the UTF-8 it claims' },
      },
    ]);
  });
});
