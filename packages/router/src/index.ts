// The matching rule of `Store.findRetained`, for store implementations (they import the
// router's contract, not the topic package).
export { filterLevelsMatch } from '@mqtt-adapt/topic';
export type { DeliverRemoteOptions, PublishInput } from './broker.js';
export { Broker, defaultBrokerOptions } from './broker.js';
export type { BrokerStats } from './broker-stats.js';
export type { ClientConnection } from './client-connection.js';
export type { Clock, TimerHandle } from './clock.js';
export { systemClock } from './clock.js';
export type { RouterErrorCode, StoreErrorCode } from './errors.js';
export { isRouterError, isStoreError, RouterError, StoreError } from './errors.js';
export type { FanOutHook } from './fan-out.js';
export type {
  AuthenticateRequest,
  AuthenticateResult,
  BrokerEventMap,
  BrokerEventName,
  BrokerHooks,
  BrokerListener,
  ClientInfo,
  DisconnectReason,
  DropReason,
  EnhancedAuthAnswer,
  EnhancedAuthMethod,
  EnhancedAuthRequest,
  HookResult,
} from './hooks.js';
export type { LimitHits } from './limits.js';
// The host of a `Transport.remoteAddress` (per-address limits in the router and in apps).
export { hostOf } from './limits.js';
export type { Logger } from './logger.js';
export { silentLogger } from './logger.js';
export { MemoryStore } from './memory-store.js';
export type { Message } from './message.js';
export type { AcceptOptions, BrokerOptions } from './options.js';
export { RetainedIndex } from './retained-index.js';
export type { SubscriptionOptions } from './session.js';
export type { SessionOwnershipHook } from './session-ownership.js';
export type { SharedOutcome, SharedSettled } from './shared-settle.js';
export type {
  AclAction,
  AclPermission,
  AclRule,
  AclSubject,
  DeliveryRecord,
  RetainedRecord,
  SessionRecord,
  SessionSnapshot,
  Store,
  StoredMessage,
  StoredSubscription,
  StoreSnapshot,
  UserRecord,
} from './store.js';
// Record checks of `saveUser` / `saveAclRule`, shared by every store implementation.
export { assertAclRule, assertUserRecord } from './store-records.js';
export type { Transport } from './transport.js';
