import { defineConfig } from 'tsup';
import { packageBuildConfig } from '../../tsup.shared.js';

// ESM only: p-queue is ESM only (STYLE.md §2).
export default defineConfig(
  packageBuildConfig({
    entry: {
      index: 'src/index.ts',
      rabbitmq: 'src/adapters/rabbitmq.ts',
      nats: 'src/adapters/nats.ts',
      redis: 'src/adapters/redis.ts',
      mqtt: 'src/adapters/mqtt.ts',
    },
    formats: ['esm'],
  }),
);
