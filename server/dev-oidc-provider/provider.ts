/**
 * Builds the `oidc-provider` Provider of the embedded development OpenID
 * provider: one registered confidential client, a fresh RS256 signing key per
 * start, our own login/logout pages, no consent screen for the first-party
 * client, refresh tokens without `offline_access`, PKCE (S256) always required,
 * and ID tokens that carry the profile/email claims and `groups` (like Keycloak
 * or Entra ID do, which makes them large).
 *
 * Storage is in memory (memory-adapter.ts: like oidc-provider's own, without
 * its 1,000-entry cap): a restart forgets all provider sessions, grants and
 * tokens (users simply sign in again).
 */
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import Provider, { errors } from "oidc-provider";
import type { Configuration, ErrorOut, Grant, JWK, KoaContextWithOIDC } from "oidc-provider";
import { findAccount } from "./accounts.ts";
import { createMemoryAdapter } from "./memory-adapter.ts";
import { errorPage, logoutPage, postLogoutSuccessPage } from "./views.ts";

export interface DevClientConfig {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  tokenEndpointAuthMethod?: "client_secret_basic" | "client_secret_post" | "private_key_jwt";
  /** private_key_jwt: where the provider fetches the client's public keys (the app's /auth/jwks.json). */
  jwksUri?: string;
  /** private_key_jwt: the client's public keys given inline instead (wins over jwksUri). */
  jwks?: { keys: JWK[] };
  /** OpenID Connect Back-Channel Logout 1.0: where the provider POSTs logout tokens (with `sid` required). */
  backchannelLogoutUri?: string;
}

export interface CreateProviderOptions {
  /** e.g. "http://127.0.0.1:4000", no trailing slash. */
  issuer: string;
  client: DevClientConfig;
  log: (line: string) => void;
  /** RP-initiated logout (`end_session_endpoint`); off imitates a provider without it. Default on. */
  rpInitiatedLogout?: boolean;
  /**
   * Accept POST at the authorization and end-session endpoints. oidc-provider
   * then needs SameSite=None session cookies, which browsers keep only over
   * https: for HTTP-level tests, not for a browser on http. Default off.
   */
  httpPostMethods?: boolean;
  /** A private signing JWK to use instead of a fresh one (tests sign their own logout tokens with it). */
  signingKey?: JWK;
  /**
   * The whole key set instead (the first one signs, all are published): a key
   * rotation builds a new Provider with these, the same `adapter` and the same
   * `cookieKeys`, so that sessions, grants and sign-ins in progress carry over.
   */
  signingKeys?: JWK[];
  /** Storage to share with a previous instance (key rotation); default a fresh one. */
  adapter?: ReturnType<typeof createMemoryAdapter>;
  /** Cookie signing keys to share with a previous instance (key rotation); default fresh ones. */
  cookieKeys?: string[];
  /** Identity claims only in userinfo (oidc-provider's conforming default), not in the ID token. */
  identityClaimsInUserinfoOnly?: boolean;
  /** DPoP (RFC 9449; always accepted): also require a server nonce in every proof (`use_dpop_nonce` challenges). Default off. */
  dpopNonces?: boolean;
  /** Pushed authorization requests (RFC 9126) at /request; off imitates a provider without them. Default on. */
  pushedAuthorizationRequests?: boolean;
}

/** A fresh RSA-2048 private signing JWK (RS256) with a kid of its own. Tokens do not survive a restart. */
export function generateSigningKey(): JWK {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = privateKey.export({ format: "jwk" });
  return {
    ...(jwk as JWK),
    kid: `dev-${randomUUID()}`,
    use: "sig",
    alg: "RS256",
  };
}

/**
 * Skips the consent screen for our first-party client: reuse the session's
 * grant for the client (or create one) and make sure it covers every OIDC scope
 * and claim of the current request, so interactions only ever prompt for `login`.
 * Based on the "skipping consent" recipe of oidc-provider's documentation.
 */
async function loadExistingGrant(ctx: KoaContextWithOIDC): Promise<Grant | undefined> {
  const { oidc } = ctx;
  const client = oidc.client;
  const account = oidc.account;
  const session = oidc.session;
  if (!client || !account || !session) return undefined;

  const grantId = oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (grant && (grant.accountId !== account.accountId || grant.clientId !== client.clientId)) {
    grant = undefined; // belongs to someone else (e.g. a different user signed in): start fresh
  }

  let changed = false;
  if (!grant) {
    grant = new oidc.provider.Grant({ accountId: account.accountId, clientId: client.clientId });
    changed = true;
  }

  const granted = new Set(grant.getOIDCScopeEncountered().split(" "));
  const missingScopes = [...oidc.requestParamOIDCScopes].filter((s) => !granted.has(s));
  if (missingScopes.length > 0) {
    grant.addOIDCScope(missingScopes);
    changed = true;
  }

  const grantedClaims = new Set(grant.getOIDCClaimsEncountered());
  const missingClaims = [...oidc.requestParamClaims].filter((c) => !grantedClaims.has(c));
  if (missingClaims.length > 0) {
    grant.addOIDCClaims(missingClaims);
    changed = true;
  }

  if (changed) await grant.save();
  return grant;
}

function renderError(ctx: KoaContextWithOIDC, out: ErrorOut): void {
  ctx.type = "html";
  ctx.body = errorPage({
    title: "Sign-in error",
    message:
      out.error === "server_error"
        ? "Something went wrong in the development OpenID provider. Check its log output."
        : (out.error_description ?? out.error),
    detail: out.error === "server_error" ? undefined : `Error code: ${out.error}`,
  });
}

