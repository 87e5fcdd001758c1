import type { Store } from '@mqtt-adapt/router';
import { expectTypeOf, test } from 'vitest';
import type { PgStoreFencing, PgStoreOptions, SessionClaim } from '../src/index.js';
import { PgStore, redactConnectionString } from '../src/index.js';

test('public API is reachable from the package root', () => {
  expectTypeOf<PgStore>().toMatchTypeOf<Store>();
  expectTypeOf<PgStoreOptions['connectionString']>().toEqualTypeOf<string>();
  expectTypeOf(PgStore).constructorParameters.toEqualTypeOf<[PgStoreOptions]>();
  expectTypeOf(redactConnectionString).toEqualTypeOf<(connectionString: string) => string>();
  expectTypeOf<PgStore['abort']>().returns.toEqualTypeOf<Promise<void>>();
  expectTypeOf<PgStoreOptions['experimental_fencing']>().toEqualTypeOf<PgStoreFencing | undefined>();
  expectTypeOf<PgStore['experimental_claimSession']>().returns.toEqualTypeOf<Promise<SessionClaim>>();
});
