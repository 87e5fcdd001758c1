#!/usr/bin/env node
// Lints every publishable package as it would be published: publint for package.json and
// files, @arethetypeswrong/cli for types that resolve under ESM and CJS consumers.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dirs = ['packages', 'apps'].flatMap((group) =>
  existsSync(join(root, group)) ? readdirSync(join(root, group)).map((name) => join(root, group, name)) : [],
);

let failures = 0;
for (const dir of dirs) {
  const manifestPath = join(dir, 'package.json');
  if (!existsSync(manifestPath)) continue;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  if (manifest.private) continue;
  const bin = (name) => join(root, 'node_modules', '.bin', name);
  const esmOnly = !Object.values(manifest.exports ?? {}).some(
    (entry) => typeof entry === 'object' && entry !== null && 'require' in entry,
  );
  const checks = [
    [bin('publint'), ['--strict', dir]],
    [bin('attw'), ['--pack', dir, '--format', 'table-flipped', '--profile', esmOnly ? 'esm-only' : 'node16']],
  ];
  for (const [command, args] of checks) {
    try {
      execFileSync(command, args, { stdio: 'pipe', cwd: dir });
    } catch (error) {
      failures++;
      console.error(`${manifest.name}: ${command.split('/').pop()} failed`);
      console.error(String(error.stdout ?? ''), String(error.stderr ?? ''));
    }
  }
}
if (failures > 0) {
  console.error(`package checks: ${failures} failed`);
  process.exit(1);
}
console.log(`package checks: ${dirs.length} packages ok`);
