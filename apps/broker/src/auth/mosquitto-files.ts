import type { AclRuleSpec } from './acl.js';
import { isUsableFilter } from './acl.js';
import { hashScheme } from './password-hash.js';

/** A line of a Mosquitto file that cannot be imported, with its 1-based number. */
export class ImportLineError extends Error {
  override readonly name = 'ImportLineError';

  constructor(
    readonly lineNumber: number,
    message: string,
  ) {
    super(`line ${lineNumber}: ${message}`);
  }
}

export interface ImportedUser {
  readonly username: string;
  readonly passwordHash: string;
}

/**
 * Reads a `mosquitto_passwd` file: `user:hash` per line (`#` comments and blank lines
 * skipped). Hashes are kept as they are (`$7$` PBKDF2-SHA512 or `$6$` SHA-512) and verified
 * in that form; a plain-text password (a file never run through `mosquitto_passwd -U`) is refused.
 */
export function parseMosquittoPasswd(text: string): ImportedUser[] {
  const users: ImportedUser[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ImportLineError(i + 1, 'expected "username:hash"');
    const username = line.slice(0, colon);
    const passwordHash = line.slice(colon + 1);
    if (hashScheme(passwordHash) === undefined || hashScheme(passwordHash) === 'scrypt') {
      throw new ImportLineError(
        i + 1,
        `the password of "${username}" is not a mosquitto_passwd hash ($7$ or $6$); run mosquitto_passwd -U on the file first`,
      );
    }
    users.push({ username, passwordHash });
  }
  return users;
}

const ACCESS = {
  read: { action: 'subscribe', permission: 'allow' },
  write: { action: 'publish', permission: 'allow' },
  readwrite: { action: 'all', permission: 'allow' },
  deny: { action: 'all', permission: 'deny' },
} as const satisfies Record<string, Pick<AclRuleSpec, 'action' | 'permission'>>;

/**
 * Reads a Mosquitto `acl_file`: `topic [read|write|readwrite|deny] FILTER` lines apply to
 * anonymous clients until the first `user NAME` line, then to that user; `pattern ...` lines
 * apply to everyone, with `%u` and `%c`. Each line becomes one rule (read: subscribe and
 * receive, write: publish, readwrite: both, deny: both denied). Our evaluation order then
 * applies (the most specific filter decides, deny wins a tie), which gives Mosquitto's result
 * for the usual files: a deny line beside a broader allow.
 */
export function parseMosquittoAcl(text: string): AclRuleSpec[] {
  const rules: AclRuleSpec[] = [];
  let user: string | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [keyword, ...rest] = line.split(/\s+/);
    if (keyword === 'user') {
      if (rest.length === 0) throw new ImportLineError(i + 1, '"user" needs a user name');
      user = line.slice(line.indexOf(rest[0]!));
      continue;
    }
    if (keyword !== 'topic' && keyword !== 'pattern') {
      throw new ImportLineError(i + 1, `unknown keyword "${keyword}"; expected user, topic or pattern`);
    }
    let access: keyof typeof ACCESS = 'readwrite';
    let filterStart = 0;
    if (rest[0] !== undefined && rest[0] in ACCESS && rest.length > 1) {
      access = rest[0] as keyof typeof ACCESS;
      filterStart = 1;
    }
    if (rest.length <= filterStart) throw new ImportLineError(i + 1, `"${keyword}" needs a topic filter`);
    // The filter is the rest of the line: Mosquitto allows spaces in topics.
    const afterAccess =
      filterStart === 0 ? line.slice(keyword!.length) : line.slice(line.indexOf(rest[0]!) + rest[0]!.length);
    const topicFilter = afterAccess.trim();
    if (!isUsableFilter(topicFilter))
      throw new ImportLineError(i + 1, `"${topicFilter}" is not a valid topic filter`);
    const subject = keyword === 'pattern' ? 'all' : user === undefined ? 'anonymous' : 'user';
    rules.push({
      subject,
      username: subject === 'user' ? user : undefined,
      topicFilter,
      ...ACCESS[access],
    });
  }
  return rules;
}
