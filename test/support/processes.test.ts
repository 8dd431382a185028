/**
 * The helpers that find and stop the processes the tests start
 * (test/support/processes.ts): the pure parts on made-up process tables, then
 * stopChild and the markers on real processes.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  describeProcesses,
  descendantsOf,
  isVitestHelper,
  listProcesses,
  markedProcesses,
  markerEnv,
  OWNER_MARKER,
  parseEnviron,
  parseStat,
  RUN_MARKER,
  stopChild,
  type ProcessInfo,
} from "./processes.ts";
import { until } from "./until.ts";

const proc = (pid: number, ppid: number, command: string, env: Record<string, string> = {}): ProcessInfo => ({
  pid,
  ppid,
  state: "S",
  command,
  env: new Map(Object.entries(env)),
});

describe("reading /proc", () => {
  it("parses an environ file: NUL-separated, values may hold '=', the last entry ends with NUL", () => {
    const env = parseEnviron("PATH=/usr/bin\0RRO_TEST_RUN=abc\0OPTS=a=b=c\0EMPTY=\0");
    expect([...env]).toEqual([
      ["PATH", "/usr/bin"],
      ["RRO_TEST_RUN", "abc"],
      ["OPTS", "a=b=c"],
      ["EMPTY", ""],
    ]);
    expect(parseEnviron("").size).toBe(0);
  });

  it("parses a stat line whose command name holds spaces and parentheses", () => {
    expect(parseStat("4242 (node) S 4200 4242 4200 0 -1")).toEqual({ state: "S", ppid: 4200 });
    expect(parseStat("77 (chrome (x) y) Z 1 77 77 0 -1")).toEqual({ state: "Z", ppid: 1 });
  });
});

describe("markedProcesses", () => {
  const marker = { name: RUN_MARKER, value: "run-1" };
  const table = [
    proc(100, 1, "node vitest.mjs run", { RRO_TEST_RUN: "run-1" }), // the main process
    proc(101, 100, "node /p/node_modules/vitest/dist/workers/forks.js", { RRO_TEST_RUN: "run-1" }),
    proc(102, 100, "/p/node_modules/@esbuild/linux-x64/bin/esbuild --service=0.25.0 --ping", { RRO_TEST_RUN: "run-1" }),
    proc(103, 100, "sleep 1000", { RRO_TEST_RUN: "run-1" }), // a direct child that is not Vitest's
    proc(200, 101, "node --import tsx server/index.ts", { RRO_TEST_RUN: "run-1" }),
    proc(201, 1, "redis-server *:6380", { RRO_TEST_RUN: "run-1" }), // orphaned
    proc(300, 1, "node --import tsx server/index.ts", { RRO_TEST_RUN: "another-run" }),
    proc(301, 1, "node --import tsx server/index.ts"),
  ];

  it("finds every process of the run, orphaned or not, but the main process and Vitest's own children", () => {
    expect(markedProcesses(table, marker, 100, isVitestHelper).map((p) => p.pid)).toEqual([103, 200, 201]);
  });

  it("leaves out only `self` when no children are Vitest's", () => {
    expect(markedProcesses(table, marker, 100).map((p) => p.pid)).toEqual([101, 102, 103, 200, 201]);
  });

  it("ignores another run's processes and unmarked ones", () => {
    expect(markedProcesses(table, { name: RUN_MARKER, value: "another-run" }, 100).map((p) => p.pid)).toEqual([300]);
    expect(markedProcesses(table, { name: OWNER_MARKER, value: "run-1" }, 100)).toEqual([]);
  });

  it("tells Vitest's workers and esbuild's service from a test's processes", () => {
    expect(table.filter(isVitestHelper).map((p) => p.pid)).toEqual([101, 102]);
  });
});

it("descendantsOf follows children of children, and describeProcesses lists pid, parent, command and PORT", () => {
  const table = [proc(1, 0, "init"), proc(10, 1, "npm run dev"), proc(11, 10, "sh -c tsx"), proc(12, 11, "redis")];
  expect(descendantsOf(table, 10).map((p) => p.pid)).toEqual([11, 12]);
  expect(descendantsOf(table, 12)).toEqual([]);
  expect(describeProcesses([table[3]!])).toBe("  pid 12 (parent 11): redis");
  expect(describeProcesses([proc(20, 1, "node server/index.ts", { PORT: "3000" })])).toBe(
    "  pid 20 (parent 1): node server/index.ts [PORT=3000]",
  );
});

describe("on real processes", () => {
  it("a child started with an explicit env carries the markers markerEnv passes on", async () => {
    expect(Object.keys(markerEnv()).sort()).toEqual([OWNER_MARKER, RUN_MARKER]); // set by the setup files
    const child = spawn("sleep", ["30"], {
      env: { NODE_ENV: "test", PATH: process.env.PATH, ...markerEnv() },
      stdio: "ignore",
    });
    try {
      const owner = { name: OWNER_MARKER, value: process.env[OWNER_MARKER]! };
      expect(
        await until(
          async () => markedProcesses(listProcesses(), owner, process.pid).some((p) => p.pid === child.pid),
          5_000,
        ),
      ).toBe(true);
    } finally {
      await stopChild(child);
    }
  });

  it("stopChild kills a child that ignores SIGTERM, and what it started, once the grace period is over", async () => {
    // A parent that ignores SIGTERM and has started a grandchild of its own.
    const parent = spawn(
      process.execPath,
      [
        "-e",
        `process.on("SIGTERM", () => {}); require("node:child_process").spawn("sleep", ["30"], { stdio: "ignore" }); console.log("ready"); setInterval(() => {}, 1000);`,
      ],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    await new Promise((resolve) => parent.stdout.once("data", resolve));
    const [grandchild] = descendantsOf(listProcesses(), parent.pid!);
    expect(grandchild?.command).toBe("sleep 30");
    const started = Date.now();
    await stopChild(parent, 500);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(parent.signalCode).toBe("SIGKILL");
    expect(await until(async () => !listProcesses().some((p) => p.pid === grandchild!.pid), 5_000)).toBe(true);
  });
});
