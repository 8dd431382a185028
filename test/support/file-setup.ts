/**
 * Set up in each test file's worker (Vitest `setupFiles`): whatever the file
 * started is stopped when it is done, even after a failed or timed-out test,
 * a helper that threw halfway, or a cleanup never registered.
 *
 * The worker marks what it starts with `RRO_TEST_OWNER=<uuid>` (inherited, or
 * passed on by `markerEnv()`). After the file's own `afterAll` hooks, any
 * process still carrying it gets SIGTERM, then SIGKILL, and the file fails
 * with their list: a test or helper forgot to stop them. If Vitest terminates
 * the worker first (SIGTERM, a test still running), they are killed at once.
 */
import { randomUUID } from "node:crypto";
import { afterAll } from "vitest";
import {
  describeProcesses,
  killMarkedNow,
  listProcesses,
  markedProcesses,
  OWNER_MARKER,
  settle,
  terminate,
} from "./processes.ts";

const marker = { name: OWNER_MARKER, value: randomUUID() };
process.env[OWNER_MARKER] = marker.value;

// Vitest stops a worker with SIGTERM (SIGKILL 500 ms later), which skips every "exit"
// handler: kill what this file started, then die of the signal as Node would have.
process.once("SIGTERM", () => {
  killMarkedNow(marker);
  process.kill(process.pid, "SIGTERM");
});

afterAll(async () => {
  const left = await settle(() => markedProcesses(listProcesses(), marker, process.pid), 3_000);
  if (left.length === 0) return;
  await terminate(
    left.map((p) => p.pid),
    { graceMs: 5_000, marker },
  );
  throw new Error(
    `${left.length} process(es) started by this file were still running after its tests ` +
      `(now stopped: SIGTERM, then SIGKILL after 5 s):\n${describeProcesses(left)}`,
  );
}, 30_000);
