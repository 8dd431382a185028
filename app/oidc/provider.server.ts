/**
 * Where the provider is configured: the openid-client Configuration built from
 * the provider's discovery document, fetched once per process and cached (a
 * failed fetch is retried on the next use, at most every 2 seconds), and the
 * client authentication at its token endpoint.
 */
import { remember } from "@epic-web/remember";
import * as client from "openid-client";
import { getEnv, type TokenAuthMethod } from "../platform/env.server.ts";
import { logger } from "../platform/logger.server.ts";
import { privateKeyJwt } from "./client-assertion.server.ts";

/** The provider cannot be reached, or answered with a server error or not in time: retry later. */
export class ProviderUnavailableError extends Error {
  readonly code = "provider_unavailable";
  constructor(issuer: URL, cause: unknown) {
    super(`The OpenID provider at ${issuer.href} could not be reached or answered badly: ${reason(cause)}`, { cause });
    this.name = "ProviderUnavailableError";
  }
}

/** The provider answered, but its discovery document cannot be used as configured (issuer mismatch, not found, not JSON…). */
export class ProviderMisconfiguredError extends Error {
  readonly code = "provider_misconfigured";
  constructor(issuer: URL, cause: unknown) {
    super(
      `The discovery document of ${issuer.href} cannot be used: ${reason(cause)}. Check OIDC_ISSUER against the provider's issuer.`,
      { cause },
    );
    this.name = "ProviderMisconfiguredError";
  }
}

/** The innermost useful message: openid-client's are generic, the oauth4webapi error they wrap names the check. */
function reason(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  return cause.cause instanceof Error ? cause.cause.message : cause.message;
}

/** A failure that says the provider is down or slow rather than set up wrongly. */
export function isProviderOutage(error: unknown): boolean {
  // fetch() rejects with TypeError("fetch failed"), its cause the system error (ECONNREFUSED, ENOTFOUND…).
  if (error instanceof TypeError && error.message === "fetch failed") return true;
  if (!(error instanceof client.ClientError)) return false;
  if (error.code === "OAUTH_TIMEOUT" || error.code === "OAUTH_ABORT") return true;
  // An answer with an unexpected status: a 5xx or 429 is an outage; a 404 or 400 is not.
  const status = error.cause instanceof Response ? error.cause.status : undefined;
  return error.code === "OAUTH_RESPONSE_IS_NOT_CONFORM" && status !== undefined && (status >= 500 || status === 429);
}

/**
 * `OIDC_TOKEN_AUTH_METHOD` if set; otherwise the first of basic/post that the
 * discovery document lists (basic when it lists none: the spec's default).
 */
export function chooseTokenAuthMethod(configured: TokenAuthMethod | undefined, supported: unknown): TokenAuthMethod {
  if (configured) return configured;
  const list = Array.isArray(supported) ? supported : [];
  if (list.length === 0 || list.includes("client_secret_basic")) return "client_secret_basic";
  if (list.includes("client_secret_post")) return "client_secret_post";
  return "client_secret_basic";
}

const RETRY_AFTER_FAILURE_MS = 2_000;

interface Discovered {
  config: client.Configuration;
  method: TokenAuthMethod;
}

/** The discovery of this process (shared by the server entry and the Remix bundle, kept across development reloads). */
const discovery = remember(
  "rro:oidc-configuration",
  () => ({}) as { current?: Promise<Discovered>; failedAt?: number; failure?: Error; fellBack?: boolean },
);

/** An openid-client Configuration for the provider's metadata, authenticating the client with `method`. */
async function configurationFor(
  metadata: client.ServerMetadata,
  method: TokenAuthMethod,
): Promise<client.Configuration> {
  const { oidc } = getEnv();
  const auth =
    method === "private_key_jwt"
      ? await privateKeyJwt(oidc.clientKeys[0]!)
      : method === "client_secret_post"
        ? client.ClientSecretPost(oidc.clientSecret)
        : client.ClientSecretBasic(oidc.clientSecret);
  const secret = method === "private_key_jwt" ? {} : { client_secret: oidc.clientSecret };
  const config = new client.Configuration(metadata, oidc.clientId, secret, auth);
  // ID token signatures are verified by app/oidc/id-token-signature.server.ts (after openid-client's
  // other checks), with the key cache back-channel logout shares: not with enableNonRepudiationChecks.
  if (oidc.allowInsecureIssuer) client.allowInsecureRequests(config);
  config.timeout = 10;
  return config;
}

