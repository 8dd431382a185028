/**
 * Which sessions belong to a provider session (`sid`) or a user (`sub`), so
 * that a back-channel logout (or "sign out everywhere") can find them without
 * scanning. One sorted set per sid and per sub, members = session ids, score =
 * the session's absolute expiry (epoch seconds):
 *   <prefix>sid:<sha256(sid)>   <prefix>sub:<sha256(sub)>
 * Entries are added before the session record is written and removed after
 * it is deleted (logout, revocation, absolute expiry seen), so a live session
 * is always indexed; an entry left behind by a failure in between names no
 * session and is dropped when found (as are those of idle-expired sessions).
 * Entries are pruned of expired scores at every add, and each index key
 * expires SESSION_MAX_AGE after its last add, so none outlives its sessions by
 * more than that. No command touches two keys, so all of this works on a
 * Redis Cluster. docs/decisions/009-backchannel-logout.md, 011-redis-topologies.md
 */
import { createHash } from "node:crypto";
import { getEnv } from "./env.server.ts";
import { withRedis } from "./redis.server.ts";
import type { SessionData } from "./session.server.ts";

const digest = (value: string) => createHash("sha256").update(value).digest("base64url");

export type IndexQuery = { sid: string } | { sub: string };

function indexKey(query: IndexQuery) {
  const prefix = getEnv().redisKeyPrefix;
  return "sid" in query ? `${prefix}sid:${digest(query.sid)}` : `${prefix}sub:${digest(query.sub)}`;
}

function indexKeys(data: Pick<SessionData, "user" | "sid">): string[] {
  if (!data.user) return [];
  return [indexKey({ sub: data.user.sub }), ...(data.sid ? [indexKey({ sid: data.sid })] : [])];
}

const sessionKey = (id: string) => `${getEnv().redisKeyPrefix}sess:${id}`;
const now = () => Math.floor(Date.now() / 1000);

/** Adds a new signed-in session to its indexes, before its record is written. One MULTI per index key. */
async function addToIndexes(id: string, data: SessionData) {
  const expiresAt = data.expiresAt;
  if (!expiresAt) return;
  await withRedis((r) =>
    Promise.all(
      indexKeys(data).map((key) =>
        r.multi().zadd(key, expiresAt, id).zremrangebyscore(key, "-inf", now()).expire(key, getEnv().sessionMaxAge).exec(),
      ),
    ),
  );
}

async function removeFromIndexes(sessions: Array<Pick<ListedSession, "id" | "data">>) {
  await withRedis((r) => Promise.all(sessions.flatMap(({ id, data }) => indexKeys(data).map((key) => r.zrem(key, id)))));
}

/** What the Redis session storage calls to keep the indexes in step with the records. */
export const sessionIndexes = {
  add: addToIndexes,
  remove: (id: string, data: SessionData) => removeFromIndexes([{ id, data }]),
};

export interface ListedSession {
  id: string;
  data: SessionData;
  /** Seconds left of its idle timeout: each read of the session resets it to SESSION_IDLE_TIMEOUT. */
  ttl: number;
}

/**
 * The live sessions of a provider session or a user, read without touching
 * them (GET and TTL: their idle timers do not slide). Entries whose session
 * is gone (idle expiry) are dropped from the index on the way.
 */
export async function sessionsFor(query: IndexQuery): Promise<ListedSession[]> {
  const key = indexKey(query);
  const ids = await withRedis((r) => r.zrangebyscore(key, now(), "+inf"));
  if (ids.length === 0) return [];
  // One command per key (they may live on different Cluster nodes); ioredis sends them without waiting in between.
  const replies = await withRedis((r) => Promise.all(ids.map((id) => Promise.all([r.get(sessionKey(id)), r.ttl(sessionKey(id))]))));
  const sessions: ListedSession[] = [];
  const gone: string[] = [];
  ids.forEach((id, i) => {
    const [raw, ttl] = replies[i]!;
    try {
      if (typeof raw === "string" && ttl >= 0) return void sessions.push({ id, data: JSON.parse(raw) as SessionData, ttl });
    } catch {
      // an unreadable record is treated as gone
    }
    gone.push(id);
  });
  if (gone.length) await withRedis((r) => r.zrem(key, ...gone));
  return sessions;
}

/** Deletes sessions, then their index entries: if the second step fails, what is left names no session. */
export async function destroyIndexedSessions(sessions: Array<Pick<ListedSession, "id" | "data">>): Promise<void> {
  if (sessions.length === 0) return;
  await withRedis((r) => Promise.all(sessions.map(({ id }) => r.del(sessionKey(id)))));
  await removeFromIndexes(sessions);
}
