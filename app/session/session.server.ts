/**
 * The app's sessions, and the one place where the design is chosen:
 * - Redis (SESSION_STORE=redis, the default): the cookie holds a signed id,
 *   the record lives in the session store;
 * - the cookie itself (SESSION_STORE=cookie): the design this project
 *   replaces, kept for comparison.
 * Everything above works through the functions here without asking which
 * design is on; where behaviour really differs, it asks `sessionsLiveOnServer()`
 * (docs/decisions/012-layers-and-one-session-owner.md names those places).
 *
 * Failures are typed (RedisUnavailableError, SessionTooLargeError…) and
 * become pages and statuses at one edge (app/web/http-errors.server.ts).
 */
import { remember } from "@epic-web/remember";
import { createCookie, createSession, type Cookie, type SessionStorage } from "@remix-run/node";
import { getEnv } from "../platform/env.server.ts";
import { RedisCommandError, RedisUnavailableError, withRedis } from "../platform/redis.server.ts";
import { createCookieDesignStorage } from "./cookie-session-storage.server.ts";
import { createRedisSessionStorage } from "./redis-session-storage.server.ts";
import { FLOW_MAX_AGE, type AppSession, type SessionData } from "./session-data.ts";
import { RedisSessionStore, type SessionQuery, type StoredSession } from "./session-store.server.ts";

function cookieName(base: string) {
  // `__Host-` pins the cookie to this host, https and path "/" (it requires Secure).
  return getEnv().appUrl.protocol === "https:" ? `__Host-${base}` : base;
}

function cookieOptions() {
  const env = getEnv();
  return {
    httpOnly: true,
    sameSite: "lax" as const,
    secure: env.appUrl.protocol === "https:",
    path: "/",
    secrets: env.sessionSecrets,
  };
}

interface Sessions {
  cookie: Cookie;
  storage: SessionStorage<SessionData, SessionData>;
  /** The Redis session store; undefined in the cookie design, which keeps nothing on the server. */
  store: RedisSessionStore<SessionData> | undefined;
}

const sessions = (): Sessions =>
  remember("rro:sessions", () => {
    const env = getEnv();
    const cookie = createCookie(cookieName("rro_sid"), { ...cookieOptions(), maxAge: env.sessionMaxAge });
    if (env.sessionStore === "cookie")
      return { cookie, storage: createCookieDesignStorage<SessionData>(cookie), store: undefined };
    const store = new RedisSessionStore<SessionData>({
      redis: withRedis,
      prefix: env.redisKeyPrefix,
      idleTimeout: env.sessionIdleTimeout,
      maxAge: env.sessionMaxAge,
    });
    return { cookie, storage: createRedisSessionStorage({ cookie, store }), store };
  });

/**
 * Whether sessions live on the server (the Redis design): only then can they
 * be listed, ended from elsewhere, and refreshed in place.
 */
export function sessionsLiveOnServer(): boolean {
  return sessions().store !== undefined;
}

/**
 * The session of this request. A missing, unsigned, tampered or malformed
 * cookie, or one whose record no longer exists, gives a new empty session:
 * an id is never reused once its record is gone. Redis failures are thrown.
 */
export async function getSession(request: Request): Promise<AppSession> {
  let session: AppSession;
  try {
    session = await sessions().storage.getSession(request.headers.get("Cookie"));
  } catch (error) {
    if (error instanceof RedisUnavailableError || error instanceof RedisCommandError) throw error;
    return createSession<SessionData>(); // an undecodable cookie: no session
  }
  if (typeof session.id !== "string" || Object.keys(session.data).length === 0) return createSession<SessionData>();
  return session;
}

/** Stores the session and returns its Set-Cookie (a new id for a new session). */
export function commitSession(session: AppSession, options?: { maxAge?: number }): Promise<string> {
  return sessions().storage.commitSession(session, options);
}

/** Deletes the session (record, then index entries) and returns the Set-Cookie that clears the cookie. */
export function destroySession(session: AppSession): Promise<string> {
  return sessions().storage.destroySession(session);
}

/**
 * The session with this id, as stored now (null when it no longer exists, and
 * always in the cookie design). For work that outlives one request's view of
 * the session, e.g. waiting for another process's token refresh.
 */
export async function readSessionById(id: string): Promise<AppSession | null> {
  const data = await sessions().store?.read(id);
  return data ? createSession<SessionData>(data, id) : null;
}

/** Writes a session read by id back to the store (no cookie: the browser's stays as it is). */
export async function saveSession(session: AppSession): Promise<void> {
  const store = sessions().store;
  await store?.update(session.id, session.data, store.idleTimeout);
}

/** The live sessions of a provider session or a user (none in the cookie design: nothing is kept to find them by). */
export async function sessionsOf(query: SessionQuery): Promise<StoredSession<SessionData>[]> {
  return (await sessions().store?.list(query)) ?? [];
}

/** Ends sessions found with `sessionsOf`: records and index entries. */
export async function destroySessions(list: ReadonlyArray<{ id: string; data: SessionData }>): Promise<void> {
  await sessions().store?.destroyMany(list);
}

function serverStore(): RedisSessionStore<SessionData> {
  const store = sessions().store;
  if (!store) throw new Error("SESSION_STORE=cookie keeps nothing on the server: check sessionsLiveOnServer() first");
  return store;
}

/** One token refresh per session across processes: a lock held in the session store (server-side designs only). */
export const refreshLock = {
  /** Takes it for `ms` milliseconds; returns the owner token, or null when another holds it. */
  take: (id: string, ms: number) => serverStore().lock(id, ms),
  /** Who holds it now, or null. */
  owner: (id: string) => serverStore().lockOwner(id),
  /** Releases it if `owner` still holds it. */
  release: (id: string, owner: string) => serverStore().unlock(id, owner),
};

/** Short-lived cookie holding the `state` of an RP-initiated logout until the provider sends the browser back. */
export function logoutStateCookie() {
  return createCookie(cookieName("rro_logout"), { ...cookieOptions(), maxAge: FLOW_MAX_AGE });
}
