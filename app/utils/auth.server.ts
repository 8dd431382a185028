/**
 * The behaviour of signing in and out: the remix-auth Authenticator with the
 * OIDC strategy, the session lifecycle around it (a new session id at every
 * sign-in), the guards used by routes, and logout with RP-initiated logout at
 * the provider.
 */
import { createSession, json, redirect } from "@remix-run/node";
import { Authenticator } from "remix-auth";
import { getEnv } from "./env.server.ts";
import { logger } from "./logger.server.ts";
import { buildEndSession, getOidcConfig, ProviderUnavailableError, type EndSession } from "./oidc.server.ts";
import { OidcStrategy, SignInError, type FlowStore } from "./oidc-strategy.server.ts";
import { safeRedirectPath } from "./safe-redirect.ts";
import { approximateIp } from "./user-agent.ts";
import { sealSessionToken as seal, sessionToken } from "./session-tokens.server.ts";
import { ensureFreshTokens, RefreshUnavailableError } from "./token-refresh.server.ts";
import {
  commitSession,
  destroySession,
  FLOW_MAX_AGE,
  getSession,
  logoutStateCookie,
  mapErrors,
  SessionTooLargeError,
  type AppSession,
  type SessionData,
  type SessionUser,
} from "./session.server.ts";

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

declare global {
  var __rroAuthenticator: Authenticator<SignIn> | undefined;
}

function authenticator(): Authenticator<SignIn> {
  if (!globalThis.__rroAuthenticator) {
    const { oidc } = getEnv();
    const strategy = new OidcStrategy<SignIn>(
      { configuration: getOidcConfig, redirectUri: oidc.redirectUri, scopes: oidc.scopes, flows: sessionFlowStore },
      async ({ request, tokens, claims, flow }) => {
        const now = Math.floor(Date.now() / 1000);
        return {
          returnTo: flow.returnTo,
          previous: loadedForCallback.get(request),
          data: {
            user: sessionUser(claims),
            idToken: seal("idToken", tokens.id_token),
            accessToken: seal("accessToken", tokens.access_token),
            refreshToken: seal("refreshToken", tokens.refresh_token),
            accessTokenExpiresAt: tokens.expires_in ? now + tokens.expires_in : undefined,
            sid: typeof claims.sid === "string" ? claims.sid : undefined,
            signedInAt: now,
            expiresAt: now + getEnv().sessionMaxAge,
          },
        };
      },
    );
    globalThis.__rroAuthenticator = new Authenticator<SignIn>().use(strategy, "oidc");
  }
  return globalThis.__rroAuthenticator;
}

const text = (value: unknown) => (typeof value === "string" && value ? value : undefined);

/** The identity claims kept in the session (the full set stays in the stored id_token). */
function sessionUser(claims: Record<string, unknown> & { sub: string }): SessionUser {
  return { sub: claims.sub, name: text(claims.name), email: text(claims.email), preferredUsername: text(claims.preferred_username) };
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
    if (session.get("user")) await destroySession(session);
    return null;
  }
  try {
    return await mapErrors(() => ensureFreshTokens(session));
  } catch (error) {
    if (!(error instanceof RefreshUnavailableError)) throw error;
    logger.error({ err: error }, `[refresh] ${error.message}`);
    throw json(
      { code: error.code, message: "Your session needs renewing, but the sign-in provider cannot be reached right now. Nothing was lost; please try again in a moment." },
      { status: 503, headers: { "Retry-After": "5" } },
    );
  }
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
 * session (new id) holds the tokens. Throws SignInError otherwise, having
 * created nothing.
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
  data.userAgent = request.headers.get("User-Agent")?.slice(0, 300) ?? undefined;
  data.ip = approximateIp(clientIp);
  await destroySession(previous ?? (await getSession(request)));
  let setCookie: string;
  try {
    setCookie = await commitSession(createSession<SessionData>(data));
  } catch (error) {
    if (error instanceof SessionTooLargeError) throw new SignInError("session_too_large", error.message, 500, { cause: error });
    throw error;
  }
  return redirect(returnTo, { headers: { "Set-Cookie": setCookie } });
}

