import { defineConfig } from 'tsup';
import { packageBuildConfig } from '../../tsup.shared.js';

// ESM only: an app, and pino / yaml are consumed as ESM (STYLE.md §2).
export default defineConfig(
  packageBuildConfig({ entry: { index: 'src/index.ts', cli: 'src/cli.ts' }, formats: ['esm'] }),
);
