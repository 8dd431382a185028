/**
 * The one place where errors become HTTP answers. Lower layers throw typed
 * errors with a `code`; routes wrap their loaders and actions in
 * `answerErrors`, which turns the errors it knows into a status, a plain
 * message and a log line. Anything else is rethrown as it is: Remix logs it
 * with its stack (entry.server.tsx `handleError`) and answers a 500 page
 * that says nothing about it.
 *
 * Pages get `{ code, message }` (rendered by the route's or the root's
 * ErrorBoundary); the back-channel endpoint, whose caller is the provider,
 * gets OAuth's `{ error, error_description }`.
 *
 * The rule for statuses and log levels: what the request's sender chose (a
 * forged token, a malformed form, a session that is not theirs) is a 4xx and
 * a warning or info line with its code, never a stack; error-level lines are
 * for faults of our own or of the services we depend on (a Redis reply that
 * is a bug, a misconfiguration, the provider out of reach).
 */
import { LogoutTokenError } from "../oidc/backchannel-logout.server.ts";
import { JwksUnavailableError } from "../oidc/provider-keys.server.ts";
import { ProviderMisconfiguredError, ProviderUnavailableError } from "../oidc/provider.server.ts";
import { SignInError, type SignInErrorCode } from "../oidc/sign-in-errors.server.ts";
import { RefreshUnavailableError } from "../oidc/token-refresh.server.ts";
import { logger } from "../platform/logger.server.ts";
import { metrics } from "../platform/metrics.server.ts";
import { RedisUnavailableError } from "../platform/redis.server.ts";
import { SessionTooLargeError } from "../session/cookie-session-storage.server.ts";
import { RateLimitedError } from "./rate-limits.server.ts";

interface Answer {
  status: number;
  code: string;
  /** Safe to show: says what happened and what to do, nothing of the internals. */
  message: string;
  /** Seconds, for a 503 or 429 the client should retry after. */
  retryAfter?: number;
}

const RETRY_AFTER = 5;

/**
 * A request refused for what its sender put in it (a form that cannot be
 * read, an unknown intent, a session handle that names none of theirs):
 * thrown by a route, answered with its status and message, logged at
 * `level` with its code and no stack.
 */
export class RequestRefusal extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 405 | 415,
    readonly code: string,
    message: string,
    readonly level: "info" | "warn" = "info",
  ) {
    super(message);
    this.name = "RequestRefusal";
  }
}

/** The request's form (urlencoded or multipart), or a 400 `unreadable_form` when its body cannot be read as one. */
export async function readForm(request: Request): Promise<FormData> {
  try {
    return await request.formData();
  } catch {
    const type = (request.headers.get("Content-Type") ?? "").split(";")[0]!.trim() || "no Content-Type";
    throw new RequestRefusal(
      400,
      "unreadable_form",
      `This request's body could not be read as a form (${type.slice(0, 60)}). Submit the form from the page again.`,
    );
  }
}

/** A 4xx: the callback or the response was wrong (what an attacker can choose ends here); 5xx: ours or the provider's fault. */
const SIGN_IN_STATUS: Record<SignInErrorCode, number> = {
  missing_state: 400,
  unknown_state: 400,
  provider_error: 400,
  token_exchange_failed: 400,
  invalid_response: 400,
  userinfo_subject_mismatch: 400,
  client_authentication_failed: 500,
  provider_misconfigured: 500,
  missing_id_token: 502,
  unexpected_provider_response: 502,
  provider_unavailable: 503,
  pushed_authorization_refused: 502,
  pushed_authorization_not_offered: 503,
};

/** Mostly bad or stale callbacks: the chain of causes (openid-client names the failed check one or two levels down), no stack. */
function causes(error: Error): string {
  const chain: string[] = [];
  for (let e: unknown = error.cause; e instanceof Error && chain.length < 3; e = e.cause) chain.push(e.message);
  return chain.length ? chain.join(": ") : error.message;
}

