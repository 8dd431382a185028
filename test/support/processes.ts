/**
 * The processes the tests start, found and stopped by a marker in their
 * environment rather than by a pid kept somewhere: whatever started them
 * (a helper, a script run by a test, `npm run dev` starting its own Redis,
 * Chromium's helpers), however they ended up (reparented after their parent
 * died), they carry the variables of the run that started them.
 *
 * - `RRO_TEST_RUN`: set once for the whole run by the global setup
 *   (test/support/global-setup.ts), which fails the run if a process carrying
 *   it is still alive at the end.
 * - `RRO_TEST_OWNER`: set in each test file's worker (test/support/file-setup.ts),
 *   which stops what the file left running once its tests are done.
 *
 * Children inherit both, unless they are spawned with an explicit `env`: such
 * a spawn adds `markerEnv()` (startApp does). Linux only (`/proc`); elsewhere
 * nothing is found and nothing is enforced.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";

export const RUN_MARKER = "RRO_TEST_RUN";
export const OWNER_MARKER = "RRO_TEST_OWNER";

/** The marker variables of this process, for a child spawned with an explicit `env`. */
export function markerEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [RUN_MARKER, OWNER_MARKER]) {
    const value = process.env[name];
    if (value) env[name] = value;
  }
  return env;
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** One letter from /proc/<pid>/stat: R, S, D, Z (zombie: dead, waiting to be reaped)… */
  state: string;
  command: string;
  env: Map<string, string>;
}

/** /proc/<pid>/environ: NUL-separated NAME=value entries. */
export function parseEnviron(raw: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const entry of raw.split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

/**
 * /proc/<pid>/stat: `pid (comm) state ppid …`. The command name may hold
 * spaces and parentheses, so the fields are read after its last `)`.
 */
export function parseStat(stat: string): { state: string; ppid: number } {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0] ?? "?", ppid: Number(fields[1]) };
}

function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const { state, ppid } = parseStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
    const env = parseEnviron(readFileSync(`/proc/${pid}/environ`, "utf8"));
    const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
    return { pid, ppid, state, command, env };
  } catch {
    return undefined; // gone meanwhile, or another user's (environ is readable by its owner only)
  }
}

/** Every process of this user that is still running (zombies are dead: left out). Synchronous. */
export function listProcesses(): ProcessInfo[] {
  if (!existsSync("/proc/self/stat")) return [];
  const processes: ProcessInfo[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const info = readProcess(Number(name));
    if (info && info.state !== "Z") processes.push(info);
  }
  return processes;
}

/**
 * The processes carrying `name=value`, but for `self` and, when `ownChildren`
 * says so, its own direct children (Vitest's workers and its esbuild service
 * inherit the run's marker from the main process; the tests run in the workers,
 * so nothing they start is a direct child of the main process).
 */
export function markedProcesses(
  processes: readonly ProcessInfo[],
  marker: { name: string; value: string },
  self: number,
  ownChildren: (process: ProcessInfo) => boolean = () => false,
): ProcessInfo[] {
  return processes.filter(
    (p) => p.env.get(marker.name) === marker.value && p.pid !== self && !(p.ppid === self && ownChildren(p)),
  );
}

/** Vitest's own helpers, as direct children of its main process: the pool's workers and esbuild's service. */
export function isVitestHelper(process: ProcessInfo): boolean {
  return /[/\\]vitest[/\\]dist[/\\]workers[/\\]|[/\\]esbuild(?:\.exe)? --service=/.test(process.command);
}

/** Every descendant of `pid` (children, their children…), from one snapshot of the process table. */
export function descendantsOf(processes: readonly ProcessInfo[], pid: number): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  let parents = new Set([pid]);
  while (parents.size > 0) {
    const children = processes.filter((p) => parents.has(p.ppid) && !found.includes(p));
    found.push(...children);
    parents = new Set(children.map((p) => p.pid));
  }
  return found;
}

/** One line per process: pid, parent, command line and, for a server, its PORT; for a failure message. */
export function describeProcesses(processes: readonly ProcessInfo[]): string {
  return processes
    .map((p) => {
      const port = p.env.get("PORT");
      return `  pid ${p.pid} (parent ${p.ppid}): ${p.command || "(no command line)"}${port ? ` [PORT=${port}]` : ""}`;
    })
    .join("\n");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether `pid` is still running and still the process of `marker` (a pid may have been reused). */
function stillThere(pid: number, marker?: { name: string; value: string }) {
  const info = readProcess(pid);
  if (!info || info.state === "Z") return false;
  return !marker || info.env.get(marker.name) === marker.value;
}

function signal(pid: number, name: NodeJS.Signals) {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/**
 * SIGTERM, then SIGKILL to whatever is still running after `graceMs`; resolves
 * once they are all gone (or, for a process that cannot be killed, 5 s later).
 * With a marker, a pid no longer carrying it is left alone.
 */
export async function terminate(
  pids: readonly number[],
  { graceMs = 5_000, marker }: { graceMs?: number; marker?: { name: string; value: string } } = {},
) {
  const alive = () => pids.filter((pid) => stillThere(pid, marker));
  for (const pid of alive()) signal(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (alive().length > 0 && Date.now() < deadline) await sleep(50);
  for (const pid of alive()) signal(pid, "SIGKILL");
  const killDeadline = Date.now() + 5_000;
  while (alive().length > 0 && Date.now() < killDeadline) await sleep(50);
}

/**
 * Polls `find` until it finds nothing or `ms` has passed, and returns what it
 * found last: a process in the middle of exiting (Chromium's helpers a moment
 * after the browser) is given that long.
 */
export async function settle(find: () => ProcessInfo[], ms: number): Promise<ProcessInfo[]> {
  const deadline = Date.now() + ms;
  let left = find();
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(100);
    left = find();
  }
  return left;
}

/**
 * Stops a child process: SIGTERM, and after `graceMs` SIGKILL to it and to
 * every process it started (a server may take its own grace period, or ignore
 * the signal altogether). Resolves once it has exited.
 */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
  ]);
  clearTimeout(timer);
  if (!timedOut) return;
  const descendants = descendantsOf(listProcesses(), child.pid);
  child.kill("SIGKILL");
  for (const p of descendants) signal(p.pid, "SIGKILL");
  await exited;
}

/**
 * SIGKILL, synchronously, to every process carrying `marker` but this one: for
 * a process about to die that has no time to wait (a worker being terminated).
 */
export function killMarkedNow(marker: { name: string; value: string }) {
  for (const p of markedProcesses(listProcesses(), marker, process.pid)) signal(p.pid, "SIGKILL");
}
