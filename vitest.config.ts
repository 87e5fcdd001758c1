import { defineConfig } from 'vitest/config';
import './scripts/node20-polyfills.js';

// CI sets VITEST_JSON_REPORT to a path: the summary line is read from that JSON report.
const jsonReport = process.env.VITEST_JSON_REPORT;

export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
    reporters: jsonReport ? ['default', 'json'] : ['default'],
    outputFile: jsonReport ? { json: jsonReport } : undefined,
  },
});
