import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configOptions, formatPath } from '../src/option-table.js';

// The README's option table is written by hand: every option of the table in src/ must have
// its row there, with its flag, variable, config key and default.
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const rows = readme.split('\n').filter((line) => line.startsWith('| `-'));

describe('README option table', () => {
  it.each(configOptions.map((spec) => [spec.flag, spec] as const))('has a row for --%s', (_flag, spec) => {
    const row = rows.find((line) => line.includes(`--${spec.flag} `) || line.includes(`--${spec.flag}\``));
    expect(row, `no README row for --${spec.flag}`).toBeDefined();
    const cells = row!.split(/(?<!\\)\|/).map((cell) => cell.trim().replaceAll('`', ''));
    expect(cells[2]).toBe(spec.env);
    expect(cells[3]).toBe(formatPath(spec.path));
    expect(cells[4]).toBe(String(spec.defaultValue));
  });
});
