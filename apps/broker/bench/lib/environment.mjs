// What the header of a bench run says about the machine and the peers, and the fd limit.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function versionOf(pkg) {
  try {
    // aedes's "exports" hides package.json: find it from the resolved entry point.
    let dir = dirname(fileURLToPath(import.meta.resolve(pkg)));
    for (let up = 0; up < 5; up++, dir = dirname(dir)) {
      const file = join(dir, 'package.json');
      if (!existsSync(file)) continue;
      const json = JSON.parse(readFileSync(file, 'utf8'));
      if (json.name === pkg) return json.version;
    }
  } catch {
    // Not resolvable: not installed.
  }
  return 'not installed';
}

export function mosquittoVersion() {
  try {
    execFileSync(process.env.MOSQUITTO_BIN ?? 'mosquitto', ['-h'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/usr/local/sbin` },
    });
  } catch (error) {
    // `mosquitto -h` prints its version and exits 3.
    const match = /mosquitto version (\S+)/.exec(`${error.stdout ?? ''}`);
    if (match) return match[1];
  }
  return 'unknown';
}

/** The short commit of the work tree holding `dir` (default: the current directory). */
export function gitRevision(dir = '.') {
  try {
    return execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

/**
 * The commit of the work tree holding `dir`, and whether tracked files differ from it (what a
 * build there was made from may include those changes).
 */
export function workTreeState(dir) {
  const revision = gitRevision(dir);
  if (revision === 'unknown') return 'not in a git work tree';
  try {
    const changes = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return changes === '' ? `commit ${revision}, clean` : `commit ${revision} + uncommitted changes`;
  } catch {
    return `commit ${revision}`;
  }
}

export function fdLimit() {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    return Number(line.split(/\s+/)[4]);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
