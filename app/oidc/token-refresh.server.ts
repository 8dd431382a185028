/**
 * Refreshing the access token without races (Redis design). When the stored
 * access token expires within TOKEN_REFRESH_MARGIN and a refresh token is
 * stored, exactly one request refreshes it: one promise per session in this
 * process, and across processes a short Redis lock (SET NX PX, released only
 * by its owner). The others wait for the new tokens in Redis and carry on
 * with them. `invalid_grant` (revoked or expired refresh token) ends the
 * session as a logout would, without the provider redirect, and so does an
 * answer that fails validation: openid-client's checks of the new ID token,
 * then OpenID Connect Core §12.2's comparison with the previous one
 * (refreshed-id-token.ts: same iss, sub, aud, azp, auth_time); a provider outage
 * is a RefreshUnavailableError (a 503), and the session is kept.
 *
 * With DPoP (OIDC_DPOP, dpop.server.ts) the refresh sends a proof signed with
 * the session's key, read from its token record; the provider refusing that
 * proof (`invalid_dpop_proof`) ends the session as `invalid_grant` does, and a
 * key that cannot be read is treated as an unreadable refresh token.
 */
import { remember } from "@epic-web/remember";
import * as client from "openid-client";
import { getEnv } from "../platform/env.server.ts";
import { logger } from "../platform/logger.server.ts";
import { metrics } from "../platform/metrics.server.ts";
import type { AppSession } from "../session/session-data.ts";
import {
  destroySession,
  readSessionById,
  readTokens,
  refreshLock,
  saveSession,
  sessionsLiveOnServer,
} from "../session/session.server.ts";
import { dpopHandle, importDPoPKey, tokenTypeName, type DPoPKey } from "./dpop.server.ts";
import { verifyIdTokenSignature } from "./id-token-signature.server.ts";
import { withClientAuthentication } from "./provider.server.ts";
import { decodeIdTokenClaims, refreshedIdTokenProblem } from "./refreshed-id-token.ts";
import { failedACheck } from "./sign-in-errors.server.ts";

/** Well past openid-client's 10 s request timeout (provider.server.ts), so the lock outlives the refresh it guards. */
const LOCK_MS = 30_000;
const POLL_MS = 50;

/**
 * Token endpoint errors that no retry will mend: the refresh token is revoked
 * or expired, or the provider refuses the session's DPoP proof (a key other
 * than the one the tokens are bound to).
 */
const REFUSALS = new Set(["invalid_grant", "invalid_dpop_proof"]);

export class RefreshUnavailableError extends Error {
  readonly code = "refresh_unavailable";
}

const now = () => Math.floor(Date.now() / 1000);

/** Due when the access token expires within the margin and a refresh token is stored; only where sessions live on the server (the cookie design has no record to refresh in place). */
export function needsRefresh(session: AppSession): boolean {
  const expiresAt = session.get("accessTokenExpiresAt");
  return (
    sessionsLiveOnServer() &&
    Boolean(session.get("refreshable")) &&
    typeof expiresAt === "number" &&
    expiresAt - now() <= getEnv().tokenRefreshMargin
  );
}

/** Refreshes in progress in this process, by session id. */
const inFlight = remember("rro:refreshes", () => new Map<string, Promise<AppSession | null>>());

/** The session with fresh tokens (itself when nothing was due), or null when the refresh ended it. */
export function ensureFreshTokens(session: AppSession): Promise<AppSession | null> {
  if (!needsRefresh(session)) return Promise.resolve(session);
  let refresh = inFlight.get(session.id);
  if (!refresh) {
    refresh = refreshOnce(session).finally(() => inFlight.delete(session.id));
    inFlight.set(session.id, refresh);
  }
  return refresh;
}

