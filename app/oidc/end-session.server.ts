/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): where and how
 * to send the browser so that the provider's session ends too.
 */
import * as client from "openid-client";
import { getEnv } from "../platform/env.server.ts";

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
