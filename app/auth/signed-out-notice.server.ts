/**
 * What the signed-out page says after a logout: the `state` the provider sent
 * back (RP-Initiated Logout 1.0 §3) checked against the logout cookie, else
 * the outcome the logout action named in `?logout=`.
 */
import { logoutStateCookie } from "../session/session.server.ts";

export type SignedOutNotice =
  | "provider" // the provider came back with our state: its session ended too
  | "unconfirmed" // we sent the browser to the provider, which came back without a state
  | "state-mismatch" // a state we did not issue (or whose cookie expired)
  | "unsupported" // no end_session_endpoint and no OIDC_END_SESSION_URL
  | "provider-unreachable" // discovery failed, so no end-session URL could be built
  | "no-session"; // there was nothing to sign out of

const LOCAL_OUTCOMES: readonly string[] = ["unsupported", "provider-unreachable", "no-session"];

/** The notice, and the Set-Cookie clearing the logout cookie when there was one. */
export async function readSignedOutNotice(
  request: Request,
): Promise<{ notice: SignedOutNotice | null; setCookie?: string }> {
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
