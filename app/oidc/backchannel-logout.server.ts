/**
 * OpenID Connect Back-Channel Logout 1.0: reads the provider's request
 * (§2.5), validates its logout token (§2.6) and destroys every session of its
 * `sid` (or, with only `sub`, of that user).
 *
 * The checks run cheapest first, so that whatever can be decided without the
 * provider is decided without it, and nothing an attacker sends can pass for
 * a provider outage (docs/decisions/009-backchannel-logout.md):
 * 1. the request: a form (`application/x-www-form-urlencoded`) with exactly one `logout_token`;
 * 2. shape: three base64url parts, the header and the payload JSON objects (an encrypted token is refused);
 * 3. header: `typ` when present, `alg` (signed, with a public-key algorithm);
 * 4. claims: `iss` (the configured issuer), `aud` (our client id), `iat` (present, not in the
 *    future, at most 10 minutes old), `exp` and `nbf` when present, the back-channel event,
 *    `sid` and/or `sub`, no `nonce`, `jti`; all with 60 s of clock tolerance;
 * 5. against the discovery document (cached): `iss` exactly the provider's issuer, `alg` among
 *    those it advertises for ID tokens (logout tokens are signed with the same keys, §2.4);
 * 6. signature: a key with the token's `kid` among the provider's keys (refetched for an unknown
 *    `kid` at most once per 30 s: app/oidc/provider-keys.server.ts), and the signature valid;
 * 7. replay: the `jti` is remembered in Redis for the token's lifetime, a second use refused.
 *
 * Each refusal is a LogoutTokenError with its own code: a 400 for the
 * provider, a warning without a stack in the log. Only what is not the
 * token's doing is a 503 the provider should retry: the keys cannot be
 * fetched (JwksUnavailableError), discovery or Redis is down.
 */
import { createHash } from "node:crypto";
import { errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyOptions } from "jose";
import { getEnv } from "../platform/env.server.ts";
import { withRedis } from "../platform/redis.server.ts";
import { destroySessions, sessionsOf } from "../session/session.server.ts";
import { getOidcConfig } from "./provider.server.ts";
import { JwksUnavailableError, providerKeys } from "./provider-keys.server.ts";

export const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
/** Clock skew allowed on iat, exp and nbf, in seconds. */
const CLOCK_TOLERANCE = 60;
/** A token older than this is refused even without `exp` (the spec does not require `exp`). */
const MAX_TOKEN_AGE = 10 * 60;
/** `typ` values accepted, compared without case: the spec's, and `JWT` (Keycloak sends it), or none at all. */
const ACCEPTED_TYP = new Set(["logout+jwt", "application/logout+jwt", "jwt"]);
/** Public-key signature algorithms: the provider's keys are public ones (`none` and HMAC can never verify against them). */
const PUBLIC_KEY_ALGS = new Set([
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
]);

/** Why a logout token (or the request carrying it) was refused; each is a 400. */
export type LogoutTokenRefusal =
  /** The request is not `application/x-www-form-urlencoded` (§2.5). */
  | "wrong_content_type"
  /** The request's body could not be read as a form. */
  | "unreadable_request"
  /** No `logout_token` parameter, or an empty one. */
  | "missing_logout_token"
  /** More than one `logout_token` parameter. */
  | "multiple_logout_tokens"
  /** Not three base64url parts whose header and payload are JSON objects (or an encrypted token). */
  | "malformed_logout_token"
  /** A `typ` header that names another kind of token. */
  | "unexpected_typ"
  /** `alg` missing, `none`, symmetric, or not one the provider advertises. */
  | "alg_not_accepted"
  /** `iss` is not the provider's issuer. */
  | "wrong_issuer"
  /** `aud` does not contain this app's client id. */
  | "wrong_audience"
  /** `iat` missing or not a number. */
  | "missing_iat"
  /** `iat` later than now (beyond the clock tolerance). */
  | "issued_in_future"
  /** `iat` more than 10 minutes ago (beyond the clock tolerance). */
  | "too_old"
  /** `exp` in the past. */
  | "expired"
  /** `nbf` in the future. */
  | "not_yet_valid"
  /** A claim of the wrong type (`exp`, `nbf`, `sid`, `sub`). */
  | "malformed_claim"
  /** `events` does not hold the back-channel logout event. */
  | "missing_event"
  /** Neither `sid` nor `sub`. */
  | "missing_sid_and_sub"
  /** A `nonce` (a logout token must not have one: it would pass for an ID token). */
  | "nonce_present"
  /** No `jti`. */
  | "missing_jti"
  /** No key of the provider's has the token's `kid`, even after refreshing them. */
  | "unknown_key"
  /** The signature is missing or does not verify. */
  | "bad_signature"
  /** This `jti` was used before. */
  | "replayed";

/** A logout token that must be refused; `message` says why (safe to return to the provider). */
export class LogoutTokenError extends Error {
  constructor(
    readonly code: LogoutTokenRefusal,
    message: string,
  ) {
    super(message);
    this.name = "LogoutTokenError";
  }
}

