/**
 * The app's sessions, and the one place where the design is chosen:
 * - Redis (SESSION_STORE=redis, the default): the cookie holds a signed id,
 *   the session store keeps a small hot record (read by every request) and
 *   the tokens in a cold one (read only where they are used);
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
import { createCookie, createSession, createSessionStorage, type Cookie, type SessionStorage } from "@remix-run/node";
import { getEnv } from "../platform/env.server.ts";
import { logger } from "../platform/logger.server.ts";
import { metrics } from "../platform/metrics.server.ts";
import { RedisCommandError, RedisUnavailableError, withRedis, withWaitingRedis } from "../platform/redis.server.ts";
import { openToken, TokenDecryptionError } from "../platform/token-encryption.server.ts";
import { createCookieMigration } from "./cookie-migration.server.ts";
import { createCookieDesignStorage } from "./cookie-session-storage.server.ts";
import { createRedisSessionStorage } from "./redis-session-storage.server.ts";
import {
  FLOW_MAX_AGE,
  type AppSession,
  type HotSessionData,
  type SessionData,
  type SessionTokens,
} from "./session-data.ts";
import { RedisSessionStore, type SessionQuery, type StoredSession, type WaitOutcome } from "./session-store.server.ts";
import { decodeTokens, encodeTokens } from "./token-record.server.ts";
import { describeUserAgent } from "./user-agent.ts";

type Store = RedisSessionStore<HotSessionData, SessionTokens>;

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

const TOKEN_FIELDS = ["idToken", "accessToken", "refreshToken"] as const;

/** The hot record and the tokens of what the app set on a session. */
function split({ idToken, accessToken, refreshToken, tokenType, dpopKey, ...hot }: SessionData) {
  const tokens = { idToken, accessToken, refreshToken, tokenType, dpopKey };
  return { hot, cold: idToken || accessToken || refreshToken ? tokens : undefined };
}

/** A token stored in a session or an old record, opened; undefined (logged) when its key is gone. */
function opened(field: (typeof TOKEN_FIELDS)[number], value: unknown): string | undefined {
  if (typeof value !== "string" || !value) return undefined;
  try {
    return openToken(getEnv().tokenEncryptionKeys, field, value);
  } catch (error) {
    if (!(error instanceof TokenDecryptionError)) throw error;
    logger.error(`[session] ${error.message}`); // says which key id is missing, nothing of the token
    return undefined;
  }
}

/** A record of the single-record layout (tokens inside, sealed one by one; the raw User-Agent) as hot and cold. */
function fromLegacy(record: Record<string, unknown>) {
  const { userAgent, ...data } = record as SessionData & { userAgent?: string };
  const tokens = Object.fromEntries(TOKEN_FIELDS.map((field) => [field, opened(field, data[field])])) as SessionTokens;
  const { hot } = split(data);
  const device = hot.device ?? (userAgent === undefined ? undefined : describeUserAgent(userAgent));
  return {
    hot: { ...hot, device, refreshable: Boolean(tokens.refreshToken) || undefined },
    cold: tokens.idToken || tokens.accessToken || tokens.refreshToken ? tokens : undefined,
  };
}

/** A session of the cookie design as this app keeps it in Redis, or undefined when it is no (longer a) session. */
function fromCookieDesign(legacy: Record<string, unknown>) {
  const { hot, cold } = fromLegacy(legacy);
  const now = Math.floor(Date.now() / 1000);
  const { expiresAt, signedInAt, user } = hot;
  if (typeof user?.sub !== "string" || typeof expiresAt !== "number" || expiresAt <= now) return undefined;
  if (typeof signedInAt === "number" && signedInAt + getEnv().sessionMaxAge <= now) return undefined; // past today's absolute lifetime
  return { data: { ...hot, ...cold } as SessionData, expiresAt };
}

/**
 * After every WAIT that followed the end of a session (REDIS_WAIT_REPLICAS):
 * a shortfall is logged with the counts. The session is deleted on the
 * primary whatever the count: refusing the logout would be worse.
 * docs/operations.md#durable-logouts-on-replicated-redis
 */
function reportWait(outcome: WaitOutcome): void {
  const { acknowledged, wanted, sessions, ms } = outcome;
  if (acknowledged >= wanted) return;
  logger.warn(
    { acknowledged, wanted, sessions, waitedMs: ms },
    `[session] WAIT: ${acknowledged} of ${wanted} replicas acknowledged the end of ${sessions} session${sessions === 1 ? "" : "s"} ` +
      `within ${getEnv().redisWait.timeoutMs} ms; deleted on the primary, but a failover now could bring ${sessions === 1 ? "it" : "them"} back`,
  );
}

interface Sessions {
  cookie: Cookie;
  storage: SessionStorage<SessionData, SessionData>;
  /** The Redis session store; undefined in the cookie design, which keeps nothing on the server. */
  store: Store | undefined;
  /** SESSION_MIGRATION=cookie: moves a session of the cookie design into Redis (cookie-migration.server.ts). */
  migration: ReturnType<typeof createCookieMigration<SessionData>> | undefined;
}

