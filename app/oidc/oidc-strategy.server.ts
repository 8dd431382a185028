/**
 * A remix-auth strategy for OpenID Connect over openid-client: authorization
 * code flow with PKCE (S256), `state` and `nonce` (OpenID Connect Core 1.0
 * §3.1). Why not an extension of remix-auth-oauth2: docs/decisions/002-oidc-strategy.md.
 *
 * A request to the redirect URI's path is the callback; any other request
 * starts a sign-in (the app calls it only from `POST /login`): keep a new flow
 * (state, nonce, code verifier, return path) in the FlowStore and throw a
 * redirect to the provider. Callback: find this browser's flow by `state`, then let
 * openid-client check the response (state, RFC 9207 `iss`, provider errors),
 * exchange the code and validate the ID token (signature, iss, aud, exp, iat,
 * nonce), then, where the ID token lacks identity claims, fetch userinfo and
 * check that it is about the same user (OpenID Connect Core §5.3.2), before
 * `verify` sees anything.
 */
import * as client from "openid-client";
import { redirect } from "@remix-run/node";
import { Strategy } from "remix-auth/strategy";
import type { OidcFlow } from "../session/session-data.ts";
import { dpopHandle, newDPoPKey, openFlowKey, sealFlowKey, type DPoPKey } from "./dpop.server.ts";
import { safeRedirectPath } from "./safe-redirect.ts";
import { logger } from "../platform/logger.server.ts";
import { verifyIdTokenSignature } from "./id-token-signature.server.ts";
import { SignInError, toPushedAuthorizationError, toSignInError } from "./sign-in-errors.server.ts";
import { parNotOfferedProblem, pushesAuthorization, type ParMode } from "./pushed-authorization.server.ts";

export interface FlowStore {
  /** Keeps a new flow; returns headers (a Set-Cookie) to send with the redirect to the provider. */
  save(request: Request, flow: OidcFlow): Promise<HeadersInit>;
  /** The flow this browser started with that `state`, if any. */
  find(request: Request, state: string): Promise<OidcFlow | undefined>;
}

export interface OidcStrategyOptions {
  configuration: () => Promise<client.Configuration>;
  /** Runs a request to the token endpoint; default: with `configuration()` as it is. */
  tokenEndpoint?: <T>(request: (config: client.Configuration) => Promise<T>) => Promise<T>;
  redirectUri: URL;
  scopes: string;
  flows: FlowStore;
  /**
   * When to fetch userinfo after the code exchange: `auto` when the ID token
   * lacks one of `identityClaims` (and the provider has a userinfo endpoint),
   * `always`, or `never`. Default `auto`.
   */
  userinfo?: "auto" | "always" | "never";
  /** The claims the app shows of a person (e.g. name, email). */
  identityClaims?: readonly string[];
  /** DPoP (RFC 9449): a key pair per sign-in, kept with the flow, that the tokens are bound to. Default off. */
  dpop?: boolean;
  /** Pushed authorization requests (RFC 9126): when offered (`auto`, the default), always (`required`), never (`off`). */
  pushedAuthorization?: ParMode;
}

export interface OidcVerifyParams {
  request: Request;
  tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
  claims: client.IDToken;
  /** The userinfo response, when it was fetched; its `sub` is the ID token's. */
  userinfo: client.UserInfoResponse | undefined;
  /** True when userinfo was needed but could not be fetched: the person is signed in on the ID token alone. */
  userinfoFailed: boolean;
  flow: OidcFlow;
  /** With DPoP: the key the tokens are bound to. */
  dpopKey: DPoPKey | undefined;
}

export class OidcStrategy<User> extends Strategy<User, OidcVerifyParams> {
  name = "oidc";

  constructor(
    private readonly options: OidcStrategyOptions,
    verify: Strategy.VerifyFunction<User, OidcVerifyParams>,
  ) {
    super(verify);
  }

  async authenticate(request: Request): Promise<User> {
    const url = new URL(request.url);
    // Decided by path, never by which parameters happen to be present: a bare
    // GET of the callback URL must not start a sign-in.
    if (url.pathname !== this.options.redirectUri.pathname) throw await this.startSignIn(request, url);
    return this.completeSignIn(request, url);
  }