const refuse = (code: LogoutTokenRefusal, message: string) => new LogoutTokenError(code, message);

/** A value the sender chose, quoted and cut short for a message. */
function quote(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The `logout_token` of the provider's request (§2.5: a form POST). The
 * method is POST by then (the route and the server refuse the others).
 */
export async function readLogoutToken(request: Request): Promise<string> {
  const type = (request.headers.get("Content-Type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw refuse(
      "wrong_content_type",
      `the logout token must be sent as application/x-www-form-urlencoded, not ${type ? quote(type) : "without a Content-Type"}`,
    );
  }
  let body: string;
  try {
    body = await request.text();
  } catch {
    throw refuse("unreadable_request", "the request's body could not be read");
  }
  const tokens = new URLSearchParams(body).getAll("logout_token");
  if (tokens.length > 1) throw refuse("multiple_logout_tokens", "the request has more than one logout_token");
  if (!tokens[0]) throw refuse("missing_logout_token", "the request has no logout_token");
  return tokens[0];
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodePart(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(Buffer.from(part, "base64url")));
  } catch {
    throw refuse("malformed_logout_token", `the logout token's ${what} is not base64url-encoded JSON`);
  }
  if (!isObject(value)) throw refuse("malformed_logout_token", `the logout token's ${what} is not a JSON object`);
  return value;
}

interface Decoded {
  header: Record<string, unknown> & { alg: string };
  claims: JWTPayload;
}

/** Checks 2–4: everything that needs neither the provider nor its keys. */
function checkWithoutProvider(token: string, now: number): Decoded {
  const parts = token.split(".");
  if (parts.length === 5) {
    throw refuse(
      "malformed_logout_token",
      "the logout token is encrypted (JWE); this client registers no key to decrypt it",
    );
  }
  if (parts.length !== 3 || !parts[0] || !parts[1] || !parts.every((part) => BASE64URL.test(part))) {
    throw refuse("malformed_logout_token", "the logout token is not a signed JWT (three base64url parts)");
  }
  const header = decodePart(parts[0], "header");
  const claims = decodePart(parts[1], "payload") as JWTPayload;

  const { typ, alg } = header;
  if (typ !== undefined && (typeof typ !== "string" || !ACCEPTED_TYP.has(typ.toLowerCase()))) {
    throw refuse("unexpected_typ", `unexpected typ ${quote(typ)}: a logout token's is logout+jwt`);
  }
  if (typeof alg !== "string" || !alg) throw refuse("alg_not_accepted", "the logout token names no alg");
  if (alg.toLowerCase() === "none") throw refuse("alg_not_accepted", "the logout token is not signed (alg none)");
  if (!PUBLIC_KEY_ALGS.has(alg)) {
    throw refuse(
      "alg_not_accepted",
      `alg ${quote(alg)} is not accepted: logout tokens are verified with the provider's public keys`,
    );
  }

  const { oidc } = getEnv();
  const { iss, aud, iat, exp, nbf, events } = claims;
  // Exactly the discovery document's issuer is checked later (5); whatever does not even name the configured one is refused now.
  if (typeof iss !== "string" || !URL.canParse(iss) || new URL(iss).href !== oidc.issuer.href) {
    throw refuse(
      "wrong_issuer",
      `iss ${iss === undefined ? "is missing" : `${quote(iss)} is not this app's provider`}`,
    );
  }
  const audiences = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : [];
  if (!audiences.includes(oidc.clientId)) {
    throw refuse(
      "wrong_audience",
      `aud ${aud === undefined ? "is missing" : `${quote(aud)} does not contain this app's client id`}`,
    );
  }
  if (typeof iat !== "number" || !Number.isFinite(iat)) throw refuse("missing_iat", "iat is missing or not a number");
  if (iat > now + CLOCK_TOLERANCE) throw refuse("issued_in_future", `iat is ${iat - now} s in the future`);
  if (now - iat > MAX_TOKEN_AGE + CLOCK_TOLERANCE) {
    throw refuse("too_old", `iat is ${now - iat} s ago: a logout token is accepted for ${MAX_TOKEN_AGE} s`);
  }
  if (exp !== undefined) {
    if (typeof exp !== "number" || !Number.isFinite(exp)) throw refuse("malformed_claim", "exp is not a number");
    if (exp <= now - CLOCK_TOLERANCE) throw refuse("expired", `the logout token expired ${now - exp} s ago (exp)`);
  }
  if (nbf !== undefined) {
    if (typeof nbf !== "number" || !Number.isFinite(nbf)) throw refuse("malformed_claim", "nbf is not a number");
    if (nbf > now + CLOCK_TOLERANCE)
      throw refuse("not_yet_valid", `the logout token is valid only in ${nbf - now} s (nbf)`);
  }
  if (!isObject(events) || !isObject(events[BACKCHANNEL_LOGOUT_EVENT])) {
    throw refuse("missing_event", `the events claim does not contain ${BACKCHANNEL_LOGOUT_EVENT}`);
  }
  for (const name of ["sid", "sub"] as const) {
    const value = claims[name];
    if (value !== undefined && (typeof value !== "string" || !value)) {
      throw refuse("malformed_claim", `${name} is not a non-empty string`);
    }
  }
  if (claims.sid === undefined && claims.sub === undefined) {
    throw refuse("missing_sid_and_sub", "a logout token must contain sid, sub, or both");
  }
  if ("nonce" in claims) throw refuse("nonce_present", "a logout token must not contain a nonce");
  if (typeof claims.jti !== "string" || !claims.jti) throw refuse("missing_jti", "jti is missing");
  if (!parts[2]) throw refuse("bad_signature", "the logout token has no signature");
  return { header: header as Decoded["header"], claims };
}

