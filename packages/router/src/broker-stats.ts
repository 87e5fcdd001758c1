import type { LimitHits } from './limits.js';

/** `broker.stats`: gauges and counters since start, read at any time (a fresh object). */
export interface BrokerStats {
  connections: number;
  sessions: number;
  subscriptions: number;
  retainedMessages: number;
  /** PUBLISH packets accepted from clients, plus wills and `Broker.publish`. */
  messagesReceived: number;
  /** PUBLISH packets written to clients. */
  messagesSent: number;
  /** Deliveries dropped: QoS 0 to slow consumers, offline queues past their limit, refused publishes. */
  messagesDropped: number;
  /** Bytes read from clients (every packet, fixed headers included). */
  bytesReceived: number;
  /** Bytes written to clients. */
  bytesSent: number;
  /** Bytes of messages queued for online sessions (bounded by `maxQueuedBytes`). */
  queuedBytes: number;
  /** Bytes held for packets still arriving, across connections (bounded by `maxPartialPacketBytes`). */
  partialPacketBytes: number;
  /** Times a publisher was paused because a subscriber's queue or the queued-bytes budget was full. */
  publisherPauses: number;
  /** Subscribers disconnected for holding publishers back while acknowledging nothing. */
  stalledSubscriberDisconnects: number;
  /** Connections closed because an exception escaped while serving them (bugs). */
  internalErrors: number;
  /** Sum of the payload bytes of the retained messages (bounded by `maxRetainedBytes` when set). */
  retainedBytes: number;
  /** Times each limit was hit (see `BrokerOptions`): refused, held back or not retained. */
  limitHits: LimitHits;
}
