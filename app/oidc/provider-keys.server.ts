/**
 * The provider's public signing keys, for every token this app verifies: ID
 * tokens (app/oidc/id-token-signature.server.ts) and logout tokens share one
 * jose remote key set (`createRemoteJWKSet`) over the `jwks_uri` of
 * discovery, one per process, with its fetch made strict so that a failure
 * says what it was (docs/decisions/020-provider-key-rotation-and-jwks-refresh.md).
 *
 * How often the key set is fetched, whatever the tokens ask for:
 * - once when first needed, and again on the first use after the keys are
 *   older than OIDC_JWKS_MAX_AGE (default 10 minutes): a key the provider has
 *   removed verifies here at most that long;
 * - for a `kid` (or an alg) no cached key matches, again only when the last
 *   successful fetch is more than 30 s old (jose's cooldown): a token whose
 *   key is still unknown after that refresh is refused, and a flood of
 *   unknown `kid`s costs at most one fetch per 30 s;
 * - an ID token (straight from the token endpoint) with a `kid` no cached key
 *   matches fetches them again whatever the cooldown (id-token-signature.server.ts);
 * - never within 5 s of a failed fetch (jose alone would retry a failure at
 *   once, for every token): those tokens get `JwksUnavailableError` at once.
 *
 * `JwksUnavailableError` means the keys cannot be had (network error, timeout,
 * an answer that is not 200, not JSON, or not a key set): the provider's
 * fault or an outage, never the token's; the back-channel endpoint answers
 * 503 so that the provider retries.
 */
import { remember } from "@epic-web/remember";
import { createRemoteJWKSet, customFetch, type RemoteJWKSet } from "jose";
import { getEnv } from "../platform/env.server.ts";

/** After a successful fetch, how long an unknown `kid` waits before it may cause another (jose's default, stated here). */
export const JWKS_COOLDOWN_MS = 30_000;
/** After a failed fetch, how long before another is tried. */
export const JWKS_FAILURE_BACKOFF_MS = 5_000;
/** The longest a fetch of the key set may take. */
const JWKS_TIMEOUT_MS = 5_000;

/** The provider's keys cannot be fetched right now: retry later. */
export class JwksUnavailableError extends Error {
  readonly code = "jwks_unavailable";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "JwksUnavailableError";
  }
}

const unavailable = (uri: string, reason: string, cause?: unknown) =>
  new JwksUnavailableError(
    `the provider's keys (${uri}) could not be fetched: ${reason}`,
    cause === undefined ? undefined : { cause },
  );

/** What a network error says, without its stack: fetch's TypeError hides the system error (ECONNREFUSED…) in its cause. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === "TimeoutError" || error.name === "AbortError") return `no answer within ${JWKS_TIMEOUT_MS} ms`;
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

export interface ProviderKeys {
  /** The key resolver to hand jose's `jwtVerify`. */
  resolve: RemoteJWKSet;
  /** When the key set was last fetched successfully (epoch ms), if ever. */
  fetchedAt(): number | undefined;
}

function createProviderKeys(uri: string): ProviderKeys {
  const state: { fetchedAt?: number; failedAt?: number; failure?: JwksUnavailableError } = {};

  /** jose's fetch, strict: anything but a 200 with a JSON key set is a JwksUnavailableError, remembered for the backoff. */
  async function fetchKeySet(url: string, init: RequestInit): Promise<Response> {
    if (state.failure && state.failedAt !== undefined && Date.now() - state.failedAt < JWKS_FAILURE_BACKOFF_MS) {
      throw state.failure;
    }
    try {
      let response: Response;
      try {
        response = await fetch(url, init);
      } catch (error) {
        throw unavailable(uri, describe(error), error);
      }
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => {});
        throw unavailable(uri, `it answered HTTP ${response.status}`);
      }
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        throw unavailable(uri, describe(error), error);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw unavailable(uri, "its answer is not JSON");
      }
      if (!isObject(parsed) || !Array.isArray(parsed.keys) || !parsed.keys.every(isObject)) {
        throw unavailable(uri, "its answer is not a JSON Web Key Set");
      }
      state.failure = undefined;
      state.fetchedAt = Date.now();
      return new Response(text, { status: 200, headers: { "Content-Type": "application/json" } });
    } catch (error) {
      state.failure = error instanceof JwksUnavailableError ? error : unavailable(uri, describe(error), error);
      state.failedAt = Date.now();
      throw state.failure;
    }
  }

  const resolve = createRemoteJWKSet(new URL(uri), {
    cooldownDuration: JWKS_COOLDOWN_MS,
    cacheMaxAge: getEnv().oidc.jwksMaxAge * 1000,
    timeoutDuration: JWKS_TIMEOUT_MS,
    [customFetch]: fetchKeySet,
  });
  return { resolve, fetchedAt: () => state.fetchedAt };
}

/** The key set at `jwksUri`, one per process (kept across development reloads). */
export function providerKeys(jwksUri: string): ProviderKeys {
  return remember(`rro:provider-keys:${jwksUri}`, () => createProviderKeys(jwksUri));
}
