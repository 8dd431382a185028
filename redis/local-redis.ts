/**
 * Starts a local `redis-server` from this folder's redis.conf: used by
 * `npm run dev` (when REDIS_URL is not set) and by the test harness.
 * The process is a child of the caller and is stopped with `stop()`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REDIS_CONF = path.join(path.dirname(fileURLToPath(import.meta.url)), "redis.conf");

export const INSTALL_HINT =
  "redis-server was not found. Run `npm run setup` (as root it installs Debian's redis-server), " +
  "or `sudo apt-get install redis-server` (Debian/Ubuntu), or `brew install redis` (macOS), " +
  "or set REDIS_URL to a Redis you already run.";

export interface LocalRedis {
  url: string;
  port: number;
  /** Stops the server (SIGTERM; Redis flushes its append-only file first). */
  stop(): Promise<void>;
  /** The child process, or undefined when an already-running server on that port was reused. */
  process: ChildProcess | undefined;
}

export function redisServerAvailable(): boolean {
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

function ping(port: number, timeoutMs = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (buf) => done(buf.toString().startsWith("+PONG")));
  });
}

export async function startLocalRedis(options: {
  port: number;
  dataDir: string;
  /** Reuse a Redis that already answers on the port (a dev server left over from an earlier run). */
  reuseRunning?: boolean;
  log?: (line: string) => void;
}): Promise<LocalRedis> {
  const { port, dataDir, log = () => {} } = options;
  const url = `redis://127.0.0.1:${port}`;
  if (options.reuseRunning && (await ping(port))) {
    log(`reusing the Redis already answering on ${url}`);
    return { url, port, process: undefined, stop: async () => {} };
  }
  if (!redisServerAvailable()) throw new Error(INSTALL_HINT);
  mkdirSync(dataDir, { recursive: true });
  const child = spawn("redis-server", [REDIS_CONF, "--port", String(port), "--dir", path.resolve(dataDir)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (b: Buffer) => (output = (output + b.toString()).slice(-4000)));
  child.stderr.on("data", (b: Buffer) => (output = (output + b.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`redis-server did not start on port ${port}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // However this process ends (Vite, for one, exits on SIGTERM by itself), take Redis along.
  const onExit = () => child.kill("SIGTERM");
  process.once("exit", onExit);
  log(`Redis started from ${path.relative(process.cwd(), REDIS_CONF)} on ${url} (data in ${dataDir})`);
  return {
    url,
    port,
    process: child,
    async stop() {
      process.off("exit", onExit);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