const sessions = (): Sessions =>
  remember("rro:sessions", () => {
    const env = getEnv();
    const cookie = createCookie(cookieName("rro_sid"), { ...cookieOptions(), maxAge: env.sessionMaxAge });
    if (env.sessionStore === "cookie") {
      const seal = env.tokenEncryptionKeys[0];
      const storage = createCookieDesignStorage<SessionData>(cookie, seal, TOKEN_FIELDS);
      return { cookie, storage, store: undefined, migration: undefined };
    }
    const keys = env.tokenEncryptionKeys;
    const store: Store = new RedisSessionStore({
      redis: withRedis,
      prefix: env.redisKeyPrefix,
      idleTimeout: env.sessionIdleTimeout,
      maxAge: env.sessionMaxAge,
      cold: {
        encode: (tokens, id) => encodeTokens(tokens, id, keys),
        decode: (stored, id) => decodeTokens(stored, id, keys),
      },
      fromLegacy,
      onExpired: (reason, count) => metrics().sessionsEnded.inc({ reason }, count),
      durableDeletes:
        env.redisWait.replicas > 0 ? { ...env.redisWait, redis: withWaitingRedis, onWait: reportWait } : undefined,
    });
    const storage = createRedisSessionStorage({ createSessionStorage, cookie, store, split });
    const migration =
      env.sessionMigration &&
      createCookieMigration<SessionData>({
        ...env.sessionMigration,
        sessionCookieName: cookie.name,
        toSession: fromCookieDesign,
        commit: (data) => storage.commitSession(createSession<SessionData>(data)),
        discard: async (setCookie) => {
          await store.destroy(String(await cookie.parse(setCookie)));
        },
        claim: (digest, ttl) => store.claimMigration(digest, ttl),
        onOutcome: (outcome) => {
          metrics().sessionMigrations.inc({ outcome });
          if (outcome === "moved") metrics().sessionsCreated.inc({ via: "migration" });
        },
      });
    return { cookie, storage, store, migration };
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
  if (typeof session.id === "string" && Object.keys(session.data).length > 0) return session;
  // No session here: a session of the cookie design, moved into Redis, comes back on the same URL with its new cookie.
  const moved = await sessions()
    .migration?.migrate(request)
    .catch((error: unknown) => {
      if (error instanceof RedisUnavailableError) metrics().sessionMigrations.inc({ outcome: "unavailable" });
      throw error;
    });
  if (moved) throw moved;
  return createSession<SessionData>();
}

/** Stores the session and returns its Set-Cookie (a new id for a new session). */
export function commitSession(session: AppSession, options?: { maxAge?: number }): Promise<string> {
  return sessions().storage.commitSession(session, options);
}

/** Why a signed-in session was ended by the app: counted in rro_sessions_ended_total once the delete is done. */
export type EndReason = "logout" | "backchannel" | "revoked" | "refresh_refused" | "absolute";

/**
 * Deletes the session (records, then index entries) and returns the Set-Cookie
 * that clears the cookie. With a reason, it is counted as a session ended.
 */
export async function destroySession(session: AppSession, reason?: EndReason): Promise<string> {
  const setCookie = await sessions().storage.destroySession(session);
  if (reason) metrics().sessionsEnded.inc({ reason });
  return setCookie;
}

/**
 * The session's tokens, opened: from the token record in Redis (one GET), or
 * from the cookie in the cookie design. A token that cannot be opened (its
 * TOKEN_ENCRYPTION_KEYS key is gone) is missing, and logged.
 */
export async function readTokens(session: AppSession): Promise<SessionTokens> {
  const store = sessions().store;
  if (!store) return Object.fromEntries(TOKEN_FIELDS.map((field) => [field, opened(field, session.get(field))]));
  try {
    return (await store.readCold(session.id)) ?? {};
  } catch (error) {
    if (!(error instanceof TokenDecryptionError)) throw error;
    logger.error(`[session] ${error.message}`);
    return {};
  }
}

/** Bytes the session takes in Redis: its hot record and its tokens (null in the cookie design). */
export async function storedBytes(session: AppSession): Promise<{ hot: number; cold: number } | null> {
  return (await sessions().store?.sizes(session.id)) ?? null;
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

/** Writes a session read by id back to the store, with new tokens when given (no cookie: the browser's stays as it is). */
export async function saveSession(session: AppSession, tokens?: SessionTokens): Promise<void> {
  const store = sessions().store;
  await store?.update(session.id, split(session.data).hot, store.idleTimeout, tokens);
}

/** The live sessions of a provider session or a user (none in the cookie design: nothing is kept to find them by). */
export async function sessionsOf(query: SessionQuery): Promise<StoredSession<HotSessionData>[]> {
  return (await sessions().store?.list(query)) ?? [];
}

/**
 * Ends sessions found with `sessionsOf`: records and index entries. With
 * REDIS_WAIT_REPLICAS, returns what the WAIT after the deletes got.
 */
export async function destroySessions(
  list: ReadonlyArray<StoredSession<HotSessionData>>,
  reason: EndReason,
): Promise<WaitOutcome | undefined> {
  const outcome = await sessions().store?.destroyMany(list);
  if (list.length > 0) metrics().sessionsEnded.inc({ reason }, list.length);
  return outcome;
}

function serverStore(): Store {
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

/** Moves every record of the layout before the hot/cold split (scripts/migrate-sessions.ts). */
export function moveLegacySessions(onProgress?: (moved: number) => void): Promise<number> {
  return serverStore().moveAllLegacy(onProgress);
}

/**
 * Takes the sessions that ended inside Redis out of their indexes, counting
 * each once (SESSION_SWEEP_INTERVAL; one instance at a time). Undefined when
 * another instance is sweeping, or in the cookie design.
 */
export function sweepExpiredSessions(): Promise<{ idle: number; absolute: number } | undefined> {
  const store = sessions().store;
  return store ? store.sweep(getEnv().sessionSweepInterval * 900) : Promise.resolve(undefined);
}

/** Short-lived cookie holding the `state` of an RP-initiated logout until the provider sends the browser back. */
export function logoutStateCookie() {
  return createCookie(cookieName("rro_logout"), { ...cookieOptions(), maxAge: FLOW_MAX_AGE });
}
