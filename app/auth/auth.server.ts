/**
 * Signing in and out: what routes call. The remix-auth Authenticator with the
 * OpenID Connect strategy, the session lifecycle around it (a new session id
 * at every sign-in), the guards used by routes, and logout with RP-initiated
 * logout at the provider. Failures are typed errors, turned into pages at
 * the edge (app/web/http-errors.server.ts).
 */
import { remember } from "@epic-web/remember";
import { createSession, data, redirect } from "@remix-run/node";
import { Authenticator } from "remix-auth";
import { buildEndSession, type EndSession } from "../oidc/end-session.server.ts";
import { tokenTypeName } from "../oidc/dpop.server.ts";
import { OidcStrategy, type FlowStore } from "../oidc/oidc-strategy.server.ts";
import {
  getOidcConfig,
  ProviderMisconfiguredError,
  ProviderUnavailableError,
  withClientAuthentication,
} from "../oidc/provider.server.ts";
import { safeRedirectPath } from "../oidc/safe-redirect.ts";
import { signingKeyStillPublished } from "../oidc/id-token-signature.server.ts";
import { SignInError } from "../oidc/sign-in-errors.server.ts";
import { ensureFreshTokens } from "../oidc/token-refresh.server.ts";
import { getEnv } from "../platform/env.server.ts";
import { logger } from "../platform/logger.server.ts";
import { metrics } from "../platform/metrics.server.ts";
import { FLOW_MAX_AGE, type AppSession, type SessionData, type SessionUser } from "../session/session-data.ts";
import { commitSession, destroySession, getSession, logoutStateCookie, readTokens } from "../session/session.server.ts";
import { approximateIp, describeUserAgent } from "../session/user-agent.ts";
import type { LogoutState } from "./signed-out-notice.server.ts";

/** What a successful callback yields: the data of the new session, where to go, and the session it replaces. */
interface SignIn {
  data: SessionData;
  returnTo: string;
  previous: AppSession | undefined;
}

/** The session `find` loaded for a callback request, handed to `verify` so it is read once. */
const loadedForCallback = new WeakMap<Request, AppSession>();

const MAX_FLOWS_PER_BROWSER = 5;

/** Flows live in the browser's (pre-sign-in) session, so they are bound to this browser. */
const sessionFlowStore: FlowStore = {
  async save(request, flow) {
    const session = await getSession(request);
    const flows = Object.values(session.get("flows") ?? {})
      .filter((f) => f.createdAt > flow.createdAt - FLOW_MAX_AGE)
      .slice(-(MAX_FLOWS_PER_BROWSER - 1));
    session.set("flows", Object.fromEntries([...flows, flow].map((f) => [f.state, f])));
    const signedIn = isSignedIn(session);
    return { "Set-Cookie": await commitSession(session, signedIn ? undefined : { maxAge: FLOW_MAX_AGE }) };
  },
  async find(request, state) {
    const session = await getSession(request);
    loadedForCallback.set(request, session);
    const flow = session.get("flows")?.[state];
    const fresh = flow && flow.createdAt > Math.floor(Date.now() / 1000) - FLOW_MAX_AGE;
    return fresh ? flow : undefined;
  },
};

const authenticator = () =>
  remember("rro:authenticator", () => {
    const { oidc } = getEnv();
    const strategy = new OidcStrategy<SignIn>(
      {
        configuration: getOidcConfig,
        tokenEndpoint: withClientAuthentication,
        redirectUri: oidc.redirectUri,
        scopes: oidc.scopes,
        flows: sessionFlowStore,
        userinfo: oidc.userinfo,
        identityClaims: identityClaims(oidc.scopes),
        dpop: oidc.dpop,
        pushedAuthorization: oidc.par,
      },
      async ({ request, tokens, claims, userinfo, userinfoFailed, flow, dpopKey }) => {
        const now = Math.floor(Date.now() / 1000);
        return {
          returnTo: flow.returnTo,
          previous: loadedForCallback.get(request),
          data: {
            // The ID token's claims win over userinfo's: it is signed.
            user: sessionUser({ ...userinfo, ...claims }),
            profileIncomplete: userinfoFailed || undefined,
            idToken: tokens.id_token,
            accessToken: tokens.access_token,
            refreshToken: tokens.refresh_token,
            tokenType: tokenTypeName(tokens.token_type),
            dpopKey: dpopKey?.jwk,
            accessTokenExpiresAt: tokens.expires_in ? now + tokens.expires_in : undefined,
            refreshable: Boolean(tokens.refresh_token) || undefined,
            sid: typeof claims.sid === "string" ? claims.sid : undefined,
            signedInAt: now,
            expiresAt: now + getEnv().sessionMaxAge,
          },
        };
      },
    );
    return new Authenticator<SignIn>().use(strategy, "oidc");
  });

const text = (value: unknown) => (typeof value === "string" && value ? value : undefined);

/** The identity claims the app shows, as far as the scopes ask for them: the ones worth a userinfo request when the ID token lacks them. */
function identityClaims(scopes: string): string[] {
  const asked = scopes.split(" ");
  return [
    ...(asked.includes("profile") ? ["name", "preferred_username"] : []),
    ...(asked.includes("email") ? ["email"] : []),
  ];
}

/** The identity claims kept in the session (the full set stays in the stored id_token). */
function sessionUser(claims: Record<string, unknown> & { sub: string }): SessionUser {
  return {
    sub: claims.sub,
    name: text(claims.name),
    email: text(claims.email),
    preferredUsername: text(claims.preferred_username),
  };
}

/** What to call the person. */
export function displayName(user: SessionUser): string {
  return user.name ?? user.preferredUsername ?? user.email ?? user.sub;
}

