import { parseArgs } from 'node:util';
import { closest, configError } from './internal/checks.js';
import { type ConfigOverride, configOptions, parseValue } from './option-table.js';

/** Flags that act instead of starting the broker. */
const commandFlags = {
  config: { type: 'string', short: 'c' },
  'print-config': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

export interface ParsedArgs {
  readonly configFile: string | undefined;
  readonly printConfig: boolean;
  readonly help: boolean;
  readonly version: boolean;
  readonly overrides: readonly ConfigOverride[];
}

/** `parseArgs` options of every broker flag: the command flags and one per config option. */
export function brokerFlagOptions(): Record<string, { type: 'string' | 'boolean'; short?: string }> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { ...commandFlags };
  for (const spec of configOptions) {
    const type = spec.isSwitch === true ? 'boolean' : 'string';
    options[spec.flag] = spec.short ? { type, short: spec.short } : { type };
  }
  return options;
}

/**
 * Parses CLI flags with `node:util` `parseArgs`. Every problem (unknown flag, missing value,
 * value out of range) throws one `BROKER_CONFIG_INVALID` line naming the flag and the fix.
 */
export function parseCliArgs(argv: readonly string[]): ParsedArgs {
  const options = brokerFlagOptions();
  // strict: false and our own checks of the tokens: parseArgs' own messages are multi-line.
  const { tokens } = parseArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const strings = new Map<string, string>();
  const booleans = new Set<string>();
  for (const token of tokens) {
    if (token.kind === 'positional') {
      throw configError(
        `unexpected argument ${JSON.stringify(token.value)}; options start with --, see --help`,
      );
    }
    if (token.kind !== 'option') continue;
    const known = options[token.name];
    if (!known) {
      const near = closest(token.name, Object.keys(options));
      throw configError(
        `unknown option ${token.rawName}; ${near ? `did you mean --${near}?` : 'see --help'}`,
      );
    }
    if (known.type === 'boolean') {
      if (token.value !== undefined)
        throw configError(`${token.rawName} takes no value; drop "=${token.value}"`);
      booleans.add(token.name);
    } else {
      if (token.value === undefined || (token.inlineValue !== true && token.value.startsWith('--'))) {
        throw configError(`${token.rawName} needs a value, e.g. ${token.rawName} ${example(token.name)}`);
      }
      strings.set(token.name, token.value);
    }
  }
  const overrides: ConfigOverride[] = [];
  for (const spec of configOptions) {
    if (spec.isSwitch === true && booleans.has(spec.flag)) overrides.push({ path: spec.path, value: true });
    const raw = strings.get(spec.flag);
    if (raw !== undefined)
      overrides.push({ path: spec.path, value: parseValue(spec, raw, `--${spec.flag}`) });
  }
  return {
    configFile: strings.get('config'),
    printConfig: booleans.has('print-config'),
    help: booleans.has('help'),
    version: booleans.has('version'),
    overrides,
  };
}

function example(flag: string): string {
  const spec = configOptions.find((candidate) => candidate.flag === flag);
  return spec ? (spec.example ?? String(spec.defaultValue)) : 'mqtt-adapt.yaml';
}
