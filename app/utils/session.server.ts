/**
 * Where the session is stored: the session cookie and the session storage —
 * Redis (SESSION_STORE=redis, the default), or the cookie itself
 * (SESSION_STORE=cookie, the design this project replaces, kept for
 * comparison) — plus `getSession`/`commitSession`/`destroySession` that map a
 * Redis outage to a 503 response and never reuse an id whose record is gone.
 */
import {
  createCookie,
  createCookieSessionStorage,
  createSession,
  json,
  type Cookie,
  type Session,
  type SessionStorage,
} from "@remix-run/node";
import { getEnv } from "./env.server.ts";
import { logger } from "./logger.server.ts";
import { createRedisSessionStorage, SESSION_ID_PATTERN } from "./redis-session-storage.server.ts";
import { RedisCommandError, RedisUnavailableError, withRedis } from "./redis.server.ts";
import { sessionIndexes, destroyIndexedSessions } from "./session-index.server.ts";

/** One sign-in in progress (one per browser tab), kept until the callback. */
export interface OidcFlow {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Local path to go back to after sign-in. */
  returnTo: string;
  createdAt: number;
}

/** Who is signed in: the identity claims of the ID token. The rest of its claims are read from `idToken` where shown. */
export interface SessionUser {
  sub: string;
  name?: string;
  email?: string;
  preferredUsername?: string;
}

export interface SessionData {
  user?: SessionUser;
  idToken?: string;
  accessToken?: string;
  refreshToken?: string;
  /** Epoch seconds. */
  accessTokenExpiresAt?: number;
  /** The provider's session id (`sid` claim) when it sends one. */
  sid?: string;
  /** Epoch seconds: sign-in time and the absolute end of this session (SESSION_MAX_AGE). */
  signedInAt?: number;
  expiresAt?: number;
  /** Where it was signed in from, for the sessions list: the User-Agent (truncated) and an approximate IP. */
  userAgent?: string;
  ip?: string;
  /** Sign-ins in progress, by `state`. Only in pre-sign-in sessions, which live 10 minutes. */
  flows?: Record<string, OidcFlow>;
}

export type AppSession = Session<SessionData>;

/** How long a pre-sign-in session (one holding only flows) lives, in seconds. */
export const FLOW_MAX_AGE = 10 * 60;

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

declare global {
  var __rroSessionStore: { cookie: Cookie; storage: SessionStorage<SessionData> } | undefined;
}

function sessionStore() {
  if (!globalThis.__rroSessionStore) {
    const env = getEnv();
    const cookie = createCookie(cookieName("rro_sid"), { ...cookieOptions(), maxAge: env.sessionMaxAge });
    const storage =
      env.sessionStore === "cookie"
        ? createCookieSessionStorage<SessionData>({ cookie })
        : createRedisSessionStorage<SessionData>({
            cookie,
            redis: withRedis,
            prefix: env.redisKeyPrefix,
            idleTimeout: env.sessionIdleTimeout,
            index: sessionIndexes,
          });
    globalThis.__rroSessionStore = { cookie, storage };
  }
  return globalThis.__rroSessionStore;
}

const sessionStorage = () => sessionStore().storage;

/** The cookie design's limit: Remix refuses to commit a session cookie past 4096 bytes, the browsers' limit. */
export class SessionTooLargeError extends Error {
  readonly code = "session_too_large";
  constructor(readonly bytes: number) {
    super(
      `The session (${bytes} bytes as a cookie) does not fit in a cookie: browsers keep at most 4096 bytes. ` +
        "That is the limit of the cookie-based design (SESSION_STORE=cookie); the Redis design (SESSION_STORE=redis, the default) has none.",
    );
    this.name = "SessionTooLargeError";
  }
}

/** Short-lived cookie holding the `state` of an RP-initiated logout until the provider sends the browser back. */
export function logoutStateCookie() {
  return createCookie(cookieName("rro_logout"), { ...cookieOptions(), maxAge: FLOW_MAX_AGE });
}

function unavailable(error: RedisUnavailableError): Response {
  logger.warn(`[session] ${error.message}`);
  return json(
    {
      code: error.code,
      message: "The session store is unreachable right now. Nothing was changed; please try again in a moment.",
    },
    { status: 503, headers: { "Retry-After": "5" } },
  );
}

/** Runs session-store work, turning a Redis outage into the 503 response (and an oversize cookie into SessionTooLargeError). */
export async function mapErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RedisUnavailableError) throw unavailable(error);
    const tooLarge = error instanceof Error && /Cookie length will exceed browser maximum\. Length: (\d+)/.exec(error.message);
    if (tooLarge) throw new SessionTooLargeError(Number(tooLarge[1]));
    throw error;
  }
}

/**
 * The session of this request. A missing, unsigned, tampered or malformed
 * cookie, or one whose record no longer exists, gives a new empty session:
 * an id is never reused once its record is gone.
 */
export async function getSession(request: Request): Promise<AppSession> {
  const header = request.headers.get("Cookie");
  let session: AppSession;
  try {
    session = await sessionStorage().getSession(header);
  } catch (error) {
    if (error instanceof RedisUnavailableError) throw unavailable(error);
    if (error instanceof RedisCommandError) throw error;
    return createSession<SessionData>(); // an undecodable cookie: no session
  }
  if (typeof session.id !== "string" || Object.keys(session.data).length === 0) {
    return createSession<SessionData>();
  }
  return session;
}

/**
 * The session with this id, read as a request carrying its cookie would read
 * it (null when it no longer exists). For work that outlives one request's
 * view of the session, e.g. waiting for another process's token refresh.
 */
export async function readSessionById(id: string): Promise<AppSession | null> {
  const { cookie, storage } = sessionStore();
  const header = (await cookie.serialize(id)).split(";")[0]!;
  const session = await mapErrors(() => storage.getSession(header));
  return Object.keys(session.data).length > 0 ? session : null;
}

export function commitSession(session: AppSession, options?: { maxAge?: number }): Promise<string> {
  return mapErrors(() => sessionStorage().commitSession(session, options));
}

/** Deletes the session (then its index entries) and returns the Set-Cookie that clears the cookie. */
export function destroySession(session: AppSession): Promise<string> {
  return mapErrors(async () => {
    if (getEnv().sessionStore === "cookie") return sessionStorage().destroySession(session);
    if (SESSION_ID_PATTERN.test(session.id)) await destroyIndexedSessions([{ id: session.id, data: session.data }]);
    return sessionStore().cookie.serialize("", { maxAge: undefined, expires: new Date(0) });
  });
}
