/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): where and how
 * to send the browser so that the provider's session ends too. Pure: the
 * settings come in as arguments (this app's from its configuration, see
 * app/auth/auth.server.ts; another app's from its own: docs/adopt.md).
 */
import { decodeJwt } from "jose";
import { randomState } from "openid-client";

export interface EndSessionOptions {
  /** The provider's end_session_endpoint (from discovery), or an override; none: the provider cannot be asked. */
  endpoint: string | URL | undefined;
  /** The ID token the provider issued to this session: the `id_token_hint`. */
  idToken: string | undefined;
  clientId: string;
  postLogoutRedirectUri: URL | string;
  /** `get`: a redirect (default); `post`: a form the browser posts. */
  method?: "get" | "post";
  /** The ID token claim sent as `logout_hint` when the hint is too large for a redirect (e.g. `sid`). */
  logoutHintClaim?: string;
}

/**
 * The longest end-session URL sent as a redirect. An `id_token_hint` with many
 * group claims would make a `Location` header of 10–30 KB, the very oversized
 * header (nginx 502, Node 431) this project exists to avoid.
 */
export const MAX_END_SESSION_URL_BYTES = 2000;

export type EndSession =
  | { kind: "provider"; method: "GET"; url: URL; state: string; hintDropped: boolean }
  | { kind: "provider"; method: "POST"; url: URL; fields: Array<[string, string]>; state: string }
  | { kind: "unsupported" };

/**
 * Where and how to send the browser to end the provider's session
 * (OpenID Connect RP-Initiated Logout 1.0 §2): the endpoint, with
 * `id_token_hint`, `post_logout_redirect_uri`, `client_id` and a fresh `state`
 * (the endpoint's own query parameters are kept). With method `get` (default)
 * a redirect, leaving the hint out when it would make the URL longer than
 * MAX_END_SESSION_URL_BYTES: `client_id` still names the client, and with
 * `logoutHintClaim`, that claim of the ID token goes as `logout_hint` (§2,
 * e.g. `sid` for Auth0, `login_hint` for Entra ID). With `post` a form POST
 * that carries the hint whatever its size. docs/decisions/006-logout.md.
 */
export function buildEndSession(options: EndSessionOptions): EndSession {
  const { endpoint, idToken } = options;
  if (!endpoint) return { kind: "unsupported" };
  const kind = "provider";
  const state = randomState();
  const url = new URL(endpoint);
  const params: Array<[string, string]> = [
    ["post_logout_redirect_uri", new URL(options.postLogoutRedirectUri).href],
    ["client_id", options.clientId],
    ["state", state],
  ];
  if (idToken) params.unshift(["id_token_hint", idToken]);

  if (options.method === "post") {
    return { kind, method: "POST", url, fields: params.filter(([name]) => !url.searchParams.has(name)), state };
  }
  for (const [name, value] of params) url.searchParams.set(name, value);
  const hintDropped = Boolean(idToken) && Buffer.byteLength(url.href) > MAX_END_SESSION_URL_BYTES;
  if (hintDropped) {
    url.searchParams.delete("id_token_hint");
    const logoutHint = options.logoutHintClaim && idToken ? claimOf(idToken, options.logoutHintClaim) : undefined;
    // Only a short hint: it replaces the ID token precisely to keep the URL small.
    if (logoutHint && logoutHint.length <= 512) url.searchParams.set("logout_hint", logoutHint);
  }
  return { kind, method: "GET", url, state, hintDropped };
}

/** A string claim of the stored ID token (validated at sign-in, kept on the server: decoding is enough). */
function claimOf(idToken: string, name: string): string | undefined {
  try {
    const value = decodeJwt(idToken)[name];
    return typeof value === "string" && value ? value : undefined;
  } catch {
    return undefined;
  }
}
