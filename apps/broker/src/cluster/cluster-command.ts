import { parseArgs } from 'node:util';
import type { AdminIo } from '../admin/read-password.js';
import { brokerFlagOptions, parseCliArgs } from '../cli-options.js';
import { isBrokerAppError } from '../errors.js';
import { loadConfig } from '../load-config.js';
import { Membership, type NodeRow } from './membership.js';

/** One node as `cluster status --json` prints it. */
export interface NodeStatus {
  readonly nodeId: string;
  readonly clients: number;
  readonly heartbeatAgeMs: number;
  /** No heartbeat for `deadAfterMs`, or stopped: not a live node. */
  readonly lapsed: boolean;
  /** `alive`; `lapsed` (no heartbeat); `left` (stopped cleanly); `retired` (its sessions adopted). */
  readonly state: 'alive' | 'lapsed' | 'left' | 'retired';
  /** The node that adopted its persistent sessions, once retired. */
  readonly retiredBy: string | undefined;
  readonly startedAt: string;
  readonly busSent: number;
  readonly busReceived: number;
  readonly filters: number;
}

/**
 * `mqtt-adapt cluster status [--json] [--database-url ...] [--database-schema ...] [-c file]`:
 * the nodes of the membership table, their connected clients and heartbeat age; a node whose
 * heartbeat is older than `cluster.deadAfterMs` is marked lapsed. Always reads PostgreSQL (the
 * only store a cluster runs on). Returns the exit code: 0, 1 database unreachable, 2 usage.
 */
export async function runClusterCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: Pick<AdminIo, 'stdout' | 'stderr'>,
  cwd = process.cwd(),
): Promise<number> {
  const { tokens } = parseArgs({
    args: [...argv],
    options: { ...brokerFlagOptions(), json: { type: 'boolean' } },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const words: string[] = [];
  const configArgv: string[] = [];
  let json = false;
  for (const token of tokens) {
    if (token.kind === 'positional') words.push(token.value);
    else if (token.kind === 'option' && token.name === 'json') json = true;
    else if (token.kind === 'option')
      configArgv.push(token.value === undefined ? token.rawName : `${token.rawName}=${token.value}`);
  }
  if (words.join(' ') !== 'cluster status') {
    io.stderr.write(
      'usage: mqtt-adapt cluster status [--json] [--database-url URL] [--database-schema NAME]\n',
    );
    return 2;
  }
  let config: ReturnType<typeof loadConfig>['config'];
  try {
    const args = parseCliArgs(configArgv);
    const overrides = [{ path: ['store', 'type'] as const, value: 'postgres' }, ...args.overrides];
    config = loadConfig({ ...args, overrides }, env, cwd).config;
  } catch (error) {
    if (!isBrokerAppError(error)) throw error;
    io.stderr.write(`${error.message}\n`);
    return 2;
  }
  const pool = Membership.createPool(config.store.url!);
  try {
    const rows = await new Membership(pool, config.store.schema).list();
    const nodes = rows.map((row) => nodeStatus(row, config.cluster.deadAfterMs));
    io.stdout.write(json ? `${JSON.stringify(nodes, null, 2)}\n` : statusTable(nodes));
    return 0;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === '42P01' || code === '3F000') {
      // No membership table (or schema): no node ever joined.
      io.stdout.write(json ? '[]\n' : `no cluster node has joined schema "${config.store.schema}"\n`);
      return 0;
    }
    io.stderr.write(`cluster: cannot read the membership table: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await pool.end();
  }
}

function nodeStatus(row: NodeRow, deadAfterMs: number): NodeStatus {
  const state =
    row.retiredBy !== undefined
      ? 'retired'
      : row.leftAt !== undefined
        ? 'left'
        : row.heartbeatAgeMs > deadAfterMs
          ? 'lapsed'
          : 'alive';
  return {
    nodeId: row.nodeId,
    clients: row.clients,
    heartbeatAgeMs: row.heartbeatAgeMs,
    lapsed: state !== 'alive',
    state,
    retiredBy: row.retiredBy,
    startedAt: row.startedAt.toISOString(),
    busSent: row.busSent,
    busReceived: row.busReceived,
    filters: row.interest?.length ?? 0,
  };
}

function statusTable(nodes: readonly NodeStatus[]): string {
  const header = ['node', 'state', 'clients', 'heartbeat', 'filters', 'bus sent', 'bus received', 'started'];
  const lines = nodes.map((node) => [
    node.nodeId,
    node.state === 'alive'
      ? 'alive'
      : node.state === 'retired'
        ? `retired (sessions to ${node.retiredBy})`
        : node.state.toUpperCase(),
    String(node.clients),
    `${(node.heartbeatAgeMs / 1000).toFixed(1)}s ago`,
    String(node.filters),
    String(node.busSent),
    String(node.busReceived),
    node.startedAt,
  ]);
  const widths = header.map((cell, i) => Math.max(cell.length, ...lines.map((line) => line[i]!.length)));
  const render = (cells: string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return `${[render(header), ...lines.map(render)].join('\n')}\n`;
}
