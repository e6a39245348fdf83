import { defineConfig } from "vitest/config";

// Four suites: unit (pure code, seconds, no services), integration (real
// nginx / supervisord / docker / sshd, one concern each), e2e (the real CLI),
// browser (Debian's Chromium on deployed apps).
export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "reliability",
          include: ["test/reliability/**/*.test.ts"],
          exclude: ["test/reliability/restart-*.test.ts", "test/reliability/faults.test.ts"],
          globalSetup: ["test/reliability/global-setup.ts"],
          testTimeout: 900_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
      {
        // depl killed at every step boundary of each operation (app "rfault"): long and serial, so a suite
        // of its own that CI runs beside the hosts suite rather than beside the other reliability tests.
        test: {
          name: "faults",
          include: ["test/reliability/faults.test.ts"],
          globalSetup: ["test/reliability/faults-setup.ts"],
          testTimeout: 900_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
      {
        // Stops and restarts the machine's services: run alone, never beside another suite.
        test: {
          name: "restarts",
          include: ["test/reliability/restart-*.test.ts"],
          globalSetup: ["test/reliability/restarts-setup.ts"],
          testTimeout: 900_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          exclude: ["test/e2e/apps-*.test.ts"],
          testTimeout: 900_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
      {
        // HTTPS: the test's own CA, curl and Chromium trusting it, renewals under load.
        test: {
          name: "edge",
          include: ["test/edge/**/*.test.ts"],
          testTimeout: 900_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
      {
        // The example apps under examples/, end to end.
        test: {
          name: "apps",
          include: ["test/e2e/apps-*.test.ts"],
          testTimeout: 900_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
      {
        // Several app servers: containers with their own sshd, dockerd, nginx and supervisord.
        test: {
          name: "hosts",
          include: ["test/hosts/**/*.test.ts"],
          testTimeout: 900_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
      {
        // The guarded canary, stats --watch and the dashboard: app "guard", real services and Chromium.
        test: {
          name: "canary",
          include: ["test/canary/**/*.test.ts"],
          testTimeout: 300_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          testTimeout: 300_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
