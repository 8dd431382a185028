/**
 * Why a sign-in could not complete: a code a program can branch on and a
 * message safe to show the person. Every error openid-client (or discovery)
 * can throw at a step of the sign-in maps to one code here; the HTTP status
 * of each code is decided at the edge (app/web/http-errors.server.ts).
 */
import * as client from "openid-client";
import { IdTokenSignatureError } from "./id-token-signature.server.ts";
import { JwksUnavailableError } from "./provider-keys.server.ts";
import {
  isClientAuthenticationRefused,
  isProviderOutage,
  ProviderMisconfiguredError,
  ProviderUnavailableError,
} from "./provider.server.ts";

export type SignInErrorCode =
  /** The callback has no `state`. */
  | "missing_state"
  /** The `state` names no sign-in started in this browser (expired, used, forged). */
  | "unknown_state"
  /** The provider answered the authorization request with an error (access_denied…). */
  | "provider_error"
  /** The token endpoint refused the code (invalid_grant…). */
  | "token_exchange_failed"
  /** The response or the ID token failed a check (signature, iss, aud, exp, nonce, alg…). */
  | "invalid_response"
  /** The userinfo response is about another user than the ID token (OpenID Connect Core §5.3.2). */
  | "userinfo_subject_mismatch"
  /** The token response has no ID token. */
  | "missing_id_token"
  /** The provider answered with something that is not OAuth (an HTML error page, a 404, unparsable JSON). */
  | "unexpected_provider_response"
  /** The provider refused the app's own client credentials, whichever way they were sent: a configuration problem. */
  | "client_authentication_failed"
  /** The provider's discovery document cannot be used as configured (issuer mismatch, missing endpoint…). */
  | "provider_misconfigured"
  /** The provider cannot be reached, or answered a server error or not in time. */
  | "provider_unavailable"
  /** The provider answered the pushed authorization request (RFC 9126) with an error. */
  | "pushed_authorization_refused"
  /** OIDC_PAR=required, and the provider's discovery document names no PAR endpoint. */
  | "pushed_authorization_not_offered";

export class SignInError extends Error {
  constructor(
    readonly code: SignInErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SignInError";
  }
}

const UNAVAILABLE = "The sign-in provider cannot be reached right now. Please try again in a minute.";
const CLIENT_REFUSED =
  "The sign-in provider refused this app's client credentials, so sign-in cannot complete. This is a configuration " +
  "problem on our side: an administrator needs to check OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and OIDC_TOKEN_AUTH_METHOD " +
  "against the client registered at the provider (with private_key_jwt: OIDC_CLIENT_KEYS, and that the provider " +
  "has fetched the keys the app publishes at /auth/jwks.json).";

/** openid-client codes that mean the provider's answer broke a rule this app checks (possibly a forgery): the person's request is refused. */
const CHECK_FAILED = new Set([
  "OAUTH_INVALID_RESPONSE",
  "OAUTH_JWT_CLAIM_COMPARISON_FAILED",
  "OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED",
  "OAUTH_JWT_TIMESTAMP_CHECK_FAILED",
  "OAUTH_KEY_SELECTION_FAILED",
  "OAUTH_DECRYPTION_FAILED",
  "OAUTH_JWT_USERINFO_EXPECTED",
  // An ID token with an algorithm this app does not accept (alg: none, HS256 with a public key…).
  "OAUTH_UNSUPPORTED_OPERATION",
]);
/**
 * Whether a response was refused for breaking one of those rules (an ID token's claims or algorithm, by
 * openid-client; its signature, by id-token-signature.server.ts), rather than for the provider's configuration.
 */
export const failedACheck = (error: unknown) =>
  (error instanceof client.ClientError && !!error.code && CHECK_FAILED.has(error.code)) ||
  (error instanceof IdTokenSignatureError && error.code !== "no_jwks_uri");

/** Codes that mean the answer is not OAuth at all. */
const NOT_OAUTH = new Set(["OAUTH_RESPONSE_IS_NOT_CONFORM", "OAUTH_RESPONSE_IS_NOT_JSON", "OAUTH_PARSE_ERROR"]);
/** Codes that mean the discovery metadata, or this app's settings, do not allow the request. */
const MISCONFIGURED = new Set([
  "OAUTH_MISSING_SERVER_METADATA",
  "OAUTH_INVALID_SERVER_METADATA",
  "OAUTH_HTTP_REQUEST_FORBIDDEN",
  "OAUTH_REQUEST_PROTOCOL_FORBIDDEN",
]);

