/** What a session holds: the shape of its record, written by the sign-in and read by every request. */
import type { Session } from "@remix-run/node";
import type { SessionTokens } from "./token-record.server.ts";

/** One sign-in in progress (one per browser tab), kept until the callback. */
export interface OidcFlow {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Local path to go back to after sign-in. */
  returnTo: string;
  createdAt: number;
  /** OIDC_DPOP: the DPoP private key of this sign-in (a JWK, sealed when TOKEN_ENCRYPTION_KEYS is set). */
  dpopKey?: string;
}

/** Who is signed in: the identity claims of the ID token. The rest of its claims are read from `idToken` where shown. */
export interface SessionUser {
  sub: string;
  name?: string;
  email?: string;
  preferredUsername?: string;
}

/** The hot record: what every request reads, kept small whatever the tokens weigh. */
export interface HotSessionData {
  user?: SessionUser;
  /** True when userinfo was needed at sign-in but could not be fetched: `user` holds only what the ID token had. */
  profileIncomplete?: boolean;
  /** The provider's session id (`sid` claim) when it sends one. */
  sid?: string;
  /** Epoch seconds: sign-in time and the absolute end of this session (SESSION_MAX_AGE). */
  signedInAt?: number;
  expiresAt?: number;
  /** Epoch seconds: when the access token expires; with `refreshable`, what the refresh guard reads. */
  accessTokenExpiresAt?: number;
  /** A refresh token is stored (with the other tokens). */
  refreshable?: boolean;
  /** Where it was signed in from, for the sessions list: the browser ("Firefox on Linux") and an approximate IP. */
  device?: string;
  ip?: string;
  /** Sign-ins in progress, by `state`. Only in pre-sign-in sessions, which live 10 minutes. */
  flows?: Record<string, OidcFlow>;
}

/** The tokens: in the Redis design a record of their own, read only where used (token-record.server.ts). */
export type { SessionTokens };

/**
 * A session as the app handles it: the hot record, and the tokens where they
 * travel with it (the cookie design keeps them in the cookie; a new session
 * carries them until it is stored). A session read from Redis has no tokens:
 * `readTokens` (session.server.ts) fetches them.
 */
export type SessionData = HotSessionData & SessionTokens;

export type AppSession = Session<SessionData>;

/** How long a pre-sign-in session (one holding only flows) lives, in seconds. */
export const FLOW_MAX_AGE = 10 * 60;