/**
 * Logout: reads the stored id_token, works out the provider's end-session URL,
 * then deletes the Redis record (a failure there is a 503 and changes nothing),
 * clears the cookie and sends the browser to the provider (a redirect, or the
 * data of a form POST), or to the signed-out page saying what could not be done.
 */
export async function logout(request: Request): Promise<Response> {
  const session = await getSession(request);
  const headers = new Headers();
  if (!isSignedIn(session)) {
    if (session.id) headers.append("Set-Cookie", await destroySession(session));
    return redirect("/?logout=no-session", { headers });
  }

  let endSession: EndSession | { kind: "provider-unreachable" };
  try {
    const config = getEnv().oidc.endSessionUrl ? undefined : await getOidcConfig();
    endSession = buildEndSession(config, sessionToken(session, "idToken"));
  } catch (error) {
    if (!(error instanceof ProviderUnavailableError)) throw error;
    logger.warn({ err: error }, `[logout] ${error.message}`);
    endSession = { kind: "provider-unreachable" };
  }

  headers.append("Set-Cookie", await destroySession(session));
  if (endSession.kind === "unsupported" || endSession.kind === "provider-unreachable") {
    return redirect(`/?logout=${endSession.kind}`, { headers });
  }
  headers.append("Set-Cookie", await logoutStateCookie().serialize(endSession.state));
  if (endSession.method === "POST") {
    // OIDC_END_SESSION_METHOD=post: the logout page submits this form to the provider.
    return json({ endSession: { action: endSession.url.href, fields: endSession.fields } }, { headers });
  }
  return redirect(endSession.url.href, { headers });
}

/**
 * The answer to a sign-in that could not complete (a SignInError): its code
 * and plain message, with its status; logged with the underlying cause.
 * Anything else is rethrown (a redirect Response, a 503 from the session store).
 */
export function signInFailure(error: unknown) {
  if (!(error instanceof SignInError)) throw error;
  // Mostly bad or stale callbacks (client input): the chain of causes (openid-client names the failed
  // check one or two levels down, e.g. 'unexpected JWT "aud" (audience) claim value'), no stack.
  const causes: string[] = [];
  for (let e: unknown = error.cause; e instanceof Error && causes.length < 3; e = e.cause) causes.push(e.message);
  const cause = causes.length ? causes.join(": ") : error.message;
  logger[error.status >= 500 ? "error" : "warn"]({ code: error.code }, `[sign-in] ${error.code}: ${cause}`);
  return json({ code: error.code, message: error.message }, { status: error.status });
}

export type SignedOutNotice =
  | "provider" // the provider came back with our state: its session ended too
  | "unconfirmed" // we sent the browser to the provider, which came back without a state
  | "state-mismatch" // a state we did not issue (or whose cookie expired)
  | "unsupported" // no end_session_endpoint and no OIDC_END_SESSION_URL
  | "provider-unreachable" // discovery failed, so no end-session URL could be built
  | "no-session"; // there was nothing to sign out of

const LOCAL_OUTCOMES: readonly string[] = ["unsupported", "provider-unreachable", "no-session"];

/**
 * What the signed-out page says: the `state` the provider sent back
 * (RP-Initiated Logout 1.0 §3) checked against the logout cookie, else the
 * outcome named in `?logout=`. Also returns the Set-Cookie clearing the logout
 * cookie when there was one.
 */
export async function readSignedOutNotice(request: Request): Promise<{ notice: SignedOutNotice | null; setCookie?: string }> {
  const params = new URL(request.url).searchParams;
  const cookie = logoutStateCookie();
  const expected: unknown = await cookie.parse(request.headers.get("Cookie"));
  const returned = params.get("state");
  const logout = params.get("logout");
  if (typeof expected === "string" && expected) {
    const notice = returned === null ? "unconfirmed" : returned === expected ? "provider" : "state-mismatch";
    return { notice, setCookie: await cookie.serialize("", { maxAge: 0 }) };
  }
  if (returned !== null) return { notice: "state-mismatch" };
  return { notice: logout && LOCAL_OUTCOMES.includes(logout) ? (logout as SignedOutNotice) : null };
}

/** Where a GET of /login goes when the person is already signed in. */
export function returnPath(request: Request) {
  return safeRedirectPath(new URL(request.url).searchParams.get("returnTo"));
}
