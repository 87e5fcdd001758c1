import { createHmac, randomBytes } from 'node:crypto';
import type {
  EnhancedAuthAnswer,
  EnhancedAuthMethod,
  EnhancedAuthRequest,
  UserRecord,
} from '@mqtt-adapt/router';
import { defaultScramIterations, scramCredentials } from './password-hash.js';
import {
  expectedChannelBinding,
  parseClientFinal,
  parseClientFirst,
  type ScramCredentials,
  ScramError,
  serverFirstMessage,
  verifyClientProof,
} from './scram.js';

/** The Authentication Method name clients put in CONNECT (RFC 7677's SASL mechanism name). */
export const SCRAM_SHA_256 = 'SCRAM-SHA-256';

/** 5.0 reason codes of a refused SCRAM login. */
const BAD_USER_NAME_OR_PASSWORD = 0x86;
const NOT_AUTHORIZED = 0x87;

/** What the SCRAM method needs from the broker's authentication. */
export interface ScramContext {
  getUser(username: string): Promise<UserRecord | undefined>;
  /** Waits out the delay a failed login put on `remoteAddress`'s next attempt. */
  waitTurn(remoteAddress: string): Promise<void>;
  /** A login ended: counted, logged and delayed like a plain CONNECT's. */
  settled(request: EnhancedAuthRequest, username: string | undefined, succeeded: boolean): void;
}

export interface ScramOptions {
  /** The server's part of the nonce. Default: 18 random bytes in base64. */
  readonly nonce?: () => string;
}

/** One exchange between the server-first and the client-final message. */
interface ScramState {
  readonly username: string;
  readonly gs2Header: string;
  readonly nonce: string;
  /** client-first-message-bare "," server-first-message, the start of the AuthMessage. */
  readonly firstMessages: string;
  readonly credentials: ScramCredentials;
  /** False for an unknown user or one without SCRAM credentials: the exchange runs, then fails. */
  readonly usable: boolean;
}

/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) as an MQTT 5.0 enhanced authentication method, against
 * the users of the store: CONNECT carries the client-first-message, AUTH 0x18 the server-first,
 * the client answers with the client-final, and CONNACK carries the server-final (`v=`). Only
 * users hashed with `--hash scram-sha-256` can succeed; for any other user, and for unknown
 * ones, the exchange runs to its end with a salt derived from the name (RFC 5802 §9) and fails
 * with 0x86, so a client cannot tell whether a user exists. No channel binding: a `p=` gs2
 * header is refused, `n` and `y` are accepted.
 */
export class ScramSha256Method implements EnhancedAuthMethod<ScramState> {
  /** Key of the fake salts: per process, so they are stable while it runs. */
  private readonly fakeSaltKey = randomBytes(32);
  private readonly nonce: () => string;

  constructor(
    private readonly context: ScramContext,
    options: ScramOptions = {},
  ) {
    this.nonce = options.nonce ?? (() => randomBytes(18).toString('base64'));
  }

  async start(request: EnhancedAuthRequest): Promise<EnhancedAuthAnswer<ScramState>> {
    let first: ReturnType<typeof parseClientFirst>;
    try {
      first = parseClientFirst(request.authenticationData);
    } catch (error) {
      if (!(error instanceof ScramError)) throw error;
      return this.refused(request, undefined, NOT_AUTHORIZED, error.message);
    }
    // The CONNECT's user name (or a re-authenticating connection's), when there is one, is SCRAM's.
    if (request.username !== undefined && request.username !== first.username) {
      return this.refused(
        request,
        first.username,
        BAD_USER_NAME_OR_PASSWORD,
        'SCRAM user is not the user name',
      );
    }
    await this.context.waitTurn(request.remoteAddress);
    const user = await this.context.getUser(first.username);
    const stored = user === undefined ? undefined : scramCredentials(user.passwordHash);
    const credentials = stored ?? this.fakeCredentials(first.username);
    const nonce = first.clientNonce + this.nonce();
    const serverFirst = serverFirstMessage(nonce, credentials.salt, credentials.iterations);
    return {
      result: 'continue',
      data: Buffer.from(serverFirst, 'utf8'),
      state: {
        username: first.username,
        gs2Header: first.gs2Header,
        nonce,
        firstMessages: `${first.bare},${serverFirst}`,
        credentials,
        usable: stored !== undefined,
      },
    };
  }

  step(
    state: ScramState,
    data: Buffer | undefined,
    request: EnhancedAuthRequest,
  ): EnhancedAuthAnswer<ScramState> {
    let final: ReturnType<typeof parseClientFinal>;
    try {
      final = parseClientFinal(data);
    } catch (error) {
      if (!(error instanceof ScramError)) throw error;
      return this.refused(request, state.username, NOT_AUTHORIZED, error.message);
    }
    if (final.channelBinding !== expectedChannelBinding(state.gs2Header)) {
      return this.refused(
        request,
        state.username,
        NOT_AUTHORIZED,
        'channel binding does not match the gs2 header',
      );
    }
    if (final.nonce !== state.nonce) {
      return this.refused(request, state.username, NOT_AUTHORIZED, 'nonce does not match');
    }
    const authMessage = `${state.firstMessages},${final.withoutProof}`;
    const serverFinal = verifyClientProof(state.credentials, authMessage, final.proof);
    if (serverFinal === undefined || !state.usable) {
      return this.refused(request, state.username, BAD_USER_NAME_OR_PASSWORD, 'authentication failed');
    }
    this.context.settled(request, state.username, true);
    return { result: 'success', data: Buffer.from(serverFinal, 'utf8'), username: state.username };
  }

  private refused(
    request: EnhancedAuthRequest,
    username: string | undefined,
    reasonCode: number,
    reason: string,
  ): EnhancedAuthAnswer<ScramState> {
    this.context.settled(request, username, false);
    return { result: 'failure', reasonCode, reason };
  }

  /** Credentials no password matches, with a salt stable per user name (RFC 5802 §9). */
  private fakeCredentials(username: string): ScramCredentials {
    const mac = (label: string) =>
      createHmac('sha256', this.fakeSaltKey).update(label).update(username).digest();
    return {
      iterations: defaultScramIterations,
      salt: mac('salt\0').subarray(0, 16),
      storedKey: mac('stored\0'),
      serverKey: mac('server\0'),
    };
  }
}
