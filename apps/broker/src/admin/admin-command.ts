import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { AclRule, Store } from '@mqtt-adapt/router';
import pino from 'pino';
import { isUsableFilter } from '../auth/acl.js';
import { parseMosquittoAcl, parseMosquittoPasswd } from '../auth/mosquitto-files.js';
import { HASH_SCHEMES, hashScheme, hashWith, type NewHashScheme } from '../auth/password-hash.js';
import { brokerFlagOptions, parseCliArgs } from '../cli-options.js';
import type { BrokerConfig } from '../config.js';
import { isBrokerAppError } from '../errors.js';
import { loadConfig } from '../load-config.js';
import { createStore, storeUnavailable } from '../store-factory.js';
import { type AdminIo, promptHidden, readPasswordFromStdin } from './read-password.js';

/** A mistake in the command line (exit 2) or a failed operation (exit 1), as one line. */
class AdminError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

const usage = (message: string): AdminError => new AdminError(message, 2);
const failure = (message: string): AdminError => new AdminError(message, 1);

/** Flags of the admin commands, beside the broker's own (store flags, `-c`). */
const adminFlags = {
  'password-stdin': { type: 'boolean' },
  'mosquitto-passwd': { type: 'string' },
  'mosquitto-acl': { type: 'string' },
  user: { type: 'string' },
  anonymous: { type: 'boolean' },
  hash: { type: 'string' },
} as const;

interface AdminArgs {
  readonly words: string[];
  readonly passwordStdin: boolean;
  readonly mosquittoPasswd: string | undefined;
  readonly mosquittoAcl: string | undefined;
  readonly user: string | undefined;
  readonly anonymous: boolean;
  /** `user add|passwd --hash`: the scheme of the new hash. */
  readonly hash: NewHashScheme;
  /** The broker flags, for the store the broker uses. */
  readonly configArgv: string[];
}

export const ADMIN_COMMANDS = ['user', 'acl'] as const;

/**
 * `mqtt-adapt user add|passwd|remove|list|import` and `mqtt-adapt acl add|remove|list|import`,
 * against the store the broker uses (the same `--store`, `--data-dir`, `--database-url`, config
 * file and environment), also while the broker runs: it picks changes up within a second.
 * Returns the exit code: 0 done, 1 failed, 2 bad command line.
 */
export async function runAdminCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: AdminIo,
  cwd = process.cwd(),
): Promise<number> {
  let store: Store | undefined;
  try {
    const args = parseAdminArgs(argv);
    const config = loadConfig(parseCliArgs(args.configArgv), env, cwd).config;
    if (config.store.type === 'memory') {
      throw usage(
        'users and ACL rules need a durable store: pass --store sqlite (default) or --store postgres',
      );
    }
    store = await openStore(config);
    await dispatch(args, store, io);
    return 0;
  } catch (error) {
    if (error instanceof AdminError) {
      io.stderr.write(`${error.message}\n`);
      return error.exitCode;
    }
    if (isBrokerAppError(error)) {
      io.stderr.write(`${error.message}\n`);
      return error.code === 'BROKER_CONFIG_INVALID' ? 2 : 1;
    }
    throw error;
  } finally {
    await store?.close();
  }
}

async function openStore(config: BrokerConfig): Promise<Store> {
  const store = createStore(config, pino({ level: 'silent' }));
  try {
    await store.open();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw storeUnavailable(config, error as never, store);
  }
  return store;
}

function parseAdminArgs(argv: readonly string[]): AdminArgs {
  // The broker's own flags (store, config file) go through to its parser untouched.
  const options = { ...brokerFlagOptions(), ...adminFlags };
  const { tokens } = parseArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const words: string[] = [];
  const configArgv: string[] = [];
  const values = new Map<string, string | true>();
  for (const token of tokens) {
    if (token.kind === 'positional') words.push(token.value);
    else if (token.kind === 'option') {
      if (token.name in adminFlags) values.set(token.name, token.value ?? true);
      else configArgv.push(token.value === undefined ? token.rawName : `${token.rawName}=${token.value}`);
    }
  }
  const text = (name: string): string | undefined => {
    const value = values.get(name);
    if (value === true) throw usage(`--${name} needs a value`);
    return value;
  };
  return {
    words,
    passwordStdin: values.get('password-stdin') === true,
    mosquittoPasswd: text('mosquitto-passwd'),
    mosquittoAcl: text('mosquitto-acl'),
    user: text('user'),
    anonymous: values.get('anonymous') === true,
    hash: hashSchemeOf(text('hash')),
    configArgv,
  };
}

function hashSchemeOf(value: string | undefined): NewHashScheme {
  if (value === undefined) return 'scrypt';
  if (!(HASH_SCHEMES as readonly string[]).includes(value)) {
    throw usage(`--hash ${value} is not a hash scheme; use --hash scrypt (default) or --hash scram-sha-256`);
  }
  return value as NewHashScheme;
}

