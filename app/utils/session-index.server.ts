/**
 * Which sessions belong to a provider session (`sid`) or a user (`sub`), so
 * that a back-channel logout (or "sign out everywhere") can find them without
 * scanning. One sorted set per sid and per sub, members = session ids, score =
 * the session's absolute expiry (epoch seconds):
 *   <prefix>sid:<sha256(sid)>   <prefix>sub:<sha256(sub)>
 * Entries are added in the same transaction that creates the session, removed
 * in the same transaction that deletes it (logout, revocation, absolute
 * expiry seen), pruned of
 * expired scores at every add, and dropped when found without their session
 * (idle expiry) on read. Each index key expires SESSION_MAX_AGE after its
 * last add, so none outlives its sessions by more than that.
 * docs/decisions/009-backchannel-logout.md
 */
import { createHash } from "node:crypto";
import type { ChainableCommander } from "ioredis";
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

/** Adds a new signed-in session to its indexes, inside the transaction that creates it. */
export function addToIndexes(transaction: ChainableCommander, id: string, data: SessionData) {
  if (!data.expiresAt) return;
  for (const key of indexKeys(data)) {
    transaction.zadd(key, data.expiresAt, id).zremrangebyscore(key, "-inf", now()).expire(key, getEnv().sessionMaxAge);
  }
}

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
  const replies = await withRedis((r) => ids.reduce((p, id) => p.get(sessionKey(id)).ttl(sessionKey(id)), r.pipeline()).exec());
  const sessions: ListedSession[] = [];
  const gone: string[] = [];
  ids.forEach((id, i) => {
    const raw = replies?.[2 * i]?.[1];
    const ttl = Number(replies?.[2 * i + 1]?.[1] ?? -2);
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

/** Deletes sessions and all their index entries together (one MULTI): none is left unindexed but alive. */
export async function destroyIndexedSessions(sessions: Array<Pick<ListedSession, "id" | "data">>): Promise<void> {
  if (sessions.length === 0) return;
  await withRedis((r) =>
    sessions.reduce((m, { id, data }) => indexKeys(data).reduce((q, key) => q.zrem(key, id), m.del(sessionKey(id))), r.multi()).exec(),
  );
}
