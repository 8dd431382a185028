import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["app/**/*.test.ts", "test/**/*.test.ts"],
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
    maxWorkers: 2,
    reporters: ["default"],
  },
});