export function isSignedIn(session: AppSession): boolean {
  const expiresAt = session.get("expiresAt");
  return Boolean(session.get("user")) && typeof expiresAt === "number" && expiresAt > Date.now() / 1000;
}

/**
 * The signed-in session of this request, or null. One past its absolute
 * lifetime is deleted on sight; an access token about to expire is refreshed
 * first (once, whatever the concurrency; a refused refresh ends the session).
 */
export async function getSignedInSession(request: Request): Promise<AppSession | null> {
  const session = await getSession(request);
  if (!isSignedIn(session)) {
    if (!session.get("user")) return null;
    await destroySession(session, "absolute");
    return null;
  }
  return ensureFreshTokens(session);
}

/** Guard for protected routes: the signed-in session, or a redirect to sign-in that comes back here. */
export async function requireSignedInSession(request: Request): Promise<AppSession> {
  const session = await getSignedInSession(request);
  if (session) return session;
  const url = new URL(request.url);
  const returnTo = safeRedirectPath(`${url.pathname}${url.search}`);
  throw redirect(`/login?${new URLSearchParams({ returnTo })}`);
}

/** First leg: throws the redirect to the provider (with the flow's Set-Cookie). */
export async function startSignIn(request: Request): Promise<never> {
  await authenticator().authenticate("oidc", request);
  throw new Error("unreachable: the strategy redirects on the first leg");
}

/**
 * Callback: on success, the pre-sign-in session is destroyed and a new
 * session (new id) holds the tokens. Throws otherwise (SignInError,
 * SessionTooLargeError, a Redis outage), having created nothing.
 */
export async function completeSignIn(request: Request, clientIp?: string): Promise<Response> {
  let signIn: SignIn;
  try {
    signIn = await authenticator().authenticate("oidc", request);
  } catch (error) {
    // A second tab's callback after another tab completed sign-in (which took
    // the pre-sign-in session and its flows along): already signed in, go on.
    if (error instanceof SignInError && error.code === "unknown_state" && (await getSignedInSession(request))) {
      throw redirect("/account");
    }
    throw error;
  }
  const { data, returnTo, previous } = signIn;
  data.device = describeUserAgent(request.headers.get("User-Agent") ?? undefined);
  data.ip = approximateIp(clientIp);
  await destroySession(previous ?? (await getSession(request)));
  const setCookie = await commitSession(createSession<SessionData>(data)); // the cookie design may throw SessionTooLargeError
  metrics().sessionsCreated.inc({ via: "sign_in" });
  return redirect(returnTo, { headers: { "Set-Cookie": setCookie } });
}

/**
 * Logout: reads the stored id_token, works out the provider's end-session URL,
 * then deletes the Redis record (a failure there is a 503 and changes nothing),
 * clears the cookie and sends the browser to the provider (a redirect, or the
 * data of a form POST), or to the signed-out page saying what could not be done.
 */
export async function logout(request: Request) {
  const session = await getSession(request);
  const headers = new Headers();
  if (!isSignedIn(session)) {
    if (session.id) headers.append("Set-Cookie", await destroySession(session));
    return redirect("/?logout=no-session", { headers });
  }

  let endSession: EndSession | { kind: "provider-unreachable" };
  try {
    const { oidc } = getEnv();
    // With OIDC_END_SESSION_URL, discovery is needed only to check the hint's key (not to log out).
    const config = await getOidcConfig().catch((error: unknown) => {
      if (oidc.endSessionUrl) return undefined;
      throw error;
    });
    const metadata: { end_session_endpoint?: string; jwks_uri?: string } = config?.serverMetadata() ?? {};
    const endpoint = oidc.endSessionUrl ?? metadata.end_session_endpoint;
    endSession = buildEndSession({
      endpoint,
      idToken: await idTokenHint(session, metadata),
      clientId: oidc.clientId,
      postLogoutRedirectUri: oidc.postLogoutRedirectUri,
      method: oidc.endSessionMethod,
      logoutHintClaim: oidc.logoutHintClaim,
    });
  } catch (error) {
    if (!(error instanceof ProviderUnavailableError || error instanceof ProviderMisconfiguredError)) throw error;
    logger.warn({ err: error }, `[logout] ${error.message}`);
    endSession = { kind: "provider-unreachable" };
  }

  headers.append("Set-Cookie", await destroySession(session, "logout"));
  if (endSession.kind === "unsupported" || endSession.kind === "provider-unreachable") {
    return redirect(`/?logout=${endSession.kind}`, { headers });
  }
  const sent: LogoutState = { state: endSession.state, via: endSession.method === "POST" ? "post" : "get" };
  headers.append("Set-Cookie", await logoutStateCookie().serialize(sent));
  if (endSession.method === "POST") {
    // OIDC_END_SESSION_METHOD=post: the logout page submits this form to the provider.
    return data({ endSession: { action: endSession.url.href, fields: endSession.fields } }, { headers });
  }
  return redirect(endSession.url.href, { headers });
}

/**
 * The stored ID token, to send as `id_token_hint`; none when its signing key
 * is no longer published (the provider rotated it out and would refuse the
 * hint): `client_id` then names the client, and the provider asks the person
 * to confirm (docs/decisions/020-provider-key-rotation-and-jwks-refresh.md).
 */
async function idTokenHint(session: AppSession, metadata: { jwks_uri?: string }) {
  const idToken = (await readTokens(session)).idToken;
  if (!idToken || (await signingKeyStillPublished(idToken, metadata))) return idToken;
  logger.info(
    "[logout] the provider no longer publishes the key that signed this session's ID token: the end-session request goes without id_token_hint",
  );
  return undefined;
}

/** Where a GET of /login goes when the person is already signed in. */
export function returnPath(request: Request) {
  return safeRedirectPath(new URL(request.url).searchParams.get("returnTo"));
}
