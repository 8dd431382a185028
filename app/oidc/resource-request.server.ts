/**
 * Calling an API (a resource server) with the signed-in person's access
 * token. This app calls none itself; a route of an app built on it would:
 *
 *   const session = await requireSignedInSession(request); // refreshed when due
 *   const response = await fetchWithAccessToken(session, new URL("https://api.example.com/orders"));
 *
 * With a DPoP-bound token (OIDC_DPOP=on) the request carries
 * `Authorization: DPoP <token>` and a `DPoP` proof signed with the session's
 * key, its `ath` the token's hash (RFC 9449 §7.1); a `use_dpop_nonce`
 * challenge from the API is answered once. With a Bearer token, `Authorization: Bearer`.
 */
import * as client from "openid-client";
import type { AppSession } from "../session/session-data.ts";
import { readTokens } from "../session/session.server.ts";
import { dpopHandle, importDPoPKey } from "./dpop.server.ts";
import { getOidcConfig } from "./provider.server.ts";

export class NoAccessTokenError extends Error {
  readonly code = "no_access_token";
}

export async function fetchWithAccessToken(
  session: AppSession,
  url: URL,
  init: { method?: string; body?: client.FetchBody; headers?: HeadersInit } = {},
): Promise<Response> {
  const tokens = await readTokens(session);
  if (!tokens.accessToken) throw new NoAccessTokenError("this session holds no (readable) access token");
  const config = await getOidcConfig();
  // A provider that ignored the proofs issued a Bearer token: sent as Bearer, key or not.
  const key = tokens.dpopKey && tokens.tokenType === "DPoP" ? await importDPoPKey(tokens.dpopKey) : undefined;
  return client.fetchProtectedResource(
    config,
    tokens.accessToken,
    url,
    init.method ?? "GET",
    init.body,
    new Headers(init.headers),
    key && { DPoP: dpopHandle(config, key) },
  );
}
