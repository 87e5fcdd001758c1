export type { BoundedLanesOptions } from './bounded-lanes.js';
export { BoundedLanes } from './bounded-lanes.js';
export type { BridgeOptions, CloseResult } from './bridge.js';
export { Bridge } from './bridge.js';
export type { DeadLetter, DeadLetterDocument, DeadLetterSink } from './dead-letter.js';
export { producerDeadLetters, toDeadLetterDocument } from './dead-letter.js';
export type { DownlinkRule } from './downlink.js';
export type {
  DeviceCommand,
  DeviceEnvelope,
  DeviceMessage,
  EncodedMessage,
  EnvelopeCodec,
  JsonCodecOptions,
  JsonValue,
  PayloadEncoding,
} from './envelope.js';
export {
  describePayload,
  envelopeHeaders,
  jsonCodec,
  payloadBytes,
  rawCodec,
  toEnvelope,
} from './envelope.js';
export type { MqErrorCode } from './errors.js';
export { isMqError, MqError, rejected, unavailable } from './errors.js';
export type { LatencySummary, MetricsSnapshot, RuleMetricsSnapshot } from './metrics.js';
export type {
  DeviceResponse,
  PendingCommand,
  RequestOptions,
  RequestReplyOptions,
} from './request-reply.js';
export { correlationIdOf, wrapWithCorrelation } from './request-reply.js';
export type { ResolvedRetryPolicy, RetryPolicy } from './retry.js';
export { backoffDelayMs, resolveRetryPolicy } from './retry.js';
export type { StandardTemplateName, TemplateOptions, TemplateVars, TopicTemplate } from './template.js';
export { compileTemplate, standardTemplates } from './template.js';
export type {
  BrokerLink,
  BrokerMessage,
  ConsumedMessage,
  Consumer,
  ConsumerHandler,
  LinkHandler,
  LinkPublishOptions,
  Logger,
  MessageProperties,
  Producer,
  ProducerRecord,
  QoS,
  SendResult,
} from './types.js';
export { silentLogger } from './types.js';
export type { UplinkRule } from './uplink.js';