/** The answer to an error this app expects, logged; undefined for anything else. */
export function answerFor(error: unknown): Answer | undefined {
  if (error instanceof RedisUnavailableError) {
    logger.warn(`[session] ${error.message}`);
    const message = "The session store is unreachable right now. Nothing was changed; please try again in a moment.";
    return { status: 503, code: error.code, message, retryAfter: RETRY_AFTER };
  }
  if (error instanceof RefreshUnavailableError) {
    logger.error({ err: error }, `[refresh] ${error.message}`);
    const message =
      "Your session needs renewing, but the sign-in provider cannot be reached right now. Nothing was lost; please try again in a moment.";
    return { status: 503, code: error.code, message, retryAfter: RETRY_AFTER };
  }
  if (error instanceof RateLimitedError) {
    logger.warn(
      { code: error.code, limit: error.limit },
      `[rate-limit] ${error.limit}: refused for ${error.retryAfter} s`,
    );
    return { status: 429, code: error.code, message: error.message, retryAfter: error.retryAfter };
  }
  if (error instanceof SignInError) {
    metrics().signInFailures.inc({ code: error.code });
    const status = SIGN_IN_STATUS[error.code];
    logger[status >= 500 ? "error" : "warn"]({ code: error.code }, `[sign-in] ${error.code}: ${causes(error)}`);
    return { status, code: error.code, message: error.message, ...(status === 503 ? { retryAfter: RETRY_AFTER } : {}) };
  }
  if (error instanceof SessionTooLargeError) {
    logger.error({ code: error.code }, `[sign-in] ${error.message}`);
    return { status: 500, code: error.code, message: error.message };
  }
  if (error instanceof RequestRefusal) {
    logger[error.level]({ code: error.code }, `[request] refused (${error.code}): ${error.message}`);
    return { status: error.status, code: error.code, message: error.message };
  }
  if (error instanceof LogoutTokenError) {
    // The reason and its code, never the token; a sender's mistake or a forgery, so no stack.
    logger.warn({ code: error.code }, `[backchannel-logout] refused (${error.code}): ${error.message}`);
    return { status: 400, code: error.code, message: error.message };
  }
  if (error instanceof JwksUnavailableError) {
    // Not the token's doing: the provider's keys cannot be had, and the provider should retry.
    logger.error({ code: error.code }, `[backchannel-logout] ${error.message}`);
    return {
      status: 503,
      code: error.code,
      message: "The provider's signing keys cannot be fetched right now.",
      retryAfter: RETRY_AFTER,
    };
  }
  if (error instanceof ProviderMisconfiguredError) {
    logger.error({ err: error }, `[oidc] ${error.message}`);
    const message =
      "Sign-in is not set up correctly: the provider's configuration cannot be used. An administrator needs to check OIDC_ISSUER.";
    return { status: 500, code: error.code, message };
  }
  if (error instanceof ProviderUnavailableError) {
    logger.error({ err: error }, `[oidc] ${error.message}`);
    return {
      status: 503,
      code: error.code,
      message: "The sign-in provider cannot be reached right now. Please try again in a minute.",
      retryAfter: RETRY_AFTER,
    };
  }
  return undefined;
}

type Format = "page" | "oauth";

function toResponse(answer: Answer, format: Format): Response {
  const headers: HeadersInit = answer.retryAfter ? { "Retry-After": String(answer.retryAfter) } : {};
  const body =
    format === "page"
      ? { code: answer.code, message: answer.message }
      : answer.status < 500
        ? { error: "invalid_request", error_description: answer.message }
        : { error: "temporarily_unavailable" };
  return Response.json(body, { status: answer.status, headers });
}

/**
 * Wraps a loader or action: a Response it throws passes through (redirects),
 * an error this app expects is thrown as its answer, anything else as it is.
 */
export function answerErrors<Args, Result>(handler: (args: Args) => Promise<Result>, format: Format = "page") {
  return async (args: Args): Promise<Result> => {
    try {
      return await handler(args);
    } catch (error) {
      if (error instanceof Response) throw error;
      const answer = answerFor(error);
      throw answer ? toResponse(answer, format) : error;
    }
  };
}
