import type {
  AuthenticateRequest,
  AuthenticateResult,
  BrokerHooks,
  ClientInfo,
  Store,
} from '@mqtt-adapt/router';
import { hostOf } from '@mqtt-adapt/router';
import type { Logger } from 'pino';
import { Acl, type ClientAcl } from './acl.js';
import { FailureDelays } from './failure-delays.js';
import { defaultScryptParams, hashPassword, type ScryptParams, verifyPassword } from './password-hash.js';
import { SCRAM_SHA_256, ScramSha256Method } from './scram-method.js';
import { VerifiedLogins } from './verified-logins.js';

/** The last client a hook saw and its ACL view. */
interface ViewMemo {
  client: ClientInfo | undefined;
  view: ClientAcl | undefined;
}

/** 5.0 reason codes the router maps to 3.x return codes 4 and 5. */
const BAD_USER_NAME_OR_PASSWORD = 0x86;
const NOT_AUTHORIZED = 0x87;

export interface StoreAuthOptions {
  /**
   * Whether clients without a user name may connect. `undefined`: yes while the store holds no
   * user, no once it holds one.
   */
  readonly allowAnonymous: boolean | undefined;
  /** Base delay after a failed login from one address; doubles per failure. */
  readonly failureDelayMs: number;
  /** Longest delay; failures older than ten times this are forgotten. */
  readonly maxFailureDelayMs: number;
  /** Cost of new hashes; users hashed more cheaply are rehashed at their next login. */
  readonly scrypt?: ScryptParams;
  /** How often the store's `authVersion()` is polled for users and rules changed elsewhere. */
  readonly pollIntervalMs?: number;
  readonly logger: Logger;
}

/**
 * Users and ACL rules from the broker's store, as router hooks. Passwords are checked against
 * the stored hash (scrypt, or an imported Mosquitto hash, rehashed at the next login); failed
 * logins from one address wait longer each time, without slowing anyone else. ACL rules are
 * compiled once (see `Acl`) and reloaded when another process (the `user`/`acl` commands)
 * changes them: the store's `authVersion()` is polled every second.
 */
export class StoreAuth {
  /** Refused logins (bad password, unknown user, anonymous not allowed), for the metrics. */
  loginFailures = 0;
  private acl = new Acl([]);
  private userCount = 0;
  private version = -1;
  private timer: NodeJS.Timeout | undefined = undefined;
  private polling = false;
  private readonly clients = new WeakMap<ClientInfo, ClientAcl>();
  private readonly publisherMemo: ViewMemo = { client: undefined, view: undefined };
  private readonly readerMemo: ViewMemo = { client: undefined, view: undefined };
  private readonly delays: FailureDelays;
  private readonly verified = new VerifiedLogins();
  private readonly scrypt: ScryptParams;
  /** 5.0 enhanced authentication by SCRAM-SHA-256 against the same users, delays and counters. */
  private readonly scram: ScramSha256Method;
  /** A hash to check unknown users against, so their answer takes as long as a known user's. */
  private decoyHash: Promise<string> | undefined = undefined;

  constructor(
    private readonly store: Store,
    private readonly options: StoreAuthOptions,
  ) {
    this.delays = new FailureDelays(options.failureDelayMs, options.maxFailureDelayMs);
    this.scrypt = options.scrypt ?? defaultScryptParams;
    this.scram = new ScramSha256Method({
      getUser: (username) => this.store.getUser(username),
      waitTurn: (remoteAddress) => this.delays.wait(hostOf(remoteAddress)),
      settled: (request, username, succeeded) => {
        const who = {
          clientId: request.clientId,
          username: username ?? request.username,
          remoteAddress: request.remoteAddress,
        };
        this.settled(who, hostOf(request.remoteAddress), succeeded ? true : BAD_USER_NAME_OR_PASSWORD);
      },
    });
  }