  private async startSignIn(request: Request, url: URL): Promise<Response> {
    const config = await this.configuration();
    const codeVerifier = client.randomPKCECodeVerifier();
    const dpopKey = this.options.dpop ? await newDPoPKey() : undefined;
    const flow: OidcFlow = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      codeVerifier,
      returnTo: safeRedirectPath(url.searchParams.get("returnTo")),
      createdAt: Math.floor(Date.now() / 1000),
      dpopKey: dpopKey && sealFlowKey(dpopKey),
    };
    const parameters = {
      redirect_uri: this.options.redirectUri.href,
      scope: this.options.scopes,
      state: flow.state,
      nonce: flow.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: "S256",
      // RFC 9449 §10: the code is bound to this key, so only a proof with it can exchange the code.
      ...(dpopKey ? { dpop_jkt: dpopKey.thumbprint } : {}),
    };
    const authorizationUrl = (await this.pushes(config))
      ? await this.push(parameters)
      : client.buildAuthorizationUrl(config, parameters);
    const headers = await this.options.flows.save(request, flow);
    return redirect(authorizationUrl.href, { headers });
  }

  private async pushes(config: client.Configuration): Promise<boolean> {
    const metadata = config.serverMetadata();
    const push = pushesAuthorization(this.options.pushedAuthorization ?? "auto", metadata);
    if (push === undefined) {
      throw new SignInError(
        "pushed_authorization_not_offered",
        "Sign-in is unavailable: the sign-in provider does not accept the requests this app is set to send. An administrator needs to check OIDC_PAR.",
        {
          cause: new Error(parNotOfferedProblem(metadata.issuer)),
        },
      );
    }
    return push;
  }

  /** The request pushed to the provider (client-authenticated as at the token endpoint): a URL with only client_id and request_uri. */
  private async push(parameters: Record<string, string>): Promise<URL> {
    const send = this.options.tokenEndpoint ?? (async (request) => request(await this.configuration()));
    try {
      return await send((configuration) => client.buildAuthorizationUrlWithPAR(configuration, parameters));
    } catch (error) {
      throw toPushedAuthorizationError(error);
    }
  }

  private async completeSignIn(request: Request, url: URL): Promise<User> {
    const state = url.searchParams.get("state");
    if (!state) {
      throw new SignInError(
        "missing_state",
        "The provider sent you back without the state this app gave it, so the response cannot be trusted.",
      );
    }
    const flow = await this.options.flows.find(request, state);
    if (!flow) {
      throw new SignInError(
        "unknown_state",
        "This sign-in response does not match a sign-in started in this browser. It may have expired, been used already, or not come from this app.",
      );
    }
    const config = await this.configuration();
    // The registered redirect URI with the response's parameters: never trust the Host header for it.
    const currentUrl = new URL(this.options.redirectUri);
    currentUrl.search = url.search;
    const tokenEndpoint = this.options.tokenEndpoint ?? ((send) => send(config));
    const dpopKey = await flowKey(flow);
    let tokens: OidcVerifyParams["tokens"];
    try {
      tokens = await tokenEndpoint((configuration) =>
        client.authorizationCodeGrant(
          configuration,
          currentUrl,
          {
            pkceCodeVerifier: flow.codeVerifier,
            expectedState: flow.state,
            expectedNonce: flow.nonce,
            idTokenExpected: true,
          },
          undefined,
          dpopKey && { DPoP: dpopHandle(configuration, dpopKey) },
        ),
      );
      // openid-client has checked the ID token's claims and alg; its signature is checked here, with the keys back-channel logout uses.
      await verifyIdTokenSignature(tokens.id_token!, config.serverMetadata());
    } catch (error) {
      throw toSignInError(error);
    }
    const claims = tokens.claims();
    if (!claims) throw new SignInError("missing_id_token", "The provider returned no ID token.");
    // A provider that ignored the proof issued a Bearer token: userinfo gets it as one.
    const bound = tokens.token_type?.toLowerCase() === "dpop" ? dpopKey : undefined;
    const { userinfo, failed } = await this.fetchUserinfo(config, tokens.access_token, claims, bound);
    return this.verify({ request, tokens, claims, userinfo, userinfoFailed: failed, flow, dpopKey });
  }

  /**
   * Userinfo when it is wanted. A response about another `sub` refuses the
   * sign-in; a userinfo endpoint that fails does not (the ID token identifies
   * the person), and says so in the log.
   */
  private async fetchUserinfo(
    config: client.Configuration,
    accessToken: string,
    claims: client.IDToken,
    dpopKey: DPoPKey | undefined,
  ) {
    const mode = this.options.userinfo ?? "auto";
    const lacking = (this.options.identityClaims ?? []).filter((name) => typeof claims[name] !== "string");
    if (mode === "never" || (mode === "auto" && lacking.length === 0) || !config.serverMetadata().userinfo_endpoint) {
      return { userinfo: undefined, failed: false };
    }
    try {
      const options = dpopKey && { DPoP: dpopHandle(config, dpopKey) };
      return { userinfo: await client.fetchUserInfo(config, accessToken, claims.sub, options), failed: false };
    } catch (error) {
      if (error instanceof client.ClientError && error.code === "OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED") {
        throw new SignInError(
          "userinfo_subject_mismatch",
          "The provider's userinfo response is about another user than its ID token, so the sign-in cannot be trusted.",
          { cause: error },
        );
      }
      const refusal = toSignInError(error);
      logger.warn(
        { err: error, code: refusal instanceof SignInError ? refusal.code : undefined },
        `[sign-in] userinfo could not be fetched; signed in on the ID token alone, without ${lacking.join(", ") || "its claims"}`,
      );
      return { userinfo: undefined, failed: true };
    }
  }

  private async configuration() {
    try {
      return await this.options.configuration();
    } catch (error) {
      throw toSignInError(error);
    }
  }
}

/** The DPoP key the flow started with, if any; one that cannot be read refuses the sign-in (nothing is created). */
async function flowKey(flow: OidcFlow): Promise<DPoPKey | undefined> {
  if (!flow.dpopKey) return undefined;
  try {
    return await openFlowKey(flow.dpopKey);
  } catch (error) {
    logger.error({ err: error }, "[sign-in] the DPoP key kept with this sign-in cannot be read");
    throw new SignInError(
      "token_exchange_failed",
      "The key this sign-in started with cannot be read, so its tokens cannot be requested. Please sign in again.",
      { cause: error },
    );
  }
}
