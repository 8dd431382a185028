import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["app/**/*.test.ts", "test/**/*.test.ts"],
    // No process a test starts outlives its file (file-setup) or the run (global-setup): test/support/processes.ts.
    globalSetup: ["test/support/global-setup.ts"],
    setupFiles: ["test/support/file-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default"],
  },
});
