// Users, passwords and ACL rules for scenarios 9 (cycles-auth) and 10 (fan-in-acl): the
// bench user, a Mosquitto password file, a generated 1,000-rule Mosquitto ACL file, and the
// preparation of our broker's sqlite data dir (through its own `user` / `acl` commands) before
// it starts.
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';

/** The user every CONNECT of cycles-auth carries. A bench secret, not a real one. */
export const BENCH_USER = Object.freeze({ username: 'benchuser', password: 'bench-password-9f2c' });

/** Rules in the ACL of fan-in-acl. */
export const ACL_RULE_COUNT = 1000;

/**
 * A Mosquitto `acl_file` with exactly `count` rules (`topic` and `pattern` lines), imported as
 * it is into ours (`acl import --mosquitto-acl`) and given as it is to Mosquitto (`acl_file`):
 *
 * - before any `user` line (anonymous clients, i.e. the bench's publishers and subscriber):
 *   `bench/#` read and write, a deny under it, and a read-only tree;
 * - `pattern` lines for every client, with `%c` and `%u`, some under `bench/` (they never
 *   match `bench/t`, but a broker has to look at them);
 * - the rest: one rule for each of users `user-1`, `user-2`, ... on their own topics, in a
 *   few shapes (`+`, `#`, literal, deny, a few under `bench/`).
 */
export function aclFileText(count = ACL_RULE_COUNT) {
  const anonymous = ['topic readwrite bench/#', 'topic deny bench/secret/#', 'topic read public/#'];
  const patterns = [
    'pattern readwrite devices/%c/#',
    'pattern read users/%u/inbox/#',
    'pattern write bench/%c/status',
    'pattern readwrite clients/%u/%c/+',
    'pattern deny bench/%u/private/#',
  ];
  const userRules = count - anonymous.length - patterns.length;
  if (userRules < 0)
    throw new RangeError(`an ACL of ${count} rules; give at least ${anonymous.length + patterns.length}`);
  const lines = [
    `# Written by apps/broker/bench: ${count} rules (topic and pattern lines).`,
    '# Anonymous clients (before any user line):',
    ...anonymous,
    '# Every client:',
    ...patterns,
  ];
  const shapes = [
    (n) => `topic readwrite site-${n}/+/telemetry`,
    (n) => `topic read site-${n}/config/#`,
    (n) => `topic write bench/site-${n}/+/cmd`,
    (n) => `topic deny site-${n}/secret`,
  ];
  for (let n = 1; n <= userRules; n++) {
    lines.push(`user user-${n}`, shapes[n % shapes.length](n));
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the ACL file (readable by Mosquitto after it drops root). */
export function writeAclFile(path, count = ACL_RULE_COUNT) {
  writeFileSync(path, aclFileText(count));
  chmodSync(path, 0o644);
  return path;
}

/** `mosquitto_passwd -b -c <path> <user> <password>`: Mosquitto's default KDF (2.0: PBKDF2-SHA512, 101 iterations). */
export function writeMosquittoPasswdFile(path, { username, password } = BENCH_USER) {
  const bin = process.env.MOSQUITTO_PASSWD_BIN ?? 'mosquitto_passwd';
  try {
    execFileSync(bin, ['-b', '-c', path, username, password], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const detail = error.stderr?.toString().trim() || error.message;
    throw new Error(
      `${bin} -b -c ${path} failed: ${detail}; install mosquitto-clients or set MOSQUITTO_PASSWD_BIN`,
    );
  }
  chmodSync(path, 0o644);
  return path;
}

/**
 * Prepares our broker's sqlite store in `dataDir` before the broker starts, with its own admin
 * commands: `user add <name> --password-stdin` per user, `acl import --mosquitto-acl <file>`;
 * then checks with `acl list` that the store holds `expectRules` rules.
 */
export function prepareOurDataDir(cli, dataDir, { users = [], aclFile, expectRules } = {}) {
  const store = ['--store', 'sqlite', '--data-dir', dataDir];
  const run = (args, input) => {
    try {
      return execFileSync(process.execPath, [cli, ...args, ...store], {
        input,
        encoding: 'utf8',
        timeout: 60_000,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    } catch (error) {
      const detail = error.stderr?.toString().trim() || error.message;
      throw new Error(`${cli} ${args.join(' ')} failed: ${detail}`);
    }
  };
  for (const { username, password } of users)
    run(['user', 'add', username, '--password-stdin'], `${password}\n`);
  if (aclFile !== undefined) run(['acl', 'import', '--mosquitto-acl', aclFile]);
  if (expectRules !== undefined) {
    const listed = run(['acl', 'list'])
      .split('\n')
      .filter((line) => line.trim().length > 0).length;
    if (listed !== expectRules)
      throw new Error(`the store holds ${listed} ACL rules after the import; expected ${expectRules}`);
  }
}
