import { readFileSync } from 'node:fs';
import { parseCliArgs } from './cli-options.js';
import type { BrokerConfig } from './config.js';
import { exitCodeFor, isBrokerAppError } from './errors.js';
import { loadConfig } from './load-config.js';
import { helpText } from './option-table.js';
import { redactSecrets } from './redact.js';

/** What the CLI does for a command line: print and exit, or start the broker. */
export type CliCommand =
  | { readonly kind: 'exit'; readonly exitCode: 0 | 1 | 2; readonly stdout: string; readonly stderr: string }
  | { readonly kind: 'start'; readonly config: BrokerConfig; readonly configFile: string | undefined };

/**
 * Decides what a command line means, without side effects beyond reading the config file:
 * `--help`, `--version`, `--print-config` and config errors become text and an exit code.
 */
export function prepareCli(argv: readonly string[], env: NodeJS.ProcessEnv, cwd = process.cwd()): CliCommand {
  try {
    const args = parseCliArgs(argv);
    if (args.help) return exit(0, helpText(packageVersion()));
    if (args.version) return exit(0, `${packageVersion()}\n`);
    const { config, configFile } = loadConfig(args, env, cwd);
    if (args.printConfig) return exit(0, `${JSON.stringify(redactSecrets(config), null, 2)}\n`);
    return { kind: 'start', config, configFile };
  } catch (error) {
    if (!isBrokerAppError(error)) throw error;
    return { kind: 'exit', exitCode: exitCodeFor(error), stdout: '', stderr: `${error.message}\n` };
  }
}

function exit(exitCode: 0, stdout: string): CliCommand {
  return { kind: 'exit', exitCode, stdout, stderr: '' };
}

let version: string | undefined;

/** This package's version, read from its package.json (next to `dist/` and `src/`). */
export function packageVersion(): string {
  version ??= (
    JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
  return version;
}
