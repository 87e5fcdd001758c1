import { defineConfig } from 'tsup';
import { packageBuildConfig } from '../../tsup.shared.js';

export default defineConfig(
  packageBuildConfig({ entry: { index: 'src/index.ts', testing: 'src/testing/index.ts' } }),
);
