import type { PublishInput } from '@mqtt-adapt/router';
import { FakeClock } from '@mqtt-adapt/router/testing';
import { describe, expect, it } from 'vitest';
import type { Figures } from '../src/broker-figures.js';
import { nextLoad, startSysTopics } from '../src/sys-topics.js';

function zeroFigures(): Figures {
  return {
    clientsConnected: 0,
    clientsDisconnected: 0,
    clientsTotal: 0,
    clientsMaximum: 0,
    clientConnects: 0,
    messagesReceived: 0,
    messagesSent: 0,
    messagesDropped: 0,
    bytesReceived: 0,
    bytesSent: 0,
    subscriptions: 0,
    retainedMessages: 0,
  };
}

/** A broker stand-in that records what is published; `latest` is what a new subscriber would get. */
function harness(intervalSeconds = 10) {
  const clock = new FakeClock();
  const published: PublishInput[] = [];
  let figures = zeroFigures();
  let ownPublishes = 0;
  const sys = startSysTopics(
    { publish: (input) => published.push(input) },
    {
      intervalSeconds,
      version: '1.2.3',
      figures: () => figures,
      onPublish: () => ownPublishes++,
      clock,
    },
  );
  const latest = (): Map<string, string> =>
    new Map(published.map((input) => [input.topicName, String(input.payload)]));
  return {
    clock,
    sys,
    published,
    latest,
    set: (change: Partial<Figures>) => {
      figures = { ...figures, ...change };
    },
    ownPublishes: () => ownPublishes,
  };
}

describe('$SYS topics', () => {
  it('publishes every topic at once, retained, QoS 0, with loads at 0', () => {
    const { published, latest, ownPublishes } = harness();
    expect(published.every((input) => input.retain === true && input.qos === 0)).toBe(true);
    expect(ownPublishes()).toBe(published.length);
    const topics = latest();
    expect(topics.get('$SYS/broker/version')).toBe('mqtt-adapt version 1.2.3');
    expect(topics.get('$SYS/broker/uptime')).toBe('0 seconds');
    for (const name of ['connected', 'disconnected', 'total', 'maximum'])
      expect(topics.get(`$SYS/broker/clients/${name}`)).toBe('0');
    for (const name of [
      'messages/received',
      'messages/sent',
      'publish/messages/received',
      'publish/messages/sent',
      'publish/messages/dropped',
      'bytes/received',
      'bytes/sent',
      'subscriptions/count',
      'retained messages/count',
    ])
      expect(topics.get(`$SYS/broker/${name}`), name).toBe('0');
    for (const load of [
      'messages/received',
      'messages/sent',
      'publish/dropped',
      'bytes/received',
      'bytes/sent',
      'connections',
    ])
      for (const window of ['1min', '5min', '15min'])
        expect(topics.get(`$SYS/broker/load/${load}/${window}`), `${load}/${window}`).toBe('0.00');
    expect(topics.size).toBe(1 + 1 + 4 + 9 + 18);
  });

  it('updates every interval, publishing only what changed', () => {
    const { clock, published, latest, set } = harness(10);
    const first = published.length;
    clock.advance(9_999);
    expect(published.length).toBe(first);
    clock.advance(1);
    // Only the uptime changed.
    expect(published.slice(first).map((input) => input.topicName)).toEqual(['$SYS/broker/uptime']);
    expect(latest().get('$SYS/broker/uptime')).toBe('10 seconds');

    set({
      clientsConnected: 3,
      clientsTotal: 5,
      clientsDisconnected: 2,
      clientsMaximum: 4,
      subscriptions: 7,
    });
    clock.advance(10_000);
    const topics = latest();
    expect(topics.get('$SYS/broker/uptime')).toBe('20 seconds');
    expect(topics.get('$SYS/broker/clients/connected')).toBe('3');
    expect(topics.get('$SYS/broker/clients/disconnected')).toBe('2');
    expect(topics.get('$SYS/broker/clients/total')).toBe('5');
    expect(topics.get('$SYS/broker/clients/maximum')).toBe('4');
    expect(topics.get('$SYS/broker/subscriptions/count')).toBe('7');
  });

  it('computes load averages as Mosquitto: per-minute rates, decayed per window', () => {
    const { clock, latest, set } = harness(10);
    // 600 messages in 10 s: 3600 per minute.
    set({ messagesReceived: 600, bytesSent: 60_000 });
    clock.advance(10_000);
    let topics = latest();
    const oneMinute = 3600 * (1 - Math.exp(-10 / 60));
    expect(topics.get('$SYS/broker/load/messages/received/1min')).toBe(oneMinute.toFixed(2));
    expect(topics.get('$SYS/broker/load/messages/received/5min')).toBe(
      (3600 * (1 - Math.exp(-10 / 300))).toFixed(2),
    );
    expect(topics.get('$SYS/broker/load/messages/received/15min')).toBe(
      (3600 * (1 - Math.exp(-10 / 900))).toFixed(2),
    );
    expect(topics.get('$SYS/broker/load/bytes/sent/1min')).toBe(
      (360_000 * (1 - Math.exp(-10 / 60))).toFixed(2),
    );
    expect(topics.get('$SYS/broker/load/messages/sent/1min')).toBe('0.00');

    // Nothing more: the average decays by exp(-10/60) per interval.
    clock.advance(10_000);
    topics = latest();
    expect(topics.get('$SYS/broker/load/messages/received/1min')).toBe(
      (oneMinute * Math.exp(-10 / 60)).toFixed(2),
    );

    // A steady rate is approached: after 15 minutes at 120/min the 1-minute load is 120.
    let received = 600;
    for (let i = 0; i < 90; i++) {
      received += 20;
      set({ messagesReceived: received });
      clock.advance(10_000);
    }
    expect(Number(latest().get('$SYS/broker/load/messages/received/1min'))).toBeCloseTo(120, 1);
    expect(Number(latest().get('$SYS/broker/load/messages/received/15min'))).toBeGreaterThan(70);
    expect(Number(latest().get('$SYS/broker/load/messages/received/15min'))).toBeLessThan(120);
  });

  it('uses the real time between updates, not the nominal interval', () => {
    // A late timer (a busy event loop) must not inflate the rate: 60 messages over 20 s is 180/min.
    expect(nextLoad(0, 60, 20, 60)).toBeCloseTo(180 * (1 - Math.exp(-20 / 60)), 10);
    expect(nextLoad(180, 0, 60, 60)).toBeCloseTo(180 * Math.exp(-1), 10);
  });

  it('stops publishing after stop(), and a publish that throws is skipped, not fatal', () => {
    const clock = new FakeClock();
    let calls = 0;
    const sys = startSysTopics(
      {
        publish: () => {
          calls++;
          throw new Error('store closed');
        },
      },
      { intervalSeconds: 1, version: '1', figures: zeroFigures, clock },
    );
    const afterStart = calls;
    expect(afterStart).toBeGreaterThan(0);
    clock.advance(1000);
    // Nothing was published, so everything is tried again.
    expect(calls).toBe(afterStart * 2 - 1);
    sys.stop();
    clock.advance(10_000);
    expect(calls).toBe(afterStart * 2 - 1);
  });
});