  /** Loads users and rules (call after the store is open) and starts watching for changes. */
  async start(): Promise<void> {
    await this.reloadIfChanged();
    if (this.options.allowAnonymous === undefined && this.userCount === 0) {
      this.options.logger.warn(
        'no users in the store: anonymous clients are allowed until a user is added (mqtt-adapt user add NAME), or set --allow-anonymous',
      );
    }
    const interval = this.options.pollIntervalMs ?? 1000;
    this.timer = setInterval(() => void this.poll(), interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Whether an anonymous client may connect now. */
  get anonymousAllowed(): boolean {
    return this.options.allowAnonymous ?? this.userCount === 0;
  }

  /**
   * The router hooks. `authorizeRead` answers from the compiled ACL, synchronously;
   * `authMethods` offers SCRAM-SHA-256 to 5.0 clients.
   */
  hooks(): Required<
    Pick<
      BrokerHooks,
      'authenticate' | 'authMethods' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeRead'
    >
  > {
    return {
      authenticate: (request) => this.authenticate(request),
      authMethods: { [SCRAM_SHA_256]: this.scram },
      // No rule at all: everything is allowed, without a per-client lookup per message.
      authorizePublish: (client, topicName) =>
        this.acl.ruleCount === 0 || this.memoView(this.publisherMemo, client).mayPublish(topicName),
      authorizeSubscribe: (client, topicFilter) =>
        this.acl.ruleCount === 0 || this.forClient(client).maySubscribe(topicFilter),
      authorizeRead: (client, topicName) =>
        this.acl.ruleCount === 0 || this.memoView(this.readerMemo, client).mayRead(topicName),
    };
  }

  private authenticate(request: AuthenticateRequest): AuthenticateResult | Promise<AuthenticateResult> {
    const address = hostOf(request.remoteAddress);
    // No password to check and nothing to wait for: answer at once, no promise per connect.
    if (
      (request.identity !== undefined || request.username === undefined) &&
      this.delays.delayFor(address) === 0
    ) {
      // A verified client certificate (useIdentityAsUsername) is the credential itself.
      const result = request.identity !== undefined || this.anonymousAllowed ? true : NOT_AUTHORIZED;
      return this.settled(request, address, result);
    }
    return this.authenticateLater(request, address);
  }

  private async authenticateLater(
    request: AuthenticateRequest,
    address: string,
  ): Promise<AuthenticateResult> {
    await this.delays.wait(address);
    return this.settled(request, address, await this.check(request));
  }

  private settled(
    request: Pick<AuthenticateRequest, 'clientId' | 'username' | 'remoteAddress'>,
    address: string,
    result: AuthenticateResult,
  ): AuthenticateResult {
    if (result === true) this.delays.succeeded(address);
    else {
      this.loginFailures++;
      this.delays.failed(address);
      this.options.logger.info(
        { clientId: request.clientId, username: request.username, remoteAddress: request.remoteAddress },
        'login refused',
      );
    }
    return result;
  }

  private async check({ username, password, identity }: AuthenticateRequest): Promise<AuthenticateResult> {
    if (identity !== undefined) return true;
    if (username === undefined) return this.anonymousAllowed ? true : NOT_AUTHORIZED;
    const user = await this.store.getUser(username);
    const given = password ?? Buffer.alloc(0);
    if (user === undefined) {
      // Spend the time a real check would: whether a user exists is not for the asking.
      this.decoyHash ??= hashPassword(Buffer.from('decoy'), this.scrypt);
      await verifyPassword(await this.decoyHash, given, this.scrypt);
      return BAD_USER_NAME_OR_PASSWORD;
    }
    // A reconnect with credentials already verified against this stored hash: no scrypt again.
    if (this.verified.has(username, user.passwordHash, given)) return true;
    const check = await verifyPassword(user.passwordHash, given, this.scrypt);
    if (!check.valid) return BAD_USER_NAME_OR_PASSWORD;
    if (check.needsRehash) void this.rehash(username, given);
    else this.verified.remember(username, user.passwordHash, given);
    return true;
  }

  /** Stores a hash at today's cost for a user who logged in with an older one. */
  private async rehash(username: string, password: Buffer): Promise<void> {
    try {
      await this.store.saveUser({ username, passwordHash: await hashPassword(password, this.scrypt) });
      this.options.logger.info({ username }, 'password rehashed with the current parameters');
    } catch (error) {
      this.options.logger.warn({ username, err: error }, 'rehashing a password failed; the old hash stays');
    }
  }

  private forClient(client: ClientInfo): ClientAcl {
    let view = this.clients.get(client);
    if (view === undefined || view.acl !== this.acl) {
      view = this.acl.forClient(client.username, client.clientId);
      this.clients.set(client, view);
    }
    return view;
  }

  /**
   * `forClient` behind a one-entry memo per hook (`slot`): the publishes of one socket chunk come
   * from one client, and a fan-in's deliveries go to one subscriber, so most calls skip the
   * WeakMap.
   */
  private memoView(slot: ViewMemo, client: ClientInfo): ClientAcl {
    const view = slot.client === client ? slot.view : undefined;
    if (view !== undefined && view.acl === this.acl) return view;
    slot.client = client;
    slot.view = this.forClient(client);
    return slot.view;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await this.reloadIfChanged();
    } catch (error) {
      this.options.logger.warn(
        { err: error },
        'reading users and ACL rules from the store failed; keeping the ones loaded',
      );
    } finally {
      this.polling = false;
    }
  }

  private async reloadIfChanged(): Promise<void> {
    // The version first: a change landing while rules are read shows up at the next poll.
    const version = await this.store.authVersion();
    if (version === this.version) return;
    const [rules, users] = await Promise.all([this.store.listAclRules(), this.store.listUsers()]);
    const acl = new Acl(rules);
    for (const rule of acl.invalidRules) {
      this.options.logger.warn(
        { topicFilter: rule.topicFilter },
        'ACL rule with an invalid topic filter ignored',
      );
    }
    this.acl = acl;
    this.userCount = users.length;
    if (this.version !== -1) {
      this.options.logger.info(
        { users: users.length, aclRules: acl.ruleCount },
        'users and ACL rules reloaded',
      );
    }
    this.version = version;
  }
}
