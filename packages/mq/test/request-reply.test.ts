import { describe, expect, it } from 'vitest';
import { RequestReply } from '../src/request-reply.js';
import { MemoryBrokerLink } from './fixtures/memory-link.js';

const device = { node_id: 'n1', device_id: 'd1' };

describe('RequestReply: how a command carries its correlation id', () => {
  it('auto, link with properties: Correlation Data and Response Topic, payload untouched', async () => {
    const link = new MemoryBrokerLink(true);
    const pending = new RequestReply(link, { timeoutMs: 1000 }).send(device, Buffer.from('{"go":1}'));
    pending.response.catch(() => {});
    await pending.published;
    const [command] = link.published;
    expect(command!.payload.toString()).toBe('{"go":1}');
    expect(command!.options.properties).toEqual({
      correlationData: Buffer.from(pending.correlationId),
      responseTopic: 'n1/d1/response',
    });
  });

  it('auto, link without properties: the JSON wrapper', async () => {
    const link = new MemoryBrokerLink(false);
    const pending = new RequestReply(link, { timeoutMs: 1000 }).send(device, Buffer.from('{"go":1}'));
    pending.response.catch(() => {});
    await pending.published;
    const [command] = link.published;
    expect(JSON.parse(command!.payload.toString())).toEqual({
      correlationId: pending.correlationId,
      payload: { go: 1 },
      encoding: 'json',
    });
    expect(command!.options.properties).toBeUndefined();
  });

  it('envelope, link with properties: the JSON wrapper and the properties; a JSON answer is matched', async () => {
    const link = new MemoryBrokerLink(true);
    const requests = new RequestReply(link, { timeoutMs: 1000, correlation: 'envelope' });
    const pending = requests.send(device, Buffer.from('{"go":1}'));
    await pending.published;
    const [command] = link.published;
    expect(JSON.parse(command!.payload.toString()).correlationId).toBe(pending.correlationId);
    expect(command!.options.properties?.responseTopic).toBe('n1/d1/response');
    // A 3.1.1 device answers with JSON only.
    const answer = Buffer.from(JSON.stringify({ correlationId: pending.correlationId, done: true }));
    expect(requests.handleResponse({ topic: 'n1/d1/response', payload: answer, qos: 1, retain: false })).toBe(
      true,
    );
    expect((await pending.response).correlationId).toBe(pending.correlationId);
  });
});
