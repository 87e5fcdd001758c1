import type { EnhancedAuthAnswer, EnhancedAuthRequest, UserRecord } from '@mqtt-adapt/router';
import { MemoryStore } from '@mqtt-adapt/router';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  hashPassword,
  hashScheme,
  hashScramPassword,
  scramCredentials,
  verifyPassword,
} from '../../src/auth/password-hash.js';
import { normalizePassword } from '../../src/auth/scram.js';
import { SCRAM_SHA_256, ScramSha256Method } from '../../src/auth/scram-method.js';
import { StoreAuth } from '../../src/auth/store-auth.js';
import { scramClient } from './scram-client.js';

// RFC 7677 §3, the SCRAM-SHA-256 test vector.
const RFC = {
  username: 'user',
  password: 'pencil',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

const pw = (text: string) => Buffer.from(text, 'utf8');

function request(data: string | Buffer | undefined, username?: string): EnhancedAuthRequest {
  return {
    clientId: 'c',
    username,
    password: undefined,
    remoteAddress: '127.0.0.1:5000',
    identity: undefined,
    authenticationMethod: SCRAM_SHA_256,
    authenticationData: typeof data === 'string' ? Buffer.from(data) : data,
    reauthenticate: false,
  };
}

interface Harness {
  method: ScramSha256Method;
  settled: Array<[string | undefined, boolean]>;
  users: Map<string, UserRecord>;
}

function harness(serverNonce?: string): Harness {
  const users = new Map<string, UserRecord>();
  const settled: Array<[string | undefined, boolean]> = [];
  const method = new ScramSha256Method(
    {
      getUser: async (username) => users.get(username),
      waitTurn: async () => {},
      settled: (_request, username, ok) => settled.push([username, ok]),
    },
    serverNonce === undefined ? {} : { nonce: () => serverNonce },
  );
  return { method, settled, users };
}

async function addUser(h: Harness, username: string, passwordHash: string): Promise<void> {
  h.users.set(username, { username, passwordHash });
}

/** Runs a whole exchange with the test client; returns the answer to the client-final. */
async function exchange(
  h: Harness,
  username: string,
  password: string,
  options: { connectUsername?: string; gs2Header?: string } = {},
): Promise<{ answer: EnhancedAuthAnswer; serverFirst: string; verified: boolean }> {
  const client = scramClient(username, password, { gs2Header: options.gs2Header });
  const req = request(client.first, options.connectUsername);
  const first = await h.method.start(req);
  if (first.result !== 'continue') throw new Error(`start answered ${JSON.stringify(first)}`);
  const answer = await h.method.step(first.state, client.final(first.data!), req);
  const serverFinal = answer.result === 'success' ? answer.data : undefined;
  return { answer, serverFirst: first.data!.toString(), verified: client.verifyServer(serverFinal) };
}

describe('SCRAM-SHA-256 credentials in the password hash', () => {
  it('RFC 7677 keys from "pencil": a $scram-sha-256$ string that also checks a plain password', async () => {
    const hash = await hashScramPassword(pw(RFC.password), 4096, Buffer.from(RFC.salt, 'base64'));
    expect(hash).toMatch(
      /^\$scram-sha-256\$i=4096\$W22ZaJ0SNY7soEsUEjb6gQ==\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/,
    );
    expect(hashScheme(hash)).toBe('scram-sha-256');
    expect(scramCredentials(hash)).toMatchObject({ iterations: 4096 });
    // Never rehashed into scrypt: the user would lose SCRAM.
    expect(await verifyPassword(hash, pw('pencil'))).toEqual({ valid: true, needsRehash: false });
    expect(await verifyPassword(hash, pw('pencil!'))).toEqual({ valid: false, needsRehash: false });
  });

  it('fresh salts; fewer than 4096 iterations refused; damaged strings are no credentials', async () => {
    const a = await hashScramPassword(pw('x'));
    expect(a).not.toBe(await hashScramPassword(pw('x')));
    await expect(hashScramPassword(pw('x'), 1000)).rejects.toThrow(RangeError);
    const good = a.split('$');
    for (const damaged of [
      '$scram-sha-256$i=4096$AAAA$BBBB',
      `$scram-sha-256$i=0$${good[3]}$${good[4]}`,
      `$scram-sha-256$n=4096$${good[3]}$${good[4]}`,
      `$scram-sha-256$i=4096$${good[3]}$${good[4]}:extra`,
      `$scram-sha-256$i=4096$$${good[4]}`,
    ]) {
      expect(scramCredentials(damaged)).toBeUndefined();
      expect((await verifyPassword(damaged, pw('x'))).valid).toBe(false);
    }
  });

  it("normalizes like SASLprep (RFC 4013 §3's examples)", () => {
    expect(normalizePassword(pw('I\u00adX')).toString()).toBe('IX');
    expect(normalizePassword(pw('\u2168')).toString()).toBe('IX');
    expect(normalizePassword(pw('a\u00a0b')).toString()).toBe('a b');
    expect(normalizePassword(pw('user'))).toEqual(pw('user'));
    const notUtf8 = Buffer.from([0xff, 0xfe]);
    expect(normalizePassword(notUtf8)).toBe(notUtf8);
  });
});

describe('the SCRAM-SHA-256 method', () => {
  it("RFC 7677's test vector: server-first, then the server-final signature", async () => {
    const h = harness(RFC.serverNonce);
    await addUser(
      h,
      'user',
      await hashScramPassword(pw(RFC.password), 4096, Buffer.from(RFC.salt, 'base64')),
    );
    const req = request(RFC.clientFirst);
    const first = await h.method.start(req);
    expect(first).toMatchObject({ result: 'continue' });
    if (first.result !== 'continue') return;
    expect(first.data?.toString()).toBe(RFC.serverFirst);
    const final = await h.method.step(first.state, Buffer.from(RFC.clientFinal), req);
    expect(final).toEqual({ result: 'success', data: Buffer.from(RFC.serverFinal), username: 'user' });
    expect(h.settled).toEqual([['user', true]]);
  });

  it('a wrong password fails with 0x86; the right one succeeds and the client verifies the server', async () => {
    const h = harness();
    await addUser(h, 'alice', await hashScramPassword(pw('wonderland')));
    expect((await exchange(h, 'alice', 'wrong')).answer).toEqual({
      result: 'failure',
      reasonCode: 0x86,
      reason: 'authentication failed',
    });
    const ok = await exchange(h, 'alice', 'wonderland');
    expect(ok.answer).toMatchObject({ result: 'success', username: 'alice' });
    expect(ok.verified).toBe(true);
    expect(h.settled).toEqual([
      ['alice', false],
      ['alice', true],
    ]);
  });

  it('unknown users and users without SCRAM credentials look like others: same salt and count, then 0x86', async () => {
    const h = harness();
    await addUser(h, 'scram', await hashScramPassword(pw('pw')));
    await addUser(h, 'legacy', await hashPassword(pw('pw'), { logN: 10, r: 8, p: 1 }));
    const shape = /^r=[^,]+,s=[A-Za-z0-9+/]{22}==,i=4096$/;
    const seen = new Map<string, string>();
    for (const user of ['scram', 'legacy', 'nobody', 'nobody']) {
      const run = await exchange(h, user, 'pw');
      expect(run.serverFirst).toMatch(shape);
      const salt = run.serverFirst.split(',')[1]!;
      if (seen.has(user)) expect(salt).toBe(seen.get(user)); // a stable fake salt per name
      seen.set(user, salt);
      expect(run.answer).toMatchObject(
        user === 'scram'
          ? { result: 'success' }
          : { result: 'failure', reasonCode: 0x86, reason: 'authentication failed' },
      );
    }
    expect(seen.get('legacy')).not.toBe(seen.get('nobody'));
  });

  it('channel binding: p= refused (0x87), y,, accepted; other malformed messages refused', async () => {
    const h = harness();
    await addUser(h, 'alice', await hashScramPassword(pw('pw')));
    const refusal = await h.method.start(request('p=tls-unique,,n=alice,r=abc'));
    expect(refusal).toMatchObject({
      result: 'failure',
      reasonCode: 0x87,
      reason: expect.stringMatching(/channel binding/),
    });
    expect((await exchange(h, 'alice', 'pw', { gs2Header: 'y,,' })).answer).toMatchObject({
      result: 'success',
    });
    for (const bad of [
      '',
      'x,,n=alice,r=abc',
      'n,,m=ext,n=alice,r=abc',
      'n,,n=al=ice,r=abc',
      'n,,r=abc',
      'n,a=bob,n=alice,r=abc',
    ]) {
      expect(await h.method.start(request(bad)), bad).toMatchObject({ result: 'failure', reasonCode: 0x87 });
    }
    const req = request('n,,n=alice,r=abc');
    const first = await h.method.start(req);
    if (first.result !== 'continue') throw new Error('expected continue');
    const nonce = first.data!.toString().split(',')[0]!.slice(2);
    const proof = Buffer.alloc(32).toString('base64');
    for (const [final, reason] of [
      [`c=eSws,r=${nonce},p=${proof}`, 'channel binding does not match the gs2 header'],
      [`c=biws,r=${nonce}x,p=${proof}`, 'nonce does not match'],
      [`c=biws,r=${nonce}`, 'no proof'],
    ] as const) {
      expect(h.method.step(first.state, Buffer.from(final), req)).toMatchObject({
        result: 'failure',
        reason,
      });
    }
  });

  it("the CONNECT's user name must be SCRAM's; a user name with , and = is escaped", async () => {
    const h = harness();
    await addUser(h, 'a,b=c', await hashScramPassword(pw('pw')));
    const client = scramClient('a,b=c', 'pw');
    expect(client.first.toString()).toBe(`n,,n=a=2Cb=3Dc,${client.first.toString().split(',').at(-1)}`);
    expect(await h.method.start(request(client.first, 'other'))).toEqual({
      result: 'failure',
      reasonCode: 0x86,
      reason: 'SCRAM user is not the user name',
    });
    expect((await exchange(h, 'a,b=c', 'pw', { connectUsername: 'a,b=c' })).answer).toMatchObject({
      result: 'success',
      username: 'a,b=c',
    });
  });
});

describe('SCRAM-SHA-256 through StoreAuth', () => {
  const running: StoreAuth[] = [];
  afterEach(() => {
    for (const auth of running.splice(0)) auth.stop();
  });

  it('is offered by the hooks; failures count as failed logins and delay the address', async () => {
    const store = new MemoryStore();
    await store.open();
    await store.saveUser({ username: 'alice', passwordHash: await hashScramPassword(pw('pw')) });
    const auth = new StoreAuth(store, {
      allowAnonymous: undefined,
      failureDelayMs: 300,
      maxFailureDelayMs: 300,
      pollIntervalMs: 10,
      logger: pino({ level: 'silent' }),
    });
    await auth.start();
    running.push(auth);
    const method = auth.hooks().authMethods[SCRAM_SHA_256]!;
    const client = scramClient('alice', 'bad');
    const req = request(client.first);
    const first = await method.start(req);
    if (first.result !== 'continue') throw new Error('expected continue');
    expect(await method.step(first.state, client.final(first.data!), req)).toMatchObject({
      reasonCode: 0x86,
    });
    expect(auth.loginFailures).toBe(1);
    // The next attempt from that address waits out the delay before its server-first.
    const startedAt = Date.now();
    await method.start(request(scramClient('alice', 'pw').first));
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(250);
    // A plain CONNECT password still logs the SCRAM user in.
    expect(
      await auth.hooks().authenticate({
        clientId: 'c',
        username: 'alice',
        password: pw('pw'),
        remoteAddress: '10.0.0.1:1',
        protocolVersion: 5,
        identity: undefined,
      }),
    ).toBe(true);
  });
});