/** What the signature check threw, as a refusal; a fault of the keys (or a bug) as it is. */
function signatureRefusal(error: unknown, header: Decoded["header"], fetchedAt: number | undefined): unknown {
  if (error instanceof JwksUnavailableError) return error;
  if (error instanceof joseErrors.JWKSNoMatchingKey) {
    const kid = header.kid === undefined ? "without a kid" : `with kid ${quote(header.kid)}`;
    const age = fetchedAt === undefined ? "" : ` (fetched ${Math.round((Date.now() - fetchedAt) / 1000)} s ago)`;
    return refuse("unknown_key", `no key of the provider's${age} verifies ${header.alg} tokens ${kid}`);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return refuse("bad_signature", "the logout token's signature does not verify with the provider's key");
  }
  // Checked already (4); jose checks them again, with the same options.
  if (error instanceof joseErrors.JWTExpired)
    return refuse(error.claim === "iat" ? "too_old" : "expired", error.message);
  if (error instanceof joseErrors.JWTClaimValidationFailed) return refuse("malformed_claim", error.message);
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return refuse("alg_not_accepted", error.message);
  if (
    error instanceof joseErrors.JOSENotSupported ||
    error instanceof joseErrors.JWSInvalid ||
    error instanceof joseErrors.JWTInvalid
  ) {
    return refuse("malformed_logout_token", `the logout token cannot be verified: ${error.message}`);
  }
  return error;
}

/** Check 6: the signature, with the provider's key for the token's kid (several candidates: each is tried). */
async function verifySignature(token: string, header: Decoded["header"], jwksUri: string, options: JWTVerifyOptions) {
  const keys = providerKeys(jwksUri);
  try {
    try {
      return await jwtVerify(token, keys.resolve, options);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSMultipleMatchingKeys)) throw error;
      for await (const key of error) {
        try {
          return await jwtVerify(token, key, options);
        } catch (attempt) {
          if (!(attempt instanceof joseErrors.JWSSignatureVerificationFailed)) throw attempt;
        }
      }
      throw new joseErrors.JWSSignatureVerificationFailed();
    }
  } catch (error) {
    throw signatureRefusal(error, header, keys.fetchedAt());
  }
}

/** Checks 2–6 (§2.6 checks 1–7 and 10): a logout token this app may act on, or a LogoutTokenError saying why not. */
export async function verifyLogoutToken(
  token: string,
): Promise<JWTPayload & { sid?: string; sub?: string; jti: string }> {
  const { header, claims } = checkWithoutProvider(token, Math.floor(Date.now() / 1000));

  const metadata = (await getOidcConfig()).serverMetadata();
  if (claims.iss !== metadata.issuer) {
    throw refuse(
      "wrong_issuer",
      `iss ${quote(claims.iss)} is not exactly the provider's issuer ${quote(metadata.issuer)}`,
    );
  }
  const advertised = metadata.id_token_signing_alg_values_supported;
  if (Array.isArray(advertised) && !advertised.includes(header.alg)) {
    throw refuse(
      "alg_not_accepted",
      `alg ${quote(header.alg)} is not one the provider advertises (${advertised.join(", ")})`,
    );
  }
  if (!metadata.jwks_uri)
    throw new JwksUnavailableError(
      "the provider's discovery document names no jwks_uri: logout tokens cannot be verified",
    );

  await verifySignature(token, header, metadata.jwks_uri, {
    issuer: metadata.issuer,
    audience: getEnv().oidc.clientId,
    algorithms: [header.alg],
    clockTolerance: CLOCK_TOLERANCE,
    maxTokenAge: MAX_TOKEN_AGE,
    requiredClaims: ["iat", "jti"],
  });
  return { ...claims, sid: claims.sid as string | undefined, sub: claims.sub, jti: claims.jti! };
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
  if (!first) throw refuse("replayed", "this logout token was already used (jti seen before)");

  try {
    const found = await sessionsOf(claims.sid ? { sid: claims.sid } : { sub: claims.sub! });
    // With both sid and sub, only the sessions of that sid that are also that user's.
    const ending = claims.sid && claims.sub ? found.filter(({ data }) => data.user?.sub === claims.sub) : found;
    await destroySessions(ending, "backchannel"); // records and every index entry
    return ending.length;
  } catch (error) {
    // Nothing (or not everything) was destroyed: let the provider's retry through.
    await withRedis((r) => r.del(jtiKey)).catch(() => {});
    throw error;
  }
}
