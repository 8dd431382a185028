/**
 * What the signed-out page says after a logout: the `state` the provider sent
 * back (RP-Initiated Logout 1.0 §3) checked against the logout cookie, else
 * the outcome the logout action named in `?logout=`. It never claims more
 * than the app knows: a state returned after a logout sent by form POST only
 * says the provider sent the browser back (a provider whose session cookie is
 * SameSite=Lax never saw its session on that cross-site POST).
 */
import type { Cookie } from "@remix-run/node";

export type SignedOutNotice =
  | "provider" // the provider came back with our state after a redirect (GET): its session ended too
  | "provider-returned" // it came back with our state after a form POST: whether its session ended is unknown
  | "unconfirmed" // we sent the browser to the provider, which came back without a state
  | "state-mismatch" // a state we did not issue (or whose cookie expired)
  | "unsupported" // no end_session_endpoint and no OIDC_END_SESSION_URL
  | "provider-unreachable" // discovery failed, so no end-session URL could be built
  | "no-session"; // there was nothing to sign out of

/** What the logout cookie holds until the provider sends the browser back. */
export interface LogoutState {
  state: string;
  via: "get" | "post";
}

const LOCAL_OUTCOMES: readonly string[] = ["unsupported", "provider-unreachable", "no-session"];

function logoutState(value: unknown): LogoutState | undefined {
  if (typeof value === "string" && value) return { state: value, via: "get" }; // a cookie set before the method was kept
  if (typeof value !== "object" || value === null) return undefined;
  const { state, via } = value as Record<string, unknown>;
  return typeof state === "string" && state && (via === "get" || via === "post") ? { state, via } : undefined;
}

/**
 * The notice, and the Set-Cookie clearing the logout cookie when there was
 * one. `cookie` is the signed cookie the logout action set with a LogoutState.
 */
export async function readSignedOutNotice(
  request: Request,
  cookie: Pick<Cookie, "parse" | "serialize">,
): Promise<{ notice: SignedOutNotice | null; setCookie?: string }> {
  const params = new URL(request.url).searchParams;
  const expected = logoutState(await cookie.parse(request.headers.get("Cookie")));
  const returned = params.get("state");
  const logout = params.get("logout");
  if (expected) {
    const matched = expected.via === "post" ? "provider-returned" : "provider";
    const notice = returned === null ? "unconfirmed" : returned === expected.state ? matched : "state-mismatch";
    return { notice, setCookie: await cookie.serialize("", { maxAge: 0 }) };
  }
  if (returned !== null) return { notice: "state-mismatch" };
  return { notice: logout && LOCAL_OUTCOMES.includes(logout) ? (logout as SignedOutNotice) : null };
}
