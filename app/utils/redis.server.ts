/**
 * The one Redis connection of this process (ioredis), created on first use
 * and kept across development reloads.
 *
 * Failure behaviour is deliberate (docs/decisions/003-redis-keys-and-ttls.md):
 * no offline queue, so while Redis is down a command fails at once instead of
 * piling up; a bounded command timeout; reconnection every ≤ 500 ms, so
 * service returns by itself within a second of Redis coming back.
 */
import { Redis } from "ioredis";
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

/** Runs a Redis operation, turning connection failures into RedisUnavailableError. */
export async function withRedis<T>(operation: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = getRedis();
  try {
    await firstConnection(redis);
    return await operation(redis);
  } catch (error) {
    throw new RedisUnavailableError(error);
  }
}
