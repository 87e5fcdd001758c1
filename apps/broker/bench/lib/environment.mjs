// What the header of a bench run says about the machine and the peers, and the fd limit.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { arch, cpus, release, totalmem, type } from 'node:os';
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

/** The soft and hard limits of open files of this process (what a broker gets: see brokers.mjs). */
export function fdLimits() {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const fields = line.split(/\s+/);
    const value = (text) => (text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text));
    return { soft: value(fields[3]), hard: value(fields[4]) };
  } catch {
    return { soft: Number.POSITIVE_INFINITY, hard: Number.POSITIVE_INFINITY };
  }
}

/** The hard limit of open files: brokers are started with their soft limit raised to it. */
export function fdLimit() {
  return fdLimits().hard;
}

/** The kernel's ephemeral port range (net.ipv4.ip_local_port_range), as [low, high]. */
export function ephemeralPortRange() {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    return [Number(low), Number(high)];
  } catch {
    return [32768, 60999];
  }
}

/** What the summary (results/latest.json) and the header say about the machine and the peers. */
export function machineInfo(oursCli) {
  const cpuList = cpus();
  const [low, high] = ephemeralPortRange();
  const fd = fdLimits();
  return {
    cpuModel: cpuList[0]?.model ?? 'unknown',
    cores: cpuList.length,
    memoryBytes: totalmem(),
    os: `${type()} ${release()} ${arch()}`,
    node: process.version,
    mosquitto: mosquittoVersion(),
    aedes: versionOf('aedes'),
    commit: gitRevision(),
    workTree: workTreeState('.'),
    oursCli,
    oursWorkTree: oursCli === undefined ? undefined : workTreeState(dirname(oursCli)),
    fdLimit: { soft: fd.soft, hard: fd.hard },
    ephemeralPorts: `${low}-${high}`,
  };
}