async function dispatch(args: AdminArgs, store: Store, io: AdminIo): Promise<void> {
  const [noun, verb, ...rest] = args.words;
  const command = `${noun} ${verb ?? ''}`.trim();
  switch (command) {
    case 'user add':
      return addUser(store, io, args, one(rest, 'user add NAME'), false);
    case 'user passwd':
      return addUser(store, io, args, one(rest, 'user passwd NAME'), true);
    case 'user remove': {
      const name = one(rest, 'user remove NAME');
      if ((await store.getUser(name)) === undefined) throw failure(`no user "${name}"`);
      await store.deleteUser(name);
      return say(io, `removed user "${name}"`);
    }
    case 'user list': {
      for (const user of await store.listUsers()) {
        say(io, `${user.username}\t${hashScheme(user.passwordHash) ?? 'unknown'}`);
      }
      return;
    }
    case 'user import':
      return importUsers(store, io, args.mosquittoPasswd);
    case 'acl add':
      return addRule(store, io, args, rest);
    case 'acl remove': {
      const id = one(rest, 'acl remove ID');
      if (!(await store.listAclRules()).some((rule) => rule.id === id)) throw failure(`no ACL rule "${id}"`);
      await store.deleteAclRule(id);
      return say(io, `removed ACL rule ${id}`);
    }
    case 'acl list': {
      for (const rule of await store.listAclRules()) say(io, describeRule(rule));
      return;
    }
    case 'acl import':
      return importRules(store, io, args.mosquittoAcl);
    default:
      throw usage(
        `unknown command "${command}"; use user add|passwd|remove|list|import or acl add|remove|list|import`,
      );
  }
}

function one(rest: readonly string[], form: string): string {
  if (rest.length !== 1 || rest[0] === '') throw usage(`usage: mqtt-adapt ${form}`);
  return rest[0]!;
}

function say(io: AdminIo, line: string): void {
  io.stdout.write(`${line}\n`);
}

async function addUser(
  store: Store,
  io: AdminIo,
  args: AdminArgs,
  name: string,
  replace: boolean,
): Promise<void> {
  const existing = await store.getUser(name);
  if (!replace && existing !== undefined)
    throw failure(`user "${name}" exists; use: mqtt-adapt user passwd ${name}`);
  if (replace && existing === undefined) throw failure(`no user "${name}"; use: mqtt-adapt user add ${name}`);
  const password = await readPassword(io, args.passwordStdin);
  await store.saveUser({ username: name, passwordHash: await hashWith(args.hash, password) });
  say(io, `${replace ? 'changed the password of' : 'added'} user "${name}"`);
}

async function readPassword(io: AdminIo, fromStdin: boolean): Promise<Buffer> {
  let password: Buffer;
  if (fromStdin) password = await readPasswordFromStdin(io.stdin);
  else if (io.stdin.isTTY === true) {
    password = await promptHidden(io, 'password: ');
    const again = await promptHidden(io, 'password again: ');
    if (!password.equals(again)) throw failure('the passwords differ; nothing changed');
  } else {
    throw usage(
      'no terminal to ask for the password on; pass --password-stdin and write it to standard input',
    );
  }
  if (password.length === 0) throw usage('the password is empty');
  return password;
}

async function importUsers(store: Store, io: AdminIo, file: string | undefined): Promise<void> {
  if (file === undefined) throw usage('usage: mqtt-adapt user import --mosquitto-passwd FILE');
  const users = parseFile(file, parseMosquittoPasswd);
  for (const user of users) await store.saveUser(user);
  say(
    io,
    `imported ${users.length} users from ${file} (hashes kept as they are; rehashed at each user's next login)`,
  );
}

async function importRules(store: Store, io: AdminIo, file: string | undefined): Promise<void> {
  if (file === undefined) throw usage('usage: mqtt-adapt acl import --mosquitto-acl FILE');
  const rules = parseFile(file, parseMosquittoAcl);
  for (const rule of rules) await store.saveAclRule({ id: randomUUID(), ...rule });
  say(io, `imported ${rules.length} ACL rules from ${file}`);
}

function parseFile<T>(file: string, parse: (text: string) => T): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw failure(
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  try {
    return parse(text);
  } catch (error) {
    throw failure(`${file}: ${(error as Error).message}`);
  }
}

const PERMISSIONS = ['allow', 'deny'] as const;
const ACTIONS = ['publish', 'subscribe', 'all'] as const;

async function addRule(store: Store, io: AdminIo, args: AdminArgs, rest: readonly string[]): Promise<void> {
  const form =
    'usage: mqtt-adapt acl add allow|deny publish|subscribe|all FILTER [--user NAME | --anonymous]';
  if (rest.length !== 3) throw usage(form);
  const [permission, action, topicFilter] = rest as [string, string, string];
  if (
    !(PERMISSIONS as readonly string[]).includes(permission) ||
    !(ACTIONS as readonly string[]).includes(action)
  ) {
    throw usage(form);
  }
  if (!isUsableFilter(topicFilter)) throw usage(`"${topicFilter}" is not a valid topic filter`);
  if (args.user !== undefined && args.anonymous) throw usage('--user and --anonymous exclude each other');
  const subject = args.user !== undefined ? 'user' : args.anonymous ? 'anonymous' : 'all';
  const rule: AclRule = {
    id: randomUUID(),
    subject,
    username: args.user,
    topicFilter,
    action: action as AclRule['action'],
    permission: permission as AclRule['permission'],
  };
  await store.saveAclRule(rule);
  say(io, `added ACL rule ${describeRule(rule)}`);
}

function describeRule(rule: AclRule): string {
  const who = rule.subject === 'user' ? `user ${rule.username}` : rule.subject;
  return `${rule.id}\t${rule.permission}\t${rule.action}\t${rule.topicFilter}\t${who}`;
}
