/**
 * GET /auth/jwks.json: the public keys of the app's own client keys
 * (OIDC_CLIENT_KEYS), the URL to register at the provider as the client's
 * `jwks_uri` for private_key_jwt. Public members only (kty, n, e, crv, x, y,
 * kid, alg, use), every configured key in order, cacheable for a minute, so a
 * newly published key reaches a provider that honours Cache-Control within a
 * minute of the deploy (docs/providers.md#rotating-the-client-key). Served
 * before Remix: it depends on no session. Not served when no key is configured.
 */
import type { RequestHandler } from "express";
import type { ClientKey } from "../app/platform/client-keys.server.ts";
import { publicJwks } from "../app/oidc/client-assertion.server.ts";

export const CLIENT_JWKS_PATH = "/auth/jwks.json";
export const CLIENT_JWKS_MAX_AGE = 60;

export function serveClientJwks(keys: readonly ClientKey[]): RequestHandler {
  const body = JSON.stringify(publicJwks(keys));
  return (_req, res) => {
    res
      .status(200)
      .set({
        // application/json rather than RFC 7517's application/jwk-set+json: what providers publish their own sets as, and what any fetcher expects.
        "Content-Type": "application/json",
        "Cache-Control": `public, max-age=${CLIENT_JWKS_MAX_AGE}`,
        "Access-Control-Allow-Origin": "*",
      })
      .send(body);
  };
}
