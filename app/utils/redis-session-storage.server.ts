/**
 * Remix SessionStorage over ioredis (in the manner of connect-redis): the
 * cookie carries only a signed random id; the data lives at `<prefix>sess:<id>`
 * as JSON, and every key has a TTL.
 *
 * - ids are 128 random bits, base64url (22 characters);
 * - a read is one round trip, `GETEX … EX idle`, which also slides the idle
 *   timeout; nothing is written back unless the session changes;
 * - the TTL of a write is the smaller of the idle timeout and the time left
 *   until the cookie expires; zero or less deletes (as connect-redis does);
 * - an update never resurrects a session that was deleted meanwhile (`SET … XX`),
 *   so a logout in one tab cannot be undone by a write from another;
 * - every command touches one key, so it works unchanged on a Redis Cluster
 *   (docs/decisions/011-redis-topologies.md).
 */
import { randomBytes } from "node:crypto";
import { createSessionStorage, type Cookie, type SessionData, type SessionStorage } from "@remix-run/node";
import type { RedisClient } from "./redis.server.ts";

export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

export function newSessionId(): string {
  return randomBytes(16).toString("base64url");
}

export interface RedisSessionStorageOptions<Data = SessionData> {
  cookie: Cookie;
  /** Runs a command against Redis, mapping connection failures (see redis.server.ts). */
  redis: <T>(operation: (redis: RedisClient) => Promise<T>) => Promise<T>;
  /** Key prefix, e.g. "rro:" gives keys "rro:sess:<id>". */
  prefix: string;
  /** Sliding idle timeout, in seconds. */
  idleTimeout: number;
  /**
   * Entries that must exist whenever the session does (e.g. index entries):
   * `add` runs before the record is written, `remove` if it then is not.
   */
  index?: {
    add(id: string, data: Data): Promise<void>;
    remove(id: string, data: Data): Promise<void>;
  };
}

export function ttlSeconds(idleTimeout: number, expires: Date | undefined, now = Date.now()): number {
  if (!expires) return idleTimeout;
  return Math.min(idleTimeout, Math.floor((expires.getTime() - now) / 1000));
}

export function createRedisSessionStorage<Data = SessionData, FlashData = Data>(
  options: RedisSessionStorageOptions<Data>,
): SessionStorage<Data, FlashData> {
  const { redis, prefix, idleTimeout } = options;
  const key = (id: string) => `${prefix}sess:${id}`;

  return createSessionStorage<Data, FlashData>({
    cookie: options.cookie,
    async createData(data, expires) {
      const ttl = ttlSeconds(idleTimeout, expires);
      const body = JSON.stringify(data);
      for (;;) {
        const id = newSessionId();
        if (ttl <= 0) return id; // already expired: nothing to store
        await options.index?.add(id, data as Data);
        const created = await redis((r) => r.set(key(id), body, "EX", ttl, "NX"));
        if (created) return id;
        // A 128-bit collision is not expected; if it happens, the entries just added name someone else's session.
        await options.index?.remove(id, data as Data);
      }
    },
    async readData(id) {
      if (!SESSION_ID_PATTERN.test(id)) return null; // not one of ours: no Redis call
      const raw = await redis((r) => r.getex(key(id), "EX", idleTimeout));
      if (!raw) return null;
      try {
        return JSON.parse(raw);
      } catch {
        return null;
      }
    },
    async updateData(id, data, expires) {
      if (!SESSION_ID_PATTERN.test(id)) return;
      const ttl = ttlSeconds(idleTimeout, expires);
      if (ttl <= 0) {
        await redis((r) => r.del(key(id)));
        return;
      }
      await redis((r) => r.set(key(id), JSON.stringify(data), "EX", ttl, "XX"));
    },
    async deleteData(id) {
      if (!SESSION_ID_PATTERN.test(id)) return;
      await redis((r) => r.del(key(id)));
    },
  });
}
