import { configDefaults, defineConfig } from "vitest/config";

/**
 * The files that put the machine under load themselves (many requests at once, load generators,
 * processes killed under traffic): they run one at a time, after the rest, so that none of them
 * competes with another for the 2 cores. Started together (Vitest starts the slowest files first)
 * they pushed the app's own 2 s Redis and 5 s provider timeouts into 503s.
 */
const LOAD = [
  "test/chaos.test.ts",
  "test/measurement-scripts.test.ts",
  "test/request-limits.test.ts",
  "test/security/fuzz.test.ts",
];

export default defineConfig({
  test: {
    // No process a test starts outlives its file (file-setup) or the run (global-setup): test/support/processes.ts.
    globalSetup: ["test/support/global-setup.ts"],
    setupFiles: ["test/support/file-setup.ts"],
    // Generous: CI and development machines have 2 cores, often shared with other runs (load 15 to 20
    // seen); a timeout here catches a hang, never a slow machine. Bounds the tests assert are in the tests.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The global teardown may take ~15 s to list and kill processes left behind.
    teardownTimeout: 30_000,
    pool: "forks",
    reporters: ["default"],
    projects: [
      {
        extends: true,
        test: {
          name: "tests",
          include: ["app/**/*.test.ts", "server/**/*.test.ts", "test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...LOAD],
          maxWorkers: 2,
        },
      },
      {
        extends: true,
        test: { name: "load", include: LOAD, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