/** The innermost message: openid-client's is generic, the oauth4webapi error it wraps names the check. */
const detail = (error: Error) => (error.cause instanceof Error ? error.cause.message : error.message);
const statusOf = (error: client.ClientError) =>
  error.cause instanceof Response ? ` (HTTP ${error.cause.status})` : "";

/**
 * The SignInError for a failed pushed authorization request: the provider's
 * OAuth error (invalid_request…) is named as the PAR endpoint's, not as a
 * code exchange; outages and refused client credentials as anywhere else.
 */
export function toPushedAuthorizationError(error: unknown): unknown {
  if (error instanceof client.ResponseBodyError && error.status < 500 && !isClientAuthenticationRefused(error)) {
    const description = error.error_description ? `: ${error.error_description}` : "";
    return new SignInError(
      "pushed_authorization_refused",
      `The sign-in provider refused this app's pushed authorization request (${error.error}${description}). ` +
        "Please try again later; if it persists, an administrator needs to check the client registered at the provider or set OIDC_PAR=off.",
      { cause: error },
    );
  }
  return toSignInError(error);
}

/**
 * The SignInError for what openid-client (or discovery) threw. Anything not
 * recognised is returned as it is: an unknown error is a bug to be seen, a
 * 500 with its cause logged, never "provider unavailable".
 */
export function toSignInError(error: unknown): unknown {
  if (error instanceof SignInError) return error;
  if (error instanceof IdTokenSignatureError) {
    if (error.code === "no_jwks_uri") {
      const message = `Sign-in is not set up correctly: ${error.message}. An administrator needs to check the provider's settings.`;
      return new SignInError("provider_misconfigured", message, { cause: error });
    }
    return new SignInError("invalid_response", `The provider's response failed validation: ${error.message}.`, {
      cause: error,
    });
  }
  if (error instanceof ProviderUnavailableError || error instanceof JwksUnavailableError || isProviderOutage(error)) {
    return new SignInError("provider_unavailable", UNAVAILABLE, { cause: error });
  }
  if (error instanceof ProviderMisconfiguredError) {
    const message = `Sign-in is not set up correctly: ${detail(error)}. An administrator needs to check OIDC_ISSUER.`;
    return new SignInError("provider_misconfigured", message, { cause: error });
  }
  if (isClientAuthenticationRefused(error))
    return new SignInError("client_authentication_failed", CLIENT_REFUSED, { cause: error });
  if (error instanceof client.AuthorizationResponseError) {
    const description = error.error_description ? `: ${error.error_description}` : "";
    return new SignInError("provider_error", `The provider refused the sign-in (${error.error}${description}).`, {
      cause: error,
    });
  }
  if (error instanceof client.ResponseBodyError) {
    if (error.status >= 500) return new SignInError("provider_unavailable", UNAVAILABLE, { cause: error });
    const hint = error.error === "invalid_grant" ? " The sign-in code was already used or has expired." : "";
    return new SignInError(
      "token_exchange_failed",
      `The provider rejected the code exchange (${error.error}).${hint}`,
      {
        cause: error,
      },
    );
  }
  if (error instanceof client.WWWAuthenticateChallengeError) {
    const message = `The sign-in provider answered with an authentication challenge (HTTP ${error.status}) this app cannot meet.`;
    return new SignInError("unexpected_provider_response", message, { cause: error });
  }
  if (error instanceof client.ClientError && error.code) {
    if (CHECK_FAILED.has(error.code)) {
      return new SignInError("invalid_response", `The provider's response failed validation: ${detail(error)}.`, {
        cause: error,
      });
    }
    if (NOT_OAUTH.has(error.code)) {
      const message = `The sign-in provider answered with something this app cannot use${statusOf(error)}. Please try again later.`;
      return new SignInError("unexpected_provider_response", message, { cause: error });
    }
    if (MISCONFIGURED.has(error.code)) {
      const message = `Sign-in is not set up correctly: ${detail(error)}. An administrator needs to check the provider's settings.`;
      return new SignInError("provider_misconfigured", message, { cause: error });
    }
  }
  return error;
}