const ERROR_EVENTS = [
  "authorization.error",
  "grant.error",
  "end_session.error",
  "end_session_confirm.error",
  "end_session_success.error",
  "userinfo.error",
  "introspection.error",
  "revocation.error",
  "discovery.error",
  "jwks.error",
  "pushed_authorization_request.error",
] as const;

export function createProvider({
  issuer,
  client,
  log,
  rpInitiatedLogout = true,
  httpPostMethods = false,
  signingKey,
  signingKeys,
  adapter,
  cookieKeys,
  identityClaimsInUserinfoOnly = false,
  dpopNonces = false,
  pushedAuthorizationRequests = true,
}: CreateProviderOptions): Provider {
  const keyBased = client.tokenEndpointAuthMethod === "private_key_jwt";
  const configuration: Configuration = {
    clients: [
      {
        client_id: client.clientId,
        ...(keyBased ? {} : { client_secret: client.clientSecret }),
        ...(keyBased ? (client.jwks ? { jwks: client.jwks } : { jwks_uri: client.jwksUri }) : {}),
        client_name: "remix-redis-oidc (dev)",
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        redirect_uris: client.redirectUris,
        post_logout_redirect_uris: client.postLogoutRedirectUris,
        ...(client.backchannelLogoutUri
          ? { backchannel_logout_uri: client.backchannelLogoutUri, backchannel_logout_session_required: true }
          : {}),
        token_endpoint_auth_method: client.tokenEndpointAuthMethod ?? "client_secret_basic",
      },
    ],
    jwks: { keys: signingKeys ?? [signingKey ?? generateSigningKey()] },
    // oidc-provider refuses outgoing requests to special-use addresses (SSRF protection),
    // loopback included; this development provider only ever calls apps on this machine
    // (back-channel logout), so its requests go out without that dispatcher.
    fetch: (url: string | URL | Request, options?: RequestInit) => {
      const { dispatcher: _ssrfGuard, ...rest } = (options ?? {}) as RequestInit & { dispatcher?: unknown };
      return globalThis.fetch(url, rest);
    },
    cookies: {
      keys: cookieKeys ?? [randomBytes(32).toString("base64url")],
      ...(httpPostMethods ? { long: { httpOnly: true, sameSite: "none" as const } } : {}),
    },
    enableHttpPostMethods: httpPostMethods,
    claims: {
      openid: ["sub"],
      profile: ["name", "given_name", "family_name", "preferred_username", "groups"],
      email: ["email", "email_verified"],
    },
    // Put the scope-granted claims (incl. `groups`) into the ID token itself,
    // like Keycloak and Entra ID do; or (the conforming way) only into userinfo.
    conformIdTokenClaims: identityClaimsInUserinfoOnly,
    features: {
      backchannelLogout: { enabled: true },
      // DPoP proofs are accepted (and bind the tokens) whenever a client sends them; with dpopNonces
      // every proof must carry a nonce the provider issued (it answers `use_dpop_nonce` with one).
      dPoP: dpopNonces ? { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true } : { enabled: true },
      pushedAuthorizationRequests: { enabled: pushedAuthorizationRequests },
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: rpInitiatedLogout,
        logoutSource(ctx, form) {
          ctx.type = "html";
          ctx.body = logoutPage({
            form,
            host: ctx.host,
            clientName: ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId,
          });
        },
        postLogoutSuccessSource(ctx) {
          ctx.type = "html";
          ctx.body = postLogoutSuccessPage({
            clientName: ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId,
          });
        },
      },
      // Only the client a token was issued to may revoke or introspect it
      // (explicit policies instead of the defaults, which print a notice).
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx, c, token) => token.clientId === c.clientId,
      },
      introspection: {
        enabled: true,
        allowedPolicy: (_ctx, c, token) => token.clientId === c.clientId,
      },
    },
    adapter: adapter ?? createMemoryAdapter(),
    loadExistingGrant,
    // Always issue a refresh token to a client allowed to use them, without
    // requiring the `offline_access` scope. (They still expire with the
    // provider session, since no `offline_access` was granted.)
    issueRefreshToken: (_ctx, c) => c.grantTypeAllowed("refresh_token"),
    pkce: { required: () => true },
    findAccount,
    renderError,
    clientBasedCORS: () => false,
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    ttl: {
      AccessToken: 600,
      IdToken: 600,
      Interaction: 600,
      Session: 86400,
      Grant: 86400,
      RefreshToken: 86400,
    },
  };

  const provider = new Provider(issuer, configuration);

  provider.on("server_error", (ctx: KoaContextWithOIDC, err: Error) => {
    log(`[dev-oidc] server_error on ${ctx.method} ${ctx.path}: ${err.stack ?? String(err)}`);
  });
  // (The typings only accept one literal event name per `on` call.)
  const emitter = provider as unknown as NodeJS.EventEmitter;
  for (const event of ERROR_EVENTS) {
    emitter.on(event, (ctx: KoaContextWithOIDC, err: unknown) => {
      const e = err instanceof errors.OIDCProviderError ? err : undefined;
      const detail = e?.error_detail ? `: ${e.error_detail}` : ""; // what a generic description hides
      const what = e ? `${e.error}${e.error_description ? ` (${e.error_description}${detail})` : ""}` : String(err);
      log(`[dev-oidc] ${event} on ${ctx.method} ${ctx.path}: ${what}`);
    });
  }

  emitter.on("backchannel.error", (_ctx: unknown, err: Error, client: { clientId: string }) => {
    log(`[dev-oidc] back-channel logout to ${client.clientId} failed: ${err.message}`);
  });

  return provider;
}

export type { Provider };
