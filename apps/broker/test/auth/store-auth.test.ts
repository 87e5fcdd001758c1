import { MemoryStore } from '@mqtt-adapt/router';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { hashPassword, hashScheme } from '../../src/auth/password-hash.js';
import { StoreAuth, type StoreAuthOptions } from '../../src/auth/store-auth.js';

const fast = { logN: 10, r: 8, p: 1 };
const client = (username: string | undefined, clientId = 'c') => ({
  clientId,
  username,
  remoteAddress: '127.0.0.1:5000',
  protocolVersion: 4 as const,
});
const request = (username: string | undefined, password?: string, remoteAddress = '127.0.0.1:5000') => ({
  clientId: 'c',
  username,
  password: password === undefined ? undefined : Buffer.from(password),
  remoteAddress,
  protocolVersion: 4 as const,
  identity: undefined as string | undefined,
});

const running: StoreAuth[] = [];
afterEach(() => {
  for (const auth of running.splice(0)) auth.stop();
});

async function start(store: MemoryStore, options: Partial<StoreAuthOptions> = {}): Promise<StoreAuth> {
  const auth = new StoreAuth(store, {
    allowAnonymous: undefined,
    failureDelayMs: 0,
    maxFailureDelayMs: 0,
    scrypt: fast,
    pollIntervalMs: 10,
    logger: pino({ level: 'silent' }),
    ...options,
  });
  await auth.start();
  running.push(auth);
  return auth;
}

async function openStore(): Promise<MemoryStore> {
  const store = new MemoryStore();
  await store.open();
  return store;
}

const tick = (ms = 40) => new Promise((resolve) => setTimeout(resolve, ms));

describe('logins against the store', () => {
  it('anonymous clients are welcome while no user exists, refused (0x87) once one does, unless configured', async () => {
    const store = await openStore();
    const auth = await start(store);
    expect(await auth.hooks().authenticate(request(undefined))).toBe(true);
    await store.saveUser({ username: 'alice', passwordHash: await hashPassword(Buffer.from('pw'), fast) });
    await tick();
    expect(await auth.hooks().authenticate(request(undefined))).toBe(0x87);
    const open = await start(store, { allowAnonymous: true });
    expect(await open.hooks().authenticate(request(undefined))).toBe(true);
  });

  it('a wrong password and an unknown user get 0x86; the right password passes', async () => {
    const store = await openStore();
    await store.saveUser({ username: 'alice', passwordHash: await hashPassword(Buffer.from('pw'), fast) });
    const auth = await start(store);
    const { authenticate } = auth.hooks();
    expect(await authenticate(request('alice', 'pw'))).toBe(true);
    expect(await authenticate(request('alice', 'nope'))).toBe(0x86);
    expect(await authenticate(request('alice'))).toBe(0x86);
    expect(await authenticate(request('mallory', 'pw'))).toBe(0x86);
    expect(auth.loginFailures).toBe(3);
  });

  it('an imported Mosquitto hash logs in and is replaced by an scrypt hash', async () => {
    const store = await openStore();
    // mosquitto_passwd's $7$ for "secret1" (PBKDF2-SHA512, 101 iterations).
    const passwordHash =
      '$7$101$VcUzLTHuYu+sEh2R$NYoyiLw99J0KDTVoA1wCIwcKaJ3+oGPgN0yzb03Yy6tgMO2ylKLvwd2uFgEWR+LOndx7vGTeiLqPpA0KCotP6Q==';
    await store.saveUser({ username: 'alice', passwordHash });
    const { authenticate } = (await start(store)).hooks();
    expect(await authenticate(request('alice', 'secret1'))).toBe(true);
    await tick();
    const user = await store.getUser('alice');
    expect(hashScheme(user!.passwordHash)).toBe('scrypt');
    expect(await authenticate(request('alice', 'secret1'))).toBe(true);
  });

  it('failures from one address make its next attempt from there wait', async () => {
    const store = await openStore();
    await store.saveUser({ username: 'alice', passwordHash: await hashPassword(Buffer.from('pw'), fast) });
    const { authenticate } = (await start(store, { failureDelayMs: 150, maxFailureDelayMs: 1000 })).hooks();
    await authenticate(request('alice', 'bad', '10.0.0.1:1'));
    await authenticate(request('alice', 'bad', '10.0.0.1:2'));
    const started = performance.now();
    await authenticate(request('alice', 'pw', '10.0.0.1:3'));
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    // Per-address isolation is FailureDelays' own test; no upper bound on time here (noisy machines).
    expect(await authenticate(request('alice', 'pw', '10.0.0.2:1'))).toBe(true);
  });
});

describe('a verified client certificate', () => {
  it('is the credential: its CN logs in without a password, even when users exist', async () => {
    const store = await openStore();
    await store.saveUser({ username: 'alice', passwordHash: await hashPassword(Buffer.from('pw'), fast) });
    const { authenticate } = (await start(store)).hooks();
    expect(await authenticate({ ...request('device-7'), identity: 'device-7' })).toBe(true);
    expect(await authenticate(request('device-7'))).toBe(0x86);
  });
});

describe('ACL rules from the store', () => {
  it('apply to publish, subscribe and reading, and are reloaded when changed elsewhere', async () => {
    const store = await openStore();
    const auth = await start(store);
    const hooks = auth.hooks();
    const alice = client('alice');
    expect(hooks.authorizePublish(alice, 'x', 0, false)).toBe(true);
    await store.saveAclRule({
      id: '1',
      subject: 'user',
      username: 'alice',
      topicFilter: 'alice/#',
      action: 'all',
      permission: 'allow',
    });
    await store.saveAclRule({
      id: '2',
      subject: 'all',
      username: undefined,
      topicFilter: 'devices/%c/#',
      action: 'publish',
      permission: 'allow',
    });
    await tick();
    expect(hooks.authorizePublish(alice, 'x', 0, false)).toBe(false);
    expect(hooks.authorizePublish(alice, 'alice/1', 0, false)).toBe(true);
    expect(hooks.authorizeSubscribe(alice, 'alice/#', 1)).toBe(true);
    expect(hooks.authorizeRead(alice, 'alice/1')).toBe(true);
    expect(hooks.authorizeRead(client('bob'), 'alice/1')).toBe(false);
    expect(hooks.authorizePublish(client('bob', 'dev7'), 'devices/dev7/t', 0, false)).toBe(true);
    expect(hooks.authorizePublish(client('bob', 'dev7'), 'devices/dev8/t', 0, false)).toBe(false);
    await store.deleteAclRule('1');
    await tick();
    expect(hooks.authorizePublish(alice, 'alice/1', 0, false)).toBe(false);
  });
});

describe('verified logins', () => {
  it('a remembered login never outlives a changed password or a removed user', async () => {
    const store = await openStore();
    const slow = { logN: 14, r: 8, p: 1 };
    await store.saveUser({ username: 'alice', passwordHash: await hashPassword(Buffer.from('pw'), slow) });
    const { authenticate } = (await start(store, { scrypt: slow })).hooks();
    expect(await authenticate(request('alice', 'pw'))).toBe(true);
    expect(await authenticate(request('alice', 'pw'))).toBe(true);
    expect(await authenticate(request('alice', 'other'))).toBe(0x86);
    await store.saveUser({ username: 'alice', passwordHash: await hashPassword(Buffer.from('new'), slow) });
    expect(await authenticate(request('alice', 'pw'))).toBe(0x86);
    expect(await authenticate(request('alice', 'new'))).toBe(true);
    await store.deleteUser('alice');
    expect(await authenticate(request('alice', 'new'))).toBe(0x86);
  });
});
