/**
 * OpenID Connect Core 1.0 §12.2: an ID token returned by a refresh must be
 * about the same sign-in as the one it replaces. openid-client checks the new
 * token on its own (signature, `iss` is the provider's, `aud` includes this
 * client, `azp` when there are several audiences, `exp`, `iat` present); it
 * does not compare it with the previous one. This does: the same `iss`, `sub`,
 * `aud` (as a set), `azp` (absent stays absent), `auth_time` when the
 * previous token had one, and an `iat` no older than the previous one's (an
 * earlier token replayed; the same token again is accepted). Pure: the caller decides what a mismatch ends.
 */
import { decodeJwt } from "jose";

export type IdTokenClaims = Record<string, unknown>;

/** The payload of a compact JWT, without checking anything (the token was checked when it was received); undefined when unreadable. */
export function decodeIdTokenClaims(jwt: string | undefined): IdTokenClaims | undefined {
  if (!jwt) return undefined;
  try {
    return decodeJwt(jwt);
  } catch {
    return undefined;
  }
}

const audiences = (aud: unknown) => [...new Set(Array.isArray(aud) ? aud.map(String) : [String(aud)])].sort();

/** Why `refreshed` cannot replace `previous` (a sentence naming the claim), or undefined when it can. */
export function refreshedIdTokenProblem(previous: IdTokenClaims, refreshed: IdTokenClaims): string | undefined {
  for (const claim of ["iss", "sub"] as const) {
    if (refreshed[claim] !== previous[claim]) return `the refreshed ID token's "${claim}" is not the signed-in one's`;
  }
  if (audiences(refreshed.aud).join(" ") !== audiences(previous.aud).join(" ")) {
    return `the refreshed ID token's "aud" is not the signed-in one's`;
  }
  if (refreshed.azp !== previous.azp) {
    return previous.azp === undefined
      ? `the refreshed ID token has an "azp" the signed-in one did not have`
      : `the refreshed ID token's "azp" is not the signed-in one's`;
  }
  if (typeof previous.iat === "number" && typeof refreshed.iat === "number" && refreshed.iat < previous.iat) {
    return `the refreshed ID token was issued before the one it replaces ("iat")`;
  }
  if (previous.auth_time !== undefined && refreshed.auth_time !== previous.auth_time) {
    return `the refreshed ID token's "auth_time" is not the time the person signed in`;
  }
  return undefined;
}
