/**
 * MQTT 5.0 properties (§2.2.2.2). Every field is optional: a properties object only exists
 * when the packet's property length is non-zero. Byte-valued properties stay numbers so that
 * the decoder can report out-of-range values (e.g. Maximum QoS 2) instead of coercing them.
 */
export interface Properties {
  /** 0x01, byte: 0 = unspecified bytes, 1 = UTF-8 payload. PUBLISH, will. */
  payloadFormatIndicator?: number;
  /** 0x02, four-byte integer. PUBLISH, will. */
  messageExpiryInterval?: number;
  /** 0x03, UTF-8 string. PUBLISH, will. */
  contentType?: string;
  /** 0x08, UTF-8 string (a topic name). PUBLISH, will. */
  responseTopic?: string;
  /** 0x09, binary data. PUBLISH, will. */
  correlationData?: Buffer;
  /**
   * 0x0B, variable byte integer 1..268435455. May repeat in PUBLISH (one per matching
   * subscription); at most once in SUBSCRIBE. Kept in wire order.
   */
  subscriptionIdentifiers?: number[];
  /** 0x11, four-byte integer. CONNECT, CONNACK, DISCONNECT. */
  sessionExpiryInterval?: number;
  /** 0x12, UTF-8 string. CONNACK. */
  assignedClientIdentifier?: string;
  /** 0x13, two-byte integer. CONNACK. */
  serverKeepAlive?: number;
  /** 0x15, UTF-8 string. CONNECT, CONNACK, AUTH. */
  authenticationMethod?: string;
  /** 0x16, binary data. CONNECT, CONNACK, AUTH. */
  authenticationData?: Buffer;
  /** 0x17, byte 0/1. CONNECT. */
  requestProblemInformation?: number;
  /** 0x18, four-byte integer. Will properties. */
  willDelayInterval?: number;
  /** 0x19, byte 0/1. CONNECT. */
  requestResponseInformation?: number;
  /** 0x1A, UTF-8 string. CONNACK. */
  responseInformation?: string;
  /** 0x1C, UTF-8 string. CONNACK, DISCONNECT. */
  serverReference?: string;
  /** 0x1F, UTF-8 string. Every ack, CONNACK, DISCONNECT, AUTH. */
  reasonString?: string;
  /** 0x21, two-byte integer, non-zero. CONNECT, CONNACK. */
  receiveMaximum?: number;
  /** 0x22, two-byte integer. CONNECT, CONNACK. */
  topicAliasMaximum?: number;
  /** 0x23, two-byte integer, non-zero. PUBLISH. */
  topicAlias?: number;
  /** 0x24, byte 0/1. CONNACK. */
  maximumQoS?: number;
  /** 0x25, byte 0/1. CONNACK. */
  retainAvailable?: number;
  /** 0x26, UTF-8 string pairs, in wire order; names may repeat. Every packet with properties. */
  userProperties?: Array<[name: string, value: string]>;
  /** 0x27, four-byte integer, non-zero. CONNECT, CONNACK. */
  maximumPacketSize?: number;
  /** 0x28, byte 0/1. CONNACK. */
  wildcardSubscriptionAvailable?: number;
  /** 0x29, byte 0/1. CONNACK. */
  subscriptionIdentifiersAvailable?: number;
  /** 0x2A, byte 0/1. CONNACK. */
  sharedSubscriptionAvailable?: number;
}

/** Property identifiers (§2.2.2.2, Table 2-4). */
export const PropertyId = {
  PayloadFormatIndicator: 0x01,
  MessageExpiryInterval: 0x02,
  ContentType: 0x03,
  ResponseTopic: 0x08,
  CorrelationData: 0x09,
  SubscriptionIdentifier: 0x0b,
  SessionExpiryInterval: 0x11,
  AssignedClientIdentifier: 0x12,
  ServerKeepAlive: 0x13,
  AuthenticationMethod: 0x15,
  AuthenticationData: 0x16,
  RequestProblemInformation: 0x17,
  WillDelayInterval: 0x18,
  RequestResponseInformation: 0x19,
  ResponseInformation: 0x1a,
  ServerReference: 0x1c,
  ReasonString: 0x1f,
  ReceiveMaximum: 0x21,
  TopicAliasMaximum: 0x22,
  TopicAlias: 0x23,
  MaximumQoS: 0x24,
  RetainAvailable: 0x25,
  UserProperty: 0x26,
  MaximumPacketSize: 0x27,
  WildcardSubscriptionAvailable: 0x28,
  SubscriptionIdentifiersAvailable: 0x29,
  SharedSubscriptionAvailable: 0x2a,
} as const;
export type PropertyId = (typeof PropertyId)[keyof typeof PropertyId];
