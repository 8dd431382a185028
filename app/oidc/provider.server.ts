/**
 * Where the provider is configured: the openid-client Configuration built from
 * the provider's discovery document, fetched once per process and cached (a
 * failed fetch is retried on the next use, at most every 2 seconds).
 */
import { remember } from "@epic-web/remember";
import * as client from "openid-client";
import { getEnv, type TokenAuthMethod } from "../platform/env.server.ts";

export class ProviderUnavailableError extends Error {
  readonly code = "provider_unavailable";
  constructor(issuer: URL, cause: unknown) {
    const reason =
      cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : String(cause);
    super(`The OpenID provider at ${issuer.href} could not be reached or answered badly: ${reason}`, { cause });
    this.name = "ProviderUnavailableError";
  }
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

/** The discovery of this process (shared by the server entry and the Remix bundle, kept across development reloads). */
const discovery = remember(
  "rro:oidc-configuration",
  () => ({}) as { config?: Promise<client.Configuration>; failedAt?: number; failure?: ProviderUnavailableError },
);

async function discover(): Promise<client.Configuration> {
  const { oidc } = getEnv();
  const insecure = oidc.allowInsecureIssuer ? [client.allowInsecureRequests] : [];
  let discovered: client.Configuration;
  try {
    discovered = await client.discovery(oidc.issuer, oidc.clientId, undefined, undefined, {
      execute: insecure,
      timeout: 5,
    });
  } catch (error) {
    throw new ProviderUnavailableError(oidc.issuer, error);
  }
  const metadata = discovered.serverMetadata();
  const method = chooseTokenAuthMethod(oidc.tokenAuthMethod, metadata.token_endpoint_auth_methods_supported);
  const auth =
    method === "client_secret_post"
      ? client.ClientSecretPost(oidc.clientSecret)
      : client.ClientSecretBasic(oidc.clientSecret);
  const config = new client.Configuration(metadata, oidc.clientId, { client_secret: oidc.clientSecret }, auth);
  client.enableNonRepudiationChecks(config); // verify ID token signatures against the provider's JWKS
  if (oidc.allowInsecureIssuer) client.allowInsecureRequests(config);
  config.timeout = 10;
  return config;
}

/** The provider configuration, discovered once per process. Throws ProviderUnavailableError. */
export function getOidcConfig(): Promise<client.Configuration> {
  const state = discovery;
  if (state.config) return state.config;
  if (state.failure && state.failedAt && Date.now() - state.failedAt < RETRY_AFTER_FAILURE_MS) {
    return Promise.reject(state.failure);
  }
  state.config = discover().catch((error: ProviderUnavailableError) => {
    state.config = undefined;
    state.failure = error;
    state.failedAt = Date.now();
    throw error;
  });
  return state.config;
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
