// Process accounting from /proc (Linux): CPU time (user + sys, all threads) and RSS of
// another process, so the generator can report the broker's cost next to its own.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond;

function clockTicks() {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // Linux USER_HZ is 100 on every mainstream architecture.
    }
  }
  return ticksPerSecond;
}

/** CPU seconds (utime + stime) used so far by `pid`, or undefined if it is gone. */
export function cpuSecondsOf(pid) {
  let stat;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2 (comm) may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/** Resident set size of `pid` in bytes (VmRSS), or undefined if it is gone. */
export function rssBytesOf(pid) {
  let status;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : undefined;
}

/** This process's CPU seconds (user + sys, all threads). */
export function ownCpuSeconds() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * Every process of the machine now: pid -> { ppid, comm, cpu } (cpu: utime + stime seconds).
 * One pass over /proc (a few ms): for the start and end of a measured window, not per message.
 */
export function processSnapshot() {
  const out = new Map();
  let entries;
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  const ticks = clockTicks();
  for (const entry of entries) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // Exited since the listing.
    }
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    out.set(Number(entry), {
      ppid: Number(fields[1]),
      comm,
      cpu: (Number(fields[11]) + Number(fields[12])) / ticks,
    });
  }
  return out;
}

/** The pids of `roots` and of all their descendants in `snapshot`. */
export function processTree(snapshot, roots) {
  const children = new Map();
  for (const [pid, { ppid }] of snapshot) {
    const list = children.get(ppid);
    if (list === undefined) children.set(ppid, [pid]);
    else list.push(pid);
  }
  const out = new Set();
  const stack = roots.filter((pid) => snapshot.has(pid));
  while (stack.length > 0) {
    const pid = stack.pop();
    if (out.has(pid)) continue;
    out.add(pid);
    for (const child of children.get(pid) ?? []) stack.push(child);
  }
  return out;
}

/**
 * CPU seconds the processes `pidsAt(snapshot)` used between two snapshots: per pid, end minus
 * start (a pid born in between counts whole; one that exited in between is lost: a lower bound).
 */
export function cpuBetween(before, after, pids) {
  let sum = 0;
  for (const pid of pids) {
    const end = after.get(pid);
    if (end === undefined) continue;
    const start = before.get(pid);
    sum += end.cpu - (start !== undefined && start.comm === end.comm ? start.cpu : 0);
  }
  return sum;
}

/** Pids in `snapshot` whose command name (comm) is one of `names`. */
export function pidsNamed(snapshot, names) {
  const out = [];
  for (const [pid, { comm }] of snapshot) if (names.includes(comm)) out.push(pid);
  return out;
}

// Call once at load so the first sample inside a measured window does not fork getconf.
clockTicks();
