// Every public type is reachable from the package root and its subpaths (checked by tsc).
import type { MqttClient } from 'mqtt';
import { expectTypeOf } from 'vitest';
import {
  createMqttConsumer,
  createMqttProducer,
  MqttClientLink,
  mqttForwardingRules,
  type TopicPrefixMap,
} from '../src/adapters/mqtt.js';
import {
  createJetStreamConsumer,
  createJetStreamProducer,
  type JetStreamStream,
} from '../src/adapters/nats.js';
import {
  createRabbitMqConsumer,
  createRabbitMqProducer,
  type RabbitMqQueue,
} from '../src/adapters/rabbitmq.js';
import { createRedisStreamConsumer, createRedisStreamProducer } from '../src/adapters/redis.js';
import {
  Bridge,
  type BrokerLink,
  type CloseResult,
  type Consumer,
  compileTemplate,
  type DeadLetterSink,
  type DeviceEnvelope,
  type DeviceResponse,
  type DownlinkRule,
  type EnvelopeCodec,
  isMqError,
  type MetricsSnapshot,
  type MqErrorCode,
  type Producer,
  type RuleMetricsSnapshot,
  type TopicTemplate,
  type UplinkRule,
} from '../src/index.js';

declare const link: BrokerLink;
declare const client: MqttClient;
const bridge = new Bridge({ link });
expectTypeOf(bridge.metrics()).toEqualTypeOf<MetricsSnapshot>();
expectTypeOf(bridge.close()).toEqualTypeOf<Promise<CloseResult>>();
expectTypeOf(bridge.request({ node_id: 'n', device_id: 'd' }, new Uint8Array())).toEqualTypeOf<
  Promise<DeviceResponse>
>();
expectTypeOf<RuleMetricsSnapshot['direction']>().toEqualTypeOf<'uplink' | 'downlink'>();
expectTypeOf(compileTemplate('{a}/b')).toEqualTypeOf<TopicTemplate>();
expectTypeOf(compileTemplate('{a}/b').parse('x/b')).toEqualTypeOf<Record<string, string> | null>();
expectTypeOf<DeviceEnvelope['encoding']>().toEqualTypeOf<'json' | 'utf8' | 'base64'>();

expectTypeOf(createRabbitMqProducer).returns.toEqualTypeOf<Producer>();
expectTypeOf(createRabbitMqConsumer).returns.toEqualTypeOf<Consumer>();
expectTypeOf(createJetStreamProducer).returns.toEqualTypeOf<Producer>();
expectTypeOf(createJetStreamConsumer).returns.toEqualTypeOf<Consumer>();
expectTypeOf(createRedisStreamProducer).returns.toEqualTypeOf<Producer>();
expectTypeOf(createRedisStreamConsumer).returns.toEqualTypeOf<Consumer>();
expectTypeOf(createMqttProducer).returns.toEqualTypeOf<Producer>();
expectTypeOf(createMqttConsumer).returns.toEqualTypeOf<Consumer>();
expectTypeOf(new MqttClientLink(client)).toMatchTypeOf<BrokerLink>();
expectTypeOf(mqttForwardingRules).returns.toEqualTypeOf<{
  uplinks: UplinkRule[];
  downlinks: DownlinkRule[];
}>();
expectTypeOf<TopicPrefixMap[number]>().toEqualTypeOf<{ readonly local: string; readonly remote: string }>();
expectTypeOf<JetStreamStream['subjects']>().toEqualTypeOf<readonly string[]>();
expectTypeOf<RabbitMqQueue['bindings']>().toEqualTypeOf<readonly string[] | undefined>();
expectTypeOf<UplinkRule['codec']>().toEqualTypeOf<EnvelopeCodec | undefined>();
expectTypeOf<UplinkRule['deadLetter']>().toEqualTypeOf<DeadLetterSink | undefined>();
// @ts-expect-error a rule needs a producer
const bad: UplinkRule = { name: 'x', template: '{a}', destination: 'y' };
void bad;

const unknownError: unknown = new Error('x');
if (isMqError(unknownError)) expectTypeOf(unknownError.code).toEqualTypeOf<MqErrorCode>();
