/**
 * Why a sign-in could not complete: a code a program can branch on and a
 * message safe to show the person. The HTTP status of each code is decided
 * at the edge (app/web/http-errors.server.ts), not here.
 */
import * as client from "openid-client";
import { ProviderUnavailableError } from "./provider.server.ts";

export type SignInErrorCode =
  | "missing_state"
  | "unknown_state"
  | "provider_error"
  | "token_exchange_failed"
  | "invalid_response"
  | "missing_id_token"
  | "provider_unavailable";

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

/** The provider could not be reached or did not answer in time (not a bug of ours, not a bad response). */
function isUnreachable(error: unknown): boolean {
  // fetch() rejects with TypeError("fetch failed"), its cause the system error (ECONNREFUSED, ENOTFOUND…).
  if (error instanceof TypeError && error.message === "fetch failed") return true;
  return error instanceof client.ClientError && (error.code === "OAUTH_TIMEOUT" || error.code === "OAUTH_ABORT");
}

/**
 * The SignInError for what openid-client (or discovery) threw. Anything not
 * recognised is returned as it is: an unknown error is a bug to be seen, a
 * 500 with its cause logged, never "provider unavailable".
 */
export function toSignInError(error: unknown): unknown {
  if (error instanceof SignInError) return error;
  if (error instanceof ProviderUnavailableError || isUnreachable(error)) {
    return new SignInError("provider_unavailable", UNAVAILABLE, { cause: error });
  }
  if (error instanceof client.AuthorizationResponseError) {
    const description = error.error_description ? `: ${error.error_description}` : "";
    return new SignInError("provider_error", `The provider refused the sign-in (${error.error}${description}).`, {
      cause: error,
    });
  }
  if (error instanceof client.ResponseBodyError) {
    const hint = error.error === "invalid_grant" ? " The sign-in code was already used or has expired." : "";
    return new SignInError(
      "token_exchange_failed",
      `The provider rejected the code exchange (${error.error}).${hint}`,
      { cause: error },
    );
  }
  if (error instanceof client.ClientError) {
    // openid-client's message is generic; the oauth4webapi error it wraps names the claim or check.
    const detail = error.cause instanceof Error ? error.cause.message : error.message;
    return new SignInError("invalid_response", `The provider's response failed validation: ${detail}.`, {
      cause: error,
    });
  }
  return error;
}
