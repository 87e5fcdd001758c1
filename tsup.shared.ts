import type { Options } from 'tsup';

export interface PackageBuildOptions {
  /** Entry points, e.g. `{ index: 'src/index.ts', testing: 'src/testing/index.ts' }`. */
  entry: Record<string, string>;
  /** ESM and CJS for pure packages; ESM only for packages with ESM-only dependencies. */
  formats?: Array<'esm' | 'cjs'>;
}

/** The one build config every package uses (see STYLE.md §2). */
export function packageBuildConfig({ entry, formats = ['esm', 'cjs'] }: PackageBuildOptions): Options {
  return {
    entry,
    format: formats,
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    splitting: false,
    treeshake: true,
  };
}
