/**
 * Which sessions belong to a provider session (`sid`) or a user (`sub`), so
 * that a back-channel logout (or "sign out everywhere") can find them without
 * scanning. One sorted set per sid and per sub, members = session ids, score =
 * the session's absolute expiry (epoch seconds):
 *   <prefix>sid:<sha256(sid)>   <prefix>sub:<sha256(sub)>
 * Entries are added in the same transaction that creates the session, removed
 * when it is destroyed (logout, revocation, absolute expiry seen), pruned of
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

/** Removes a session from its indexes (its record is deleted by the caller). */
export async function removeFromIndexes(id: string, data: SessionData) {
  const keys = indexKeys(data);
  if (!id || keys.length === 0) return;
  await withRedis((r) => keys.reduce((p, key) => p.zrem(key, id), r.pipeline()).exec());
}

/** The live session ids of a provider session or a user; entries whose session is gone are dropped on the way. */
export async function sessionIdsFor(query: IndexQuery): Promise<string[]> {
  const key = indexKey(query);
  const ids = await withRedis((r) => r.zrangebyscore(key, now(), "+inf"));
  if (ids.length === 0) return [];
  const exists = await withRedis((r) => ids.reduce((p, id) => p.exists(sessionKey(id)), r.pipeline()).exec());
  const gone = ids.filter((_, i) => exists?.[i]?.[1] === 0);
  if (gone.length) await withRedis((r) => r.zrem(key, ...gone));
  return ids.filter((_, i) => exists?.[i]?.[1] === 1);
}

/** Deletes these sessions and their index entries in one round trip; returns how many records existed. */
export async function destroySessions(query: IndexQuery, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const results = await withRedis((r) => r.pipeline().del(...ids.map(sessionKey)).zrem(indexKey(query), ...ids).exec());
  return Number(results?.[0]?.[1] ?? 0);
}

export interface ListedSession {
  id: string;
  data: SessionData;
  /** Seconds left of its idle timeout: each read of the session resets it to SESSION_IDLE_TIMEOUT. */
  ttl: number;
}

/** A user's live sessions, read without touching them (GET and TTL: their idle timers do not slide). */
export async function listSessions(sub: string): Promise<ListedSession[]> {
  const ids = await sessionIdsFor({ sub });
  if (ids.length === 0) return [];
  const replies = await withRedis((r) => ids.reduce((p, id) => p.get(sessionKey(id)).ttl(sessionKey(id)), r.pipeline()).exec());
  return ids.flatMap((id, i) => {
    const raw = replies?.[2 * i]?.[1];
    const ttl = Number(replies?.[2 * i + 1]?.[1] ?? -2);
    if (typeof raw !== "string" || ttl < 0) return [];
    try {
      return [{ id, data: JSON.parse(raw) as SessionData, ttl }];
    } catch {
      return [];
    }
  });
}

/** Deletes listed sessions and all their index entries in one round trip. */
export async function destroyListedSessions(sessions: ListedSession[]): Promise<void> {
  if (sessions.length === 0) return;
  await withRedis((r) =>
    sessions
      .reduce((p, { id, data }) => indexKeys(data).reduce((q, key) => q.zrem(key, id), p.del(sessionKey(id))), r.pipeline())
      .exec(),
  );
}