async function discover(): Promise<Discovered> {
  const { oidc } = getEnv();
  const insecure = oidc.allowInsecureIssuer ? [client.allowInsecureRequests] : [];
  let discovered: client.Configuration;
  try {
    discovered = await client.discovery(oidc.issuer, oidc.clientId, undefined, undefined, {
      execute: insecure,
      timeout: 5,
    });
  } catch (error) {
    throw isProviderOutage(error)
      ? new ProviderUnavailableError(oidc.issuer, error)
      : new ProviderMisconfiguredError(oidc.issuer, error);
  }
  const metadata = discovered.serverMetadata();
  const method = chooseTokenAuthMethod(oidc.tokenAuthMethod, metadata.token_endpoint_auth_methods_supported);
  return { config: await configurationFor(metadata, method), method };
}

function discovered(): Promise<Discovered> {
  const state = discovery;
  if (state.current) return state.current;
  if (state.failure && state.failedAt && Date.now() - state.failedAt < RETRY_AFTER_FAILURE_MS) {
    return Promise.reject(state.failure);
  }
  state.current = discover().catch((error: Error) => {
    state.current = undefined;
    state.failure = error;
    state.failedAt = Date.now();
    throw error;
  });
  return state.current;
}

/**
 * The provider configuration, discovered once per process. Throws
 * ProviderUnavailableError (retry later) or ProviderMisconfiguredError.
 */
export async function getOidcConfig(): Promise<client.Configuration> {
  return (await discovered()).config;
}

/** The provider refused the client's credentials: 401, `invalid_client`, or a Basic challenge. */
export function isClientAuthenticationRefused(error: unknown): boolean {
  if (error instanceof client.ResponseBodyError) return error.error === "invalid_client" || error.status === 401;
  return error instanceof client.WWWAuthenticateChallengeError && error.status === 401;
}

/**
 * Runs a request to the token endpoint (code exchange, refresh). When the
 * client authentication was chosen from discovery (OIDC_TOKEN_AUTH_METHOD
 * unset) as client_secret_basic and the provider refuses it, but lists
 * client_secret_post, the request is tried once more with client_secret_post;
 * if that works, it is used for the rest of the process (logged once).
 * Providers that compare Basic credentials without form-decoding them
 * (Glewlwyd, LemonLDAP::NG) refuse openid-client's strictly encoded ones
 * (`my-app` is sent as `my%2Dapp`, as RFC 6749 §2.3.1 allows).
 */
export async function withClientAuthentication<T>(request: (config: client.Configuration) => Promise<T>): Promise<T> {
  const current = await discovered();
  try {
    return await request(current.config);
  } catch (error) {
    const metadata = current.config.serverMetadata();
    const canFallBack =
      !getEnv().oidc.tokenAuthMethod &&
      current.method === "client_secret_basic" &&
      Array.isArray(metadata.token_endpoint_auth_methods_supported) &&
      metadata.token_endpoint_auth_methods_supported.includes("client_secret_post");
    if (!canFallBack || !isClientAuthenticationRefused(error)) throw error;
    const post = await configurationFor(metadata, "client_secret_post");
    const result = await request(post);
    if (!discovery.fellBack) {
      discovery.fellBack = true;
      discovery.current = Promise.resolve({ config: post, method: "client_secret_post" });
      logger.warn(
        "[oidc] the provider refused the client's credentials sent as client_secret_basic and accepted client_secret_post, " +
          "which this process uses from now on. Set OIDC_TOKEN_AUTH_METHOD=client_secret_post to skip the first attempt.",
      );
    }
    return result;
  }
}

const PROBE_TIMEOUT_MS = 2_000;

/** Whether the provider answers its discovery document now (readiness, and the start-up probe in server/startup.ts), within 2 s. */
export async function fetchDiscoveryCheck(): Promise<"ok" | string> {
  const issuer = getEnv().oidc.issuer;
  const url = new URL(".well-known/openid-configuration", issuer.href.endsWith("/") ? issuer : `${issuer.href}/`);
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await response.body?.cancel();
    return response.ok ? "ok" : `discovery answered HTTP ${response.status}`;
  } catch (error) {
    return `unreachable: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : error}`;
  }
}
