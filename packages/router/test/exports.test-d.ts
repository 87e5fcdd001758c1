// Every public type is reachable from the package root and keeps its shape (checked by tsc).
import { expectTypeOf } from 'vitest';
import {
  type AcceptOptions,
  Broker,
  type BrokerHooks,
  type BrokerOptions,
  type BrokerStats,
  type ClientConnection,
  type Clock,
  type EnhancedAuthAnswer,
  type EnhancedAuthMethod,
  type EnhancedAuthRequest,
  isRouterError,
  isStoreError,
  type Logger,
  MemoryStore,
  type Message,
  type RouterError,
  type Store,
  type StoreError,
  type StoreSnapshot,
  type Transport,
} from '../src/index.js';
import {
  FakeClock,
  FakeTransport,
  runStoreContract,
  type StoreContractHarness,
} from '../src/testing/index.js';

const options: BrokerOptions = { store: new MemoryStore(), clock: new FakeClock(), maxQoS: 1 };
const broker = new Broker(options);
expectTypeOf(broker.open()).toEqualTypeOf<Promise<void>>();
expectTypeOf(broker.accept(new FakeTransport())).toEqualTypeOf<ClientConnection>();
expectTypeOf(broker.accept(new FakeTransport(), { lossless: true })).toEqualTypeOf<ClientConnection>();
expectTypeOf<AcceptOptions['lossless']>().toEqualTypeOf<boolean | undefined>();
expectTypeOf(broker.stats).toEqualTypeOf<BrokerStats>();
expectTypeOf(broker.store).toEqualTypeOf<Store>();
expectTypeOf<Transport['write']>().returns.toEqualTypeOf<boolean>();
expectTypeOf<BrokerHooks['authenticate']>().not.toBeAny();
expectTypeOf<NonNullable<BrokerHooks['authMethods']>[string]>().toEqualTypeOf<EnhancedAuthMethod>();
expectTypeOf<EnhancedAuthMethod<number>['start']>().parameter(0).toEqualTypeOf<EnhancedAuthRequest>();
expectTypeOf<Extract<EnhancedAuthAnswer<number>, { result: 'continue' }>['state']>().toEqualTypeOf<number>();
expectTypeOf<Message['payload']>().toEqualTypeOf<Buffer>();
expectTypeOf<Store['flush']>().returns.toEqualTypeOf<Promise<void> | undefined>();
expectTypeOf<Awaited<ReturnType<Store['open']>>>().toEqualTypeOf<StoreSnapshot>();
expectTypeOf(isRouterError).guards.toEqualTypeOf<RouterError>();
expectTypeOf(isStoreError).guards.toEqualTypeOf<StoreError>();
expectTypeOf<Clock['now']>().returns.toEqualTypeOf<number>();
expectTypeOf<Logger['debug']>().not.toBeAny();
expectTypeOf(runStoreContract).parameter(1).toEqualTypeOf<StoreContractHarness>();
