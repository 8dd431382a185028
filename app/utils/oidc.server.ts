/**
 * Where the provider is configured: the openid-client Configuration built from
 * the provider's discovery document, fetched once per process and cached (a
 * failed fetch is retried on the next use, at most every 2 seconds), and the
 * end-session URL for RP-initiated logout.
 */
import * as client from "openid-client";
import { getEnv, type TokenAuthMethod } from "./env.server.ts";

export class ProviderUnavailableError extends Error {
  readonly code = "provider_unavailable";
  constructor(issuer: URL, cause: unknown) {
    const reason = cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : String(cause);
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

declare global {
  var __rroOidc: { config?: Promise<client.Configuration>; failedAt?: number; failure?: ProviderUnavailableError } | undefined;
}

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
  const auth = method === "client_secret_post" ? client.ClientSecretPost(oidc.clientSecret) : client.ClientSecretBasic(oidc.clientSecret);
  const config = new client.Configuration(metadata, oidc.clientId, { client_secret: oidc.clientSecret }, auth);
  client.enableNonRepudiationChecks(config); // verify ID token signatures against the provider's JWKS
  if (oidc.allowInsecureIssuer) client.allowInsecureRequests(config);
  config.timeout = 10;
  return config;
}

/** The provider configuration, discovered once per process. Throws ProviderUnavailableError. */
export function getOidcConfig(): Promise<client.Configuration> {
  const state = (globalThis.__rroOidc ??= {});
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

/**
 * The longest end-session URL sent as a redirect. An `id_token_hint` with many
 * group claims would make a `Location` header of 10–30 KB, the very oversized
 * header (nginx 502, Node 431) this project exists to avoid.
 */
export const MAX_END_SESSION_URL_BYTES = 2000;

export type EndSession =
  | { kind: "provider" | "override"; method: "GET"; url: URL; state: string; hintDropped: boolean }
  | { kind: "provider" | "override"; method: "POST"; url: URL; fields: Array<[string, string]>; state: string }
  | { kind: "unsupported" };

/**
 * Where and how to send the browser to end the provider's session
 * (OpenID Connect RP-Initiated Logout 1.0 §2): the OIDC_END_SESSION_URL
 * override, else the discovery document's `end_session_endpoint`, with
 * `id_token_hint`, `post_logout_redirect_uri`, `client_id` and a fresh `state`.
 * With OIDC_END_SESSION_METHOD=get (default) a redirect, leaving the hint out
 * when it would make the URL longer than MAX_END_SESSION_URL_BYTES (`client_id`
 * still names the client); with `post` a form POST that carries the hint
 * whatever its size. docs/decisions/006-logout.md.
 */
export function buildEndSession(config: client.Configuration | undefined, idToken: string | undefined): EndSession {
  const { oidc } = getEnv();
  const endpoint = oidc.endSessionUrl ?? config?.serverMetadata().end_session_endpoint;
  if (!endpoint) return { kind: "unsupported" };
  const kind = oidc.endSessionUrl ? "override" : "provider";
  const state = client.randomState();
  const url = new URL(endpoint);
  const params: Array<[string, string]> = [
    ["post_logout_redirect_uri", oidc.postLogoutRedirectUri.href],
    ["client_id", oidc.clientId],
    ["state", state],
  ];
  if (idToken) params.unshift(["id_token_hint", idToken]);

  if (oidc.endSessionMethod === "post") {
    return { kind, method: "POST", url, fields: params.filter(([name]) => !url.searchParams.has(name)), state };
  }
  for (const [name, value] of params) url.searchParams.set(name, value);
  const hintDropped = Boolean(idToken) && Buffer.byteLength(url.href) > MAX_END_SESSION_URL_BYTES;
  if (hintDropped) url.searchParams.delete("id_token_hint");
  return { kind, method: "GET", url, state, hintDropped };
}
