import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config.js';
import { REDACTED, redactSecrets } from '../src/redact.js';

describe('redactSecrets', () => {
  it('replaces the values of secret-named keys, at any depth', () => {
    const input = {
      listeners: [{ type: 'tls', passphrase: 'hunter2', certFile: '/etc/cert.pem' }],
      auth: { users: [{ username: 'alice', password: 's3cret' }], apiToken: 'abc', clientSecret: 'x' },
      bridge: { privateKey: 'k' },
    };
    expect(redactSecrets(input)).toEqual({
      listeners: [{ type: 'tls', passphrase: REDACTED, certFile: '/etc/cert.pem' }],
      auth: {
        users: [{ username: 'alice', password: REDACTED }],
        apiToken: REDACTED,
        clientSecret: REDACTED,
      },
      bridge: { privateKey: REDACTED },
    });
  });

  it('replaces the password inside URLs and keeps the rest', () => {
    expect(
      redactSecrets({
        store: { url: 'postgres://mqtt:pa55@db.local:5432/mqtt' },
        mq: ['amqp://guest:guest@127.0.0.1:5672/', 'nats://127.0.0.1:4222', 'redis://:only-pass@127.0.0.1'],
      }),
    ).toEqual({
      store: { url: `postgres://mqtt:${REDACTED}@db.local:5432/mqtt` },
      mq: [
        `amqp://guest:${REDACTED}@127.0.0.1:5672/`,
        'nats://127.0.0.1:4222',
        `redis://:${REDACTED}@127.0.0.1`,
      ],
    });
  });

  it('does not modify its input and keeps empty secrets empty', () => {
    const input = { password: '', nested: { token: 'x' } };
    const output = redactSecrets(input);
    expect(input.nested.token).toBe('x');
    expect(output).toEqual({ password: '', nested: { token: REDACTED } });
  });

  it("leaves today's config untouched: it holds no secrets yet", () => {
    const config = resolveConfig({});
    expect(redactSecrets(config)).toEqual(config);
  });
});
