import { describe, expect, it } from 'vitest';
import type { DeliveryRecord, StoredMessage } from '../store.js';
import {
  deliveryRecord,
  everyByteValue,
  expectBytes,
  pseudoRandomBytes,
  publishProperties,
  sessionOf,
  sessionRecord,
  sessionSnapshot,
  storedMessage,
} from './store-contract-fixtures.js';
import type { ContractRun } from './store-contract-run.js';

/** Message bodies, outbound deliveries and their order. */
export function describeMessagesContract(run: ContractRun): void {
  describe('messages and deliveries', () => {
    it('keeps 500 deliveries per session in seq order with their messages across a restart', async () => {
      const store = run.store;
      const messages: StoredMessage[] = [];
      for (let id = 1; id <= 25; id++) {
        const message = storedMessage(id, { qos: id % 2 === 0 ? 2 : 1, retain: id % 5 === 0 });
        messages.push(message);
        store.saveMessage(message);
      }
      store.saveSession(sessionRecord('a'));
      store.saveSession(sessionRecord('b'));
      const expectedA: Array<[DeliveryRecord, StoredMessage]> = [];
      const expectedB: Array<[DeliveryRecord, StoredMessage]> = [];
      for (let seq = 1; seq <= 500; seq++) {
        // Seqs 1..500 sort differently as text (10 < 9): the order must be numeric.
        const message = messages[seq % messages.length] as StoredMessage;
        const a = deliveryRecord(seq, message.id, { qos: message.qos === 2 ? 2 : 1, retain: seq % 3 === 0 });
        store.saveDelivery('a', a);
        expectedA.push([a, message]);
        // Interleaved writes to a second queue with other seqs.
        const b = deliveryRecord(seq * 7, message.id, { packetId: seq % 2 === 0 ? seq : undefined });
        store.saveDelivery('b', b);
        expectedB.push([b, message]);
      }
      const { snapshot } = await run.restart(store);
      expect(snapshot.maxMessageId).toBe(25);
      expect(sessionOf(snapshot, 'a')).toEqual(
        sessionSnapshot(sessionRecord('a'), { deliveries: expectedA }),
      );
      expect(sessionOf(snapshot, 'b')).toEqual(
        sessionSnapshot(sessionRecord('b'), { deliveries: expectedB }),
      );
    });

    it('orders by seq, not by when a delivery was last written', async () => {
      const store = run.store;
      const message = storedMessage(1, { qos: 2 });
      store.saveMessage(message);
      store.saveSession(sessionRecord('c'));
      for (const seq of [9, 10, 100, 101]) store.saveDelivery('c', deliveryRecord(seq, 1, { qos: 2 }));
      await store.flush();
      store.updateDelivery('c', 9, 33, false);
      store.updateDelivery('c', 100, 34, true);
      store.deleteDelivery('c', 10);
      store.saveDelivery('c', deliveryRecord(1000, 1, { qos: 2 }));
      const { snapshot } = await run.restart(store);
      expect(sessionOf(snapshot, 'c').deliveries).toEqual([
        { ...deliveryRecord(9, 1, { qos: 2, packetId: 33, released: false }), message },
        { ...deliveryRecord(100, 1, { qos: 2, packetId: 34, released: true }), message },
        { ...deliveryRecord(101, 1, { qos: 2 }), message },
        { ...deliveryRecord(1000, 1, { qos: 2 }), message },
      ]);
    });

    it("returns one message with each session's delivery that refers to it", async () => {
      const store = run.store;
      const message = storedMessage(1, { qos: 2, retain: true, properties: publishProperties() });
      store.saveMessage(message);
      const deliveries: Record<string, DeliveryRecord> = {
        a: deliveryRecord(1, 1, { qos: 1 }),
        b: deliveryRecord(5, 1, { qos: 2, packetId: 17 }),
        c: deliveryRecord(1, 1, { qos: 2, retain: true }),
      };
      for (const [clientId, delivery] of Object.entries(deliveries)) {
        store.saveSession(sessionRecord(clientId));
        store.saveDelivery(clientId, delivery);
      }
      const first = await run.restart(store);
      for (const [clientId, delivery] of Object.entries(deliveries)) {
        expect(sessionOf(first.snapshot, clientId).deliveries, clientId).toEqual([{ ...delivery, message }]);
      }
      first.store.deleteDelivery('b', 5);
      const second = await run.restart(first.store);
      expect(sessionOf(second.snapshot, 'a').deliveries).toEqual([{ ...deliveries.a, message }]);
      expect(sessionOf(second.snapshot, 'b').deliveries).toEqual([]);
      expect(sessionOf(second.snapshot, 'c').deliveries).toEqual([{ ...deliveries.c, message }]);
    });

    it('updateDelivery records the packet id, then released; a delivery may be saved with its packet id', async () => {
      const store = run.store;
      const message = storedMessage(1, { qos: 2 });
      store.saveMessage(message);
      store.saveSession(sessionRecord('c'));
      store.saveDelivery('c', deliveryRecord(1, 1, { qos: 2 }));
      store.saveDelivery('c', deliveryRecord(2, 1, { qos: 1, packetId: 65535 }));
      store.saveDelivery('c', deliveryRecord(3, 1, { qos: 2 }));
      await store.flush();
      store.updateDelivery('c', 1, 10, false);
      const first = await run.restart(store);
      expect(sessionOf(first.snapshot, 'c').deliveries).toEqual([
        { ...deliveryRecord(1, 1, { qos: 2, packetId: 10, released: false }), message },
        { ...deliveryRecord(2, 1, { qos: 1, packetId: 65535 }), message },
        { ...deliveryRecord(3, 1, { qos: 2 }), message },
      ]);
      first.store.updateDelivery('c', 1, 10, true);
      first.store.updateDelivery('c', 3, 1, false);
      const second = await run.restart(first.store);
      expect(sessionOf(second.snapshot, 'c').deliveries).toEqual([
        { ...deliveryRecord(1, 1, { qos: 2, packetId: 10, released: true }), message },
        { ...deliveryRecord(2, 1, { qos: 1, packetId: 65535 }), message },
        { ...deliveryRecord(3, 1, { qos: 2, packetId: 1, released: false }), message },
      ]);
      expect(typeof sessionOf(second.snapshot, 'c').deliveries[0]?.released).toBe('boolean');
    });

    it('deleteDelivery removes one delivery of one session', async () => {
      const store = run.store;
      const message = storedMessage(1);
      store.saveMessage(message);
      for (const clientId of ['a', 'b']) {
        store.saveSession(sessionRecord(clientId));
        for (const seq of [1, 2, 3]) store.saveDelivery(clientId, deliveryRecord(seq, 1));
      }
      await store.flush();
      store.deleteDelivery('a', 2);
      store.deleteDelivery('a', 99);
      const { snapshot } = await run.restart(store);
      expect(sessionOf(snapshot, 'a').deliveries.map((d) => d.seq)).toEqual([1, 3]);
      expect(sessionOf(snapshot, 'b').deliveries.map((d) => d.seq)).toEqual([1, 2, 3]);
    });

    it('deleteMessage removes the body: maxMessageId is the highest id still stored', async () => {
      const store = run.store;
      const kept = storedMessage(1);
      for (const id of [1, 2, 3]) store.saveMessage(id === 1 ? kept : storedMessage(id));
      store.saveSession(sessionRecord('c'));
      store.saveDelivery('c', deliveryRecord(1, 1));
      const first = await run.restart(store);
      // A message no delivery refers to (yet) still counts.
      expect(first.snapshot.maxMessageId).toBe(3);
      first.store.deleteMessage(3);
      first.store.deleteMessage(2);
      first.store.deleteMessage(404);
      const second = await run.restart(first.store);
      expect(second.snapshot.maxMessageId).toBe(1);
      expect(sessionOf(second.snapshot, 'c').deliveries).toEqual([
        { ...deliveryRecord(1, 1), message: kept },
      ]);
    });

    it('payloads round-trip byte for byte: empty, NULs, every byte value, invalid UTF-8, 1 MiB, a view', async () => {
      const backing = pseudoRandomBytes(4096, 7);
      const payloads: Record<string, Buffer> = {
        empty: Buffer.alloc(0),
        nuls: Buffer.alloc(64),
        'every byte value': everyByteValue(),
        'invalid utf-8': Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x00]),
        '1 MiB': pseudoRandomBytes(1024 * 1024),
        // A view into a larger buffer, as the decoder hands payloads out: only its bytes count.
        view: backing.subarray(1000, 1100),
      };
      const store = run.store;
      store.saveSession(sessionRecord('c'));
      const names = Object.keys(payloads);
      names.forEach((name, i) => {
        store.saveMessage(storedMessage(i + 1, { payload: payloads[name] as Buffer }));
        store.saveDelivery('c', deliveryRecord(i + 1, i + 1));
      });
      const { snapshot } = await run.restart(store);
      const deliveries = sessionOf(snapshot, 'c').deliveries;
      expect(deliveries.map((d) => d.message.id)).toEqual(names.map((_, i) => i + 1));
      names.forEach((name, i) => {
        expectBytes(deliveries[i]?.message.payload, payloads[name] as Buffer, `payload "${name}"`);
      });
    });

    it('message fields and properties round-trip deep-equal (user property order and duplicates, Buffers)', async () => {
      const messages = [
        storedMessage(1, { qos: 1, retain: false, properties: undefined }),
        storedMessage(2, { qos: 2, retain: true, properties: publishProperties() }),
        storedMessage(3, {
          qos: 1,
          properties: {
            userProperties: [
              ['k', 'v2'],
              ['k', 'v1'],
              ['k', 'v2'],
            ],
          },
        }),
        storedMessage(4, { qos: 2, topicName: '$SYS/température/🙂//x', properties: { contentType: '' } }),
        storedMessage(5, {
          qos: 1,
          properties: { correlationData: Buffer.alloc(0), messageExpiryInterval: 0 },
        }),
      ];
      const store = run.store;
      store.saveSession(sessionRecord('c', { protocolVersion: 5 }));
      for (const message of messages) {
        store.saveMessage(message);
        store.saveDelivery('c', deliveryRecord(message.id, message.id, { qos: message.qos === 2 ? 2 : 1 }));
      }
      const { snapshot } = await run.restart(store);
      const stored = sessionOf(snapshot, 'c').deliveries.map((d) => d.message);
      expect(stored).toEqual(messages);
      expectBytes(
        stored[1]?.properties?.correlationData,
        publishProperties().correlationData as Buffer,
        'correlationData',
      );
      expectBytes(stored[4]?.properties?.correlationData, Buffer.alloc(0), 'empty correlationData');
      expect(stored[0]?.properties).toBeUndefined();
    });

    it('ids beyond 32 bits round-trip as numbers (message id, seq); 16-bit packet ids and 32-bit expiry too', async () => {
      const bigId = 2 ** 40 + 7;
      const message = storedMessage(bigId);
      const store = run.store;
      store.saveSession(sessionRecord('c', { protocolVersion: 5, sessionExpiryInterval: 4294967295 }));
      store.saveMessage(storedMessage(2 ** 31));
      store.saveMessage(message);
      const deliveries = [
        deliveryRecord(2 ** 31 - 1, bigId, { packetId: 65535 }),
        deliveryRecord(2 ** 31 + 1, 2 ** 31),
        deliveryRecord(2 ** 35, bigId, { packetId: 1 }),
      ];
      for (const delivery of deliveries) store.saveDelivery('c', delivery);
      const { snapshot } = await run.restart(store);
      expect(snapshot.maxMessageId).toBe(bigId);
      const session = sessionOf(snapshot, 'c');
      expect(session.session).toEqual(
        sessionRecord('c', { protocolVersion: 5, sessionExpiryInterval: 4294967295 }),
      );
      expect(session.deliveries).toEqual([
        { ...deliveries[0], message },
        { ...deliveries[1], message: storedMessage(2 ** 31) },
        { ...deliveries[2], message },
      ]);
      for (const delivery of session.deliveries) {
        expect(typeof delivery.seq).toBe('number');
        expect(typeof delivery.messageId).toBe('number');
        expect(typeof delivery.message.id).toBe('number');
      }
      expect(typeof snapshot.maxMessageId).toBe('number');
    });
  });
}
