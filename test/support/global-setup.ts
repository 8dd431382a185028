/**
 * Vitest's global setup: no process started by the tests outlives the run.
 *
 * Before any worker starts, it marks the run: `RRO_TEST_RUN=<uuid>` in the
 * environment, inherited by the workers and by every process they start (see
 * test/support/processes.ts). At the end, every process still carrying that
 * value, Vitest's own main process and its workers aside, is a process the
 * tests left behind: after a short settling time (a process may be finishing
 * its exit), the survivors get SIGTERM, then SIGKILL, are listed, and the run
 * fails: exit code 1, and the list printed as an "error during close".
 */
import { randomUUID } from "node:crypto";
import {
  describeProcesses,
  isVitestHelper,
  listProcesses,
  markedProcesses,
  RUN_MARKER,
  settle,
  terminate,
} from "./processes.ts";

/**
 * Each Vitest project runs the global setup (vitest.config.ts has two): one
 * marker for the whole run, checked once, after the last project's teardown.
 */
interface Run {
  marker?: { name: string; value: string };
  projects: number;
}
const shared = globalThis as { [key: symbol]: Run | undefined };
const run = (shared[Symbol.for("rro.test-run")] ??= { projects: 0 });

export default function setup() {
  const marker = (run.marker ??= { name: RUN_MARKER, value: randomUUID() });
  process.env[RUN_MARKER] = marker.value;
  run.projects += 1;
  return async function teardown() {
    run.projects -= 1;
    if (run.projects > 0) return;
    const find = () => markedProcesses(listProcesses(), marker, process.pid, isVitestHelper);
    const survivors = await settle(find, 3_000);
    if (survivors.length === 0) return;
    // Vitest only prints an error thrown by a global teardown ("error during close") and still
    // exits 0 (4.1), and exits as it is once teardownTimeout has passed: the exit code is set first.
    process.exitCode = 1;
    await terminate(
      survivors.map((p) => p.pid),
      { graceMs: 3_000, marker },
    );
    throw new Error(
      `${survivors.length} process(es) started by the tests were still running after the last test file ` +
        `(now stopped: SIGTERM, then SIGKILL after 3 s):\n${describeProcesses(survivors)}`,
    );
  };
}
