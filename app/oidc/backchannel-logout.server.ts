/**
 * OpenID Connect Back-Channel Logout 1.0: validates a logout token (§2.6) and
 * destroys every session of its `sid` (or, with only `sub`, of that user).
 * The signature is checked against the provider's JWKS (jose's remote key
 * set refetches on an unknown `kid`, so key rotation is handled); a `jti` is
 * remembered in Redis for the token's lifetime, so a replay is refused.
 */
import { createHash } from "node:crypto";
import { remember } from "@epic-web/remember";
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import { getEnv } from "../platform/env.server.ts";
import { withRedis } from "../platform/redis.server.ts";
import { destroySessions, sessionsOf } from "../session/session.server.ts";
import { getOidcConfig, ProviderUnavailableError } from "./provider.server.ts";

export const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
/** Clock skew allowed on iat/exp, in seconds. */
const CLOCK_TOLERANCE = 60;
/** A token older than this is refused even without `exp` (the spec does not require `exp`). */
const MAX_TOKEN_AGE = 10 * 60;
/** `typ` values accepted: the spec's, and `JWT` (Keycloak and others send it), or none. */
const ACCEPTED_TYP = new Set(["logout+jwt", "application/logout+jwt", "jwt"]);

/** A logout token that must be refused; `message` says why (safe to return to the provider). */
export class LogoutTokenError extends Error {
  readonly code = "invalid_logout_token";
}

/** The provider's key set, one per process (jose caches the keys and refetches on an unknown `kid`). */
const jwks = (uri: string) => remember(`rro:jwks:${uri}`, () => createRemoteJWKSet(new URL(uri)));

/** §2.6 checks 1–7 and 10 (signature, iss, aud, iat/exp, events, sid/sub, no nonce). */
export async function verifyLogoutToken(
  token: string,
): Promise<JWTPayload & { sid?: string; sub?: string; jti: string }> {
  if (!token) throw new LogoutTokenError("missing logout_token");
  const metadata = (await getOidcConfig()).serverMetadata();
  if (!metadata.jwks_uri) throw new LogoutTokenError("the provider publishes no jwks_uri to verify logout tokens with");
  let verified;
  try {
    verified = await jwtVerify(token, jwks(metadata.jwks_uri), {
      issuer: metadata.issuer,
      audience: getEnv().oidc.clientId,
      clockTolerance: CLOCK_TOLERANCE,
      maxTokenAge: MAX_TOKEN_AGE,
      requiredClaims: ["iat", "jti"],
    });
  } catch (error) {
    // The keys could not be had (provider down, bad answer, a new kid within jose's refetch cooldown):
    // not the token's fault, and retryable, so a 503 rather than a final 400.
    const keysUnavailable =
      error instanceof TypeError ||
      error instanceof joseErrors.JWKSTimeout ||
      error instanceof joseErrors.JWKSInvalid ||
      error instanceof joseErrors.JWKSNoMatchingKey ||
      (error instanceof joseErrors.JOSEError && error.code === "ERR_JOSE_GENERIC");
    if (keysUnavailable) throw new ProviderUnavailableError(new URL(metadata.issuer), error);
    if (error instanceof joseErrors.JOSEError) throw new LogoutTokenError(`logout token rejected: ${error.message}`);
    throw error;
  }
  const { payload, protectedHeader } = verified;
  if (protectedHeader.typ !== undefined && !ACCEPTED_TYP.has(protectedHeader.typ.toLowerCase())) {
    throw new LogoutTokenError(`unexpected typ "${protectedHeader.typ}"`);
  }
  const events = payload.events;
  if (!events || typeof events !== "object" || !(BACKCHANNEL_LOGOUT_EVENT in events)) {
    throw new LogoutTokenError(`the events claim does not contain ${BACKCHANNEL_LOGOUT_EVENT}`);
  }
  if ("nonce" in payload) throw new LogoutTokenError("a logout token must not contain a nonce");
  const sid = typeof payload.sid === "string" && payload.sid ? payload.sid : undefined;
  const sub = typeof payload.sub === "string" && payload.sub ? payload.sub : undefined;
  if (!sid && !sub) throw new LogoutTokenError("a logout token must contain sid, sub, or both");
  return { ...payload, sid, sub, jti: String(payload.jti) };
}

/**
 * Validates the token, refuses a replay (§2.6 check 9 is the RP's choice; we
 * keep every jti for the token's lifetime), then destroys the sessions.
 * Returns how many sessions were ended (0 is fine: e.g. already logged out).
 */
export async function backchannelLogout(token: string): Promise<number> {
  const claims = await verifyLogoutToken(token);
  const issuedAt = claims.iat ?? Math.floor(Date.now() / 1000);
  const keepFor = Math.max(
    1,
    (claims.exp ?? issuedAt + MAX_TOKEN_AGE) - Math.floor(Date.now() / 1000) + CLOCK_TOLERANCE,
  );
  // Not a session key: a logout token's id, remembered for the token's lifetime.
  const jtiKey = `${getEnv().redisKeyPrefix}jti:${createHash("sha256").update(`${claims.iss}\n${claims.jti}`).digest("base64url")}`;
  const first = await withRedis((r) => r.set(jtiKey, "1", "EX", keepFor, "NX"));
  if (!first) throw new LogoutTokenError("this logout token was already used (jti seen before)");

  try {
    const found = await sessionsOf(claims.sid ? { sid: claims.sid } : { sub: claims.sub! });
    // With both sid and sub, only the sessions of that sid that are also that user's.
    const ending = claims.sid && claims.sub ? found.filter(({ data }) => data.user?.sub === claims.sub) : found;
    await destroySessions(ending); // records and every index entry
    return ending.length;
  } catch (error) {
    // Nothing (or not everything) was destroyed: let the provider's retry through.
    await withRedis((r) => r.del(jtiKey)).catch(() => {});
    throw error;
  }
}