async function refreshOnce(session: AppSession): Promise<AppSession | null> {
  const owner = await refreshLock.take(session.id, LOCK_MS);
  if (!owner) return waitForRefresh(session);
  try {
    // Another process may have refreshed between our read and our lock.
    const current = await readSessionById(session.id);
    if (!current) return null;
    if (!needsRefresh(current)) return current;
    const stored = await readTokens(current);
    const refreshToken = stored.refreshToken;
    if (!refreshToken) {
      // Gone or unreadable (its TOKEN_ENCRYPTION_KEYS key is gone): stop trying rather than retry on every request.
      current.unset("refreshable");
      await saveSession(current);
      return current;
    }
    let dpopKey: DPoPKey | undefined;
    try {
      dpopKey = stored.dpopKey ? await importDPoPKey(stored.dpopKey) : undefined;
    } catch (error) {
      // As an unreadable refresh token: the tokens are bound to a key this process cannot use.
      logger.error(
        { err: error },
        "[refresh] the session's DPoP key cannot be read: the session is no longer refreshed",
      );
      current.unset("refreshable");
      await saveSession(current);
      return current;
    }
    let tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
    try {
      tokens = await withClientAuthentication(async (config) => {
        const refreshed = await client.refreshTokenGrant(
          config,
          refreshToken,
          undefined,
          dpopKey && { DPoP: dpopHandle(config, dpopKey) },
        );
        if (refreshed.id_token) await verifyIdTokenSignature(refreshed.id_token, config.serverMetadata());
        return refreshed;
      });
    } catch (error) {
      if (error instanceof client.ResponseBodyError && REFUSALS.has(error.error)) {
        return endRefusedSession(current, `the provider refused the refresh token (${error.error})`);
      }
      if (failedACheck(error)) {
        // A forged or broken answer (its ID token's signature, iss, aud, azp…): nothing of it is kept.
        const reason = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
        return endRefusedSession(current, `the refresh response failed validation (${reason})`);
      }
      metrics().tokenRefreshes.inc({ outcome: "unavailable" });
      throw new RefreshUnavailableError(
        `the provider could not refresh the tokens: ${error instanceof Error ? error.message : error}`,
        { cause: error },
      );
    }
    if (tokens.id_token) {
      const previous = decodeIdTokenClaims(stored.idToken);
      const problem = previous && refreshedIdTokenProblem(previous, tokens.claims() ?? {});
      if (problem) return endRefusedSession(current, `the refresh response failed validation (${problem})`);
    }
    current.set("accessTokenExpiresAt", tokens.expires_in ? now() + tokens.expires_in : undefined);
    const renewed = {
      idToken: tokens.id_token ?? stored.idToken,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token ?? refreshToken, // rotated, or kept
      tokenType: tokenTypeName(tokens.token_type),
      dpopKey: stored.dpopKey, // the same key for the whole session
    };
    // Only while the lock is still ours: a refresh slower than the lock must not overwrite a newer one.
    if ((await refreshLock.owner(session.id)) !== owner) {
      throw new RefreshUnavailableError("the token refresh outlasted its lock; its result was dropped");
    }
    await saveSession(current, renewed);
    metrics().tokenRefreshes.inc({ outcome: "refreshed" });
    logger.info("[refresh] access token refreshed");
    return current;
  } finally {
    await refreshLock.release(session.id, owner).catch(() => {});
  }
}

/**
 * The refresh was refused (the refresh token revoked or expired), or its
 * answer cannot be trusted (OpenID Connect Core §12.2): the session ends as a
 * logout would, without the provider redirect, and the person signs in again.
 */
async function endRefusedSession(session: AppSession, why: string): Promise<null> {
  logger.warn(`[refresh] ${why}: ending the session`);
  await destroySession(session, "refresh_refused");
  metrics().tokenRefreshes.inc({ outcome: "refused" });
  return null;
}

/** Another process holds the lock: wait until the stored tokens change, the session ends, or the lock is gone. */
async function waitForRefresh(session: AppSession): Promise<AppSession | null> {
  const waited = metrics().refreshLockWait.startTimer();
  try {
    const current = await pollForRefresh(session);
    metrics().tokenRefreshes.inc({ outcome: "by_another_request" });
    return current;
  } finally {
    waited();
  }
}

async function pollForRefresh(session: AppSession): Promise<AppSession | null> {
  const deadline = Date.now() + LOCK_MS;
  const before = session.get("accessTokenExpiresAt");
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    const lockHeld = (await refreshLock.owner(session.id)) !== null;
    // Read after looking at the lock: a refresh that completed just before is seen here.
    const current = await readSessionById(session.id);
    if (!current) return null;
    if (current.get("accessTokenExpiresAt") !== before) return current;
    if (!lockHeld) break; // released without new tokens: the refresher gave up
  }
  throw new RefreshUnavailableError("the token refresh started by another request did not complete");
}
