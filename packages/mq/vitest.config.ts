import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'mq',
    include: ['test/**/*.test.ts'],
    // Integration tests talk to real RabbitMQ, NATS, Redis and Mosquitto on loopback.
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
