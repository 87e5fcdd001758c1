#!/usr/bin/env node
// Enforces the layer table of STYLE.md §1: which of our packages each package may import,
// which Node built-ins the pure layers may not touch, and no reaching into another
// package's files by relative path. Fails with one line per violation.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);

/**
 * package dir -> { ours: allowed @mqtt-adapt imports, forbiddenNode: banned node: modules, noDeps,
 * testingDeps: the only dependencies files under src/testing/ may import (an optional peer) }
 */
const rules = {
  'packages/codec': {
    ours: [],
    forbiddenNode: 'any-except-buffer',
    noDeps: true,
    // `@mqtt-adapt/codec/testing` ships fast-check arbitraries; the root entry stays dependency-free.
    testingDeps: ['fast-check'],
  },
  'packages/topic': { ours: [], forbiddenNode: 'any', noDeps: true },
  'packages/router': {
    ours: ['codec', 'topic'],
    forbiddenNode: [
      'net',
      'tls',
      'http',
      'https',
      'fs',
      'fs/promises',
      'dgram',
      'child_process',
      'dns',
      'cluster',
    ],
  },
  'packages/store-sqlite': { ours: ['router', 'codec'] },
  'packages/store-pg': { ours: ['router', 'codec'] },
  'packages/mq': { ours: ['router', 'topic', 'codec'] },
  'apps/broker': { ours: ['codec', 'topic', 'router', 'store-sqlite', 'store-pg', 'mq'] },
};

function* sourceFiles(dir) {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (/\.(ts|mts|cts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) yield path;
  }
}

const importPattern = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
const violations = [];

for (const [packageDir, rule] of Object.entries(rules)) {
  const srcDir = join(root, packageDir, 'src');
  const testingDir = join(srcDir, 'testing');
  for (const file of sourceFiles(srcDir)) {
    const text = readFileSync(file, 'utf8');
    const where = relative(root, file);
    const inTesting = file.startsWith(`${testingDir}/`);
    for (const match of text.matchAll(importPattern)) {
      const specifier = match[1] ?? match[2];
      if (specifier.startsWith('@mqtt-adapt/')) {
        const target = specifier.slice('@mqtt-adapt/'.length).split('/')[0];
        if (!rule.ours.includes(target))
          violations.push(`${where}: imports ${specifier}, not allowed in ${packageDir}`);
        if (/\/(src|dist)(\/|$)/.test(specifier))
          violations.push(`${where}: imports ${specifier} by internal path`);
      } else if (specifier.startsWith('.')) {
        const resolved = resolve(file, '..', specifier);
        if (!resolved.startsWith(`${join(root, packageDir)}/`)) {
          violations.push(`${where}: relative import ${specifier} leaves ${packageDir}`);
        }
        // Runtime code must not reach the testing entry, or its dependencies would come along.
        const intoTesting = resolved === testingDir || resolved.startsWith(`${testingDir}/`);
        if (rule.testingDeps && !inTesting && intoTesting)
          violations.push(`${where}: imports ${specifier}; only src/testing/ may import the testing entry`);
      } else if (specifier.startsWith('node:')) {
        const name = specifier.slice(5);
        const banned =
          rule.forbiddenNode === 'any' ||
          (rule.forbiddenNode === 'any-except-buffer' && name !== 'buffer') ||
          (Array.isArray(rule.forbiddenNode) && rule.forbiddenNode.includes(name));
        if (banned) violations.push(`${where}: imports ${specifier}, no I/O allowed in ${packageDir}`);
      } else if (inTesting && rule.testingDeps?.includes(specifier)) {
        // An optional peer of the testing entry only: allowed under src/testing/.
      } else if (rule.noDeps && !specifier.startsWith('.')) {
        violations.push(`${where}: imports ${specifier}; ${packageDir} has no dependencies`);
      }
    }
  }
}

if (violations.length > 0) {
  for (const line of violations) console.error(line);
  console.error(`layer check: ${violations.length} violation(s)`);
  process.exit(1);
}
console.log('layer check: ok');
