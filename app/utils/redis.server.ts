/**
 * The one Redis connection of this process (ioredis), created on first use
 * and kept across development reloads.
 *
 * Failure behaviour is deliberate (docs/decisions/003-redis-keys-and-ttls.md):
 * no offline queue, so while Redis is down a command fails at once instead of
 * piling up; a bounded command timeout; reconnection every ≤ 500 ms, so
 * service returns by itself within a second of Redis coming back.
 */
import { Redis, ReplyError } from "ioredis";
import { getEnv } from "./env.server.ts";

declare global {
  var __rroRedis: Redis | undefined;
}

export class RedisUnavailableError extends Error {
  readonly code = "redis_unavailable";
  constructor(cause: unknown) {
    super(`Redis is unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "RedisUnavailableError";
  }
}

/** A reply that is not an outage (NOAUTH, WRONGTYPE, unknown command…): a bug or a misconfiguration. */
export class RedisCommandError extends Error {
  readonly code = "redis_command_failed";
  constructor(cause: Error) {
    super(`Redis refused a command: ${cause.message}`, { cause });
    this.name = "RedisCommandError";
  }
}

export function createRedisClient(url: string): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 500),
  });
  let down = false;
  client.on("error", (error: Error) => {
    if (down) return; // one line per outage, not one per reconnect attempt
    down = true;
    console.error(`[redis] ${url.replace(/\/\/[^@]*@/, "//***@")} unreachable: ${error.message}; retrying`);
  });
  client.on("ready", () => {
    if (down) console.error("[redis] connection restored");
    down = false;
  });
  return client;
}

export function getRedis(): Redis {
  globalThis.__rroRedis ??= createRedisClient(getEnv().redisUrl);
  return globalThis.__rroRedis;
}

const FIRST_CONNECT_WAIT_MS = 1_000;

/** While the very first connection is being made, wait for it briefly (there is no offline queue). */
async function firstConnection(redis: Redis) {
  if (!["wait", "connecting", "connect"].includes(redis.status)) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, FIRST_CONNECT_WAIT_MS);
    function done() {
      clearTimeout(timer);
      redis.off("ready", done).off("end", done);
      resolve();
    }
    redis.once("ready", done).once("end", done);
  });
}

/** Replies that mean "not now" (loading, failing over, full) rather than a bug or a misconfiguration. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|READONLY|TRYAGAIN|OOM)\b/;

/**
 * Runs a Redis operation, turning outages (no connection, timeouts, transient
 * replies) into RedisUnavailableError; other replies (NOAUTH, WRONGTYPE,
 * unknown command…) into RedisCommandError, which ends as a 500.
 */
export async function withRedis<T>(operation: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = getRedis();
  try {
    await firstConnection(redis);
    return await operation(redis);
  } catch (error) {
    if (error instanceof ReplyError && !TRANSIENT_REPLY.test((error as Error).message)) throw new RedisCommandError(error as Error);
    throw new RedisUnavailableError(error);
  }
}

/** The app needs Redis 6.2 or newer (GETEX). Returns a message when `info` (INFO server) shows an older one. */
export function redisVersionProblem(info: string): string | undefined {
  const version = /^redis_version:(\d+)\.(\d+)/m.exec(info);
  if (!version) return undefined;
  const [major, minor] = [Number(version[1]), Number(version[2])];
  if (major > 6 || (major === 6 && minor >= 2)) return undefined;
  return `Redis ${major}.${minor} found; this app needs Redis 6.2 or newer (it reads sessions with GETEX). Upgrade Redis or point REDIS_URL at a newer one.`;
}

/** At start-up: a clear line if Redis is unreachable (the app starts anyway and recovers), an error if it is too old. */
export async function checkRedisAtStartup(url: string): Promise<{ problem?: string; warning?: string }> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => {});
  try {
    await client.connect();
    return { problem: redisVersionProblem(await client.info("server")) };
  } catch (error) {
    return { warning: `Redis at ${url.replace(/\/\/[^@]*@/, "//***@")} is not reachable yet (${error instanceof Error ? error.message : error}); pages that need a session answer 503 until it is.` };
  } finally {
    client.disconnect();
  }
}
