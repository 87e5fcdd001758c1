import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cliPath, startTestBroker, type TestBroker } from './helpers.js';
import { connectClient, makeTestCerts, startWithListeners, type TestCerts } from './listener-harness.js';
import { type StoreName, type StoreUnderTest, storeUnderTest } from './persistence-harness.js';

/** Runs `mqtt-adapt ARGS` to its end with `input` on stdin (the admin commands read passwords there). */
function admin(
  args: readonly string[],
  input = '',
): { status: number | null; stdout: string; stderr: string } {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('MQTT_ADAPT_') && name !== 'DATABASE_URL',
    ),
  );
  const run = spawnSync(process.execPath, [cliPath, ...args], {
    input,
    env,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Connects, or resolves with the CONNACK refusal code (MQTT.js puts it on the error). */
async function tryConnect(
  url: string,
  options: Parameters<typeof connectClient>[1],
): Promise<MqttClient | number> {
  try {
    return await connectClient(url, options);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    throw error;
  }
}

async function expectRefused(
  url: string,
  options: Parameters<typeof connectClient>[1],
  code: number,
): Promise<void> {
  const result = await tryConnect(url, options);
  if (typeof result !== 'number') result.end(true);
  expect(result).toBe(code);
}

/** Waits for `check` to hold (the broker polls the store once a second). */
async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function nextMessages(client: MqttClient, count: number, timeoutMs = 1500): Promise<string[]> {
  const got: string[] = [];
  return new Promise((resolve) => {
    const onMessage = (topic: string, payload: Buffer) => {
      got.push(`${topic}=${payload.toString()}`);
      if (got.length === count) done();
    };
    const done = () => {
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve(got);
    };
    const timer = setTimeout(done, timeoutMs);
    client.on('message', onMessage);
  });
}

beforeAll(() => assertBuilt());

describe.each<StoreName>(['sqlite', 'postgres'])('users and ACL rules from the %s store', (storeName) => {
  let store: StoreUnderTest;
  let broker: TestBroker | undefined;
  let scratch: string;
  const clients: MqttClient[] = [];
  const keep = (client: MqttClient): MqttClient => {
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    store = await storeUnderTest(storeName);
    scratch = mkdtempSync(join(tmpdir(), 'mqtt-adapt-auth-'));
  });

  afterAll(async () => {
    for (const client of clients) client.end(true);
    await broker?.stop('SIGTERM');
    await store.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('user add/list from the command line, then logins: right, wrong, unknown, anonymous', async () => {
    const added = admin(['user', 'add', 'alice', '--password-stdin', ...store.args], 'wonderland\n');
    expect(added).toMatchObject({ status: 0, stdout: 'added user "alice"\n' });
    expect(admin(['user', 'add', 'alice', '--password-stdin', ...store.args], 'x').stderr).toMatch(/exists/);
    expect(admin(['user', 'list', ...store.args]).stdout).toBe('alice\tscrypt\n');
    broker = await startTestBroker({ args: [...store.args, '--auth-failure-delay-ms', '0'] });
    keep(await connectClient(broker.url, { username: 'alice', password: 'wonderland', clientId: 'a1' }));
    await expectRefused(broker.url, { username: 'alice', password: 'wrong', clientId: 'a2' }, 4);
    await expectRefused(broker.url, { username: 'nobody', password: 'x', clientId: 'a3' }, 4);
    // A user exists, so anonymous clients are refused ("not authorized"), as configured by default.
    await expectRefused(broker.url, { clientId: 'a4' }, 5);
    await expectRefused(broker.url, { clientId: 'a5', protocolVersion: 5 }, 0x87);
  });

  it('a user added while the broker runs can log in within a second or two; a removed one cannot', async () => {
    const url = broker!.url;
    await expectRefused(url, { username: 'bob', password: 'builder', clientId: 'b1' }, 4);
    expect(admin(['user', 'add', 'bob', '--password-stdin', ...store.args], 'builder').status).toBe(0);
    await eventually(async () => {
      const result = await tryConnect(url, { username: 'bob', password: 'builder', clientId: 'b2' });
      if (typeof result === 'number') return false;
      result.end(true);
      return true;
    });
    expect(admin(['user', 'remove', 'bob', ...store.args]).status).toBe(0);
    await expectRefused(url, { username: 'bob', password: 'builder', clientId: 'b3' }, 4);
  });

  it('Mosquitto password and ACL files import; hashes are kept, then rehashed at login', async () => {
    const passwd = join(scratch, 'passwd');
    execFileSync('mosquitto_passwd', ['-b', '-c', passwd, 'carol', 'c4rol']);
    execFileSync('mosquitto_passwd', ['-b', passwd, 'dave', 'd4ve']);
    const imported = admin(['user', 'import', '--mosquitto-passwd', passwd, ...store.args]);
    expect(imported.status).toBe(0);
    expect(admin(['user', 'list', ...store.args]).stdout).toContain('carol\tmosquitto-pbkdf2-sha512');
    const acl = join(scratch, 'acl');
    writeFileSync(
      acl,
      [
        'user carol',
        'topic readwrite carol/#',
        'topic deny carol/secret',
        'topic read news/#',
        'user dave',
        'topic write news/#',
        'pattern readwrite devices/%c/#',
        'pattern read inbox/%u',
      ].join('\n'),
    );
    expect(admin(['acl', 'import', '--mosquitto-acl', acl, ...store.args]).stdout).toMatch(
      /imported 6 ACL rules/,
    );
    expect(
      admin(['acl', 'list', ...store.args])
        .stdout.trim()
        .split('\n'),
    ).toHaveLength(6);
    await eventually(async () => {
      const result = await tryConnect(broker!.url, {
        username: 'carol',
        password: 'c4rol',
        clientId: 'c-probe',
      });
      if (typeof result === 'number') return false;
      result.end(true);
      return true;
    });
    await eventually(async () => admin(['user', 'list', ...store.args]).stdout.includes('carol\tscrypt'));
    // Logins read the store directly; the compiled rules follow at the next poll (within a second).
    await eventually(async () => {
      const probe = await connectClient(broker!.url, {
        username: 'carol',
        password: 'c4rol',
        clientId: 'c-rules',
      });
      const refused = await probe.subscribeAsync('dave/#', { qos: 1 }).then(
        () => false,
        () => true,
      );
      probe.end(true);
      return refused;
    });
  });

  it('ACL: denied subscribe gets 0x80, denied publish is acked but not delivered, %u/%c, retained and wildcards filtered', async () => {
    const url = broker!.url;
    const carol = keep(
      await connectClient(url, { username: 'carol', password: 'c4rol', clientId: 'carol-1' }),
    );
    const dave = keep(await connectClient(url, { username: 'dave', password: 'd4ve', clientId: 'dave-1' }));
    // Subscriptions: allowed, denied, and a wide one that only receives what carol may read.
    expect((await carol.subscribeAsync('carol/#', { qos: 1 }))[0]?.qos).toBe(1);
    // MQTT.js rejects a SUBACK holding a failure code: 0x80 for dave/#.
    const refused = await carol.subscribeAsync('dave/#', { qos: 1 }).catch((error: unknown) => error);
    expect((refused as { packet?: { granted?: number[] } }).packet?.granted).toEqual([0x80]);
    expect((await carol.subscribeAsync('#', { qos: 1 }))[0]?.qos).toBe(1);
    const carolGets = nextMessages(carol, 10);
    await dave.publishAsync('news/today', 'headline', { qos: 1 });
    await dave.publishAsync('carol/x', 'not dave to write', { qos: 1 }); // acked, dropped
    await dave.publishAsync('devices/dave-1/t', 'own device', { qos: 1, retain: true });
    await carol.publishAsync('carol/secret', 'denied to carol', { qos: 1 });
    await carol.publishAsync('carol/open', 'mine', { qos: 1, retain: true });
    const got = await carolGets;
    // Through '#' and 'carol/#' carol gets news (read), her own open topic once; never the
    // denied secret, dave's device topic (%c is per client) or what dave may not write.
    expect(got.sort()).toEqual(['carol/open=mine', 'news/today=headline']);
    // Retained messages on subscribe are filtered the same way.
    const late = keep(
      await connectClient(url, { username: 'carol', password: 'c4rol', clientId: 'carol-2' }),
    );
    const lateGets = nextMessages(late, 5);
    await late.subscribeAsync('#', { qos: 1 });
    expect((await lateGets).sort()).toEqual(['carol/open=mine']);
    // %c: dave's own device topic is his to read back.
    const daveGets = nextMessages(dave, 1);
    await dave.subscribeAsync('devices/dave-1/#', { qos: 1 });
    expect(await daveGets).toEqual(['devices/dave-1/t=own device']);
  });

  it('$SYS is readable only by clients an ACL rule lets read it', async () => {
    const url = broker!.url;
    const carol = keep(
      await connectClient(url, { username: 'carol', password: 'c4rol', clientId: 'carol-sys' }),
    );
    const refused = await carol.subscribeAsync('$SYS/#', { qos: 0 }).catch((error: unknown) => error);
    expect((refused as { packet?: { granted?: number[] } }).packet?.granted).toEqual([0x80]);
    expect(
      admin(['acl', 'add', 'allow', 'subscribe', '$SYS/broker/#', '--user', 'carol', ...store.args]).status,
    ).toBe(0);
    await eventually(async () => {
      const probe = await connectClient(url, {
        username: 'carol',
        password: 'c4rol',
        clientId: 'carol-sys-2',
      });
      const gets = nextMessages(probe, 1, 1000);
      const granted = await probe.subscribeAsync('$SYS/broker/uptime', { qos: 0 }).then(
        (result) => result[0]?.qos,
        () => undefined,
      );
      const got = await gets;
      probe.end(true);
      return granted === 0 && got.length === 1 && got[0]!.startsWith('$SYS/broker/uptime=');
    });
    // dave has no such rule: still refused.
    const dave = keep(await connectClient(url, { username: 'dave', password: 'd4ve', clientId: 'dave-sys' }));
    const daveRefused = await dave
      .subscribeAsync('$SYS/broker/uptime', { qos: 0 })
      .catch((error: unknown) => error);
    expect((daveRefused as { packet?: { granted?: number[] } }).packet?.granted).toEqual([0x80]);
  });
});

describe('client certificates as user names (useIdentityAsUsername)', () => {
  let certs: TestCerts;
  let dir: string;

  beforeAll(() => {
    certs = makeTestCerts();
    dir = mkdtempSync(join(tmpdir(), 'mqtt-adapt-identity-'));
  });

  afterAll(() => {
    certs.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the certificate's CN logs in without a password and its ACL rules apply", async () => {
    const listeners = [
      { type: 'tcp', host: '127.0.0.1', port: 0 },
      {
        type: 'tls',
        host: '127.0.0.1',
        port: 0,
        cert: certs.serverCert,
        key: certs.serverKey,
        ca: certs.caCert,
        requestCert: true,
        useIdentityAsUsername: true,
      },
    ];
    const started = await startWithListeners(dir, listeners, ['--allow-anonymous', 'false']);
    try {
      const device = await connectClient(`mqtts://127.0.0.1:${started.ports[1]}`, {
        ca: certs.read(certs.caCert),
        cert: certs.read(certs.clientCert),
        key: certs.read(certs.clientKey),
        clientId: 'cert-client',
      });
      device.end(true);
      // On the plain listener the same client, without certificate and password, is refused.
      await expectRefused(`mqtt://127.0.0.1:${started.ports[0]}`, { username: 'device-1', clientId: 'x' }, 4);
      const connected = started.broker.lines.find(
        (line) => line.msg === 'client connected' && line.clientId === 'cert-client',
      );
      expect(connected?.username).toBe('device-1');
    } finally {
      await started.broker.stop('SIGTERM');
    }
  });
});
