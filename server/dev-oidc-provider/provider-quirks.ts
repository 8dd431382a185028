/**
 * Behaviours of other providers that the development provider can imitate,
 * so that the app is tested against them locally. Each is an Express handler
 * in front of oidc-provider.
 */
import type { RequestHandler } from "express";
import type Provider from "oidc-provider";

const CLIENT_AUTHENTICATED_PATHS = new Set(["/token", "/token/introspection", "/token/revocation", "/request"]);

/**
 * Basic credentials compared as sent, without the form-decoding RFC 6749
 * §2.3.1 asks for (Glewlwyd, LemonLDAP::NG): a client id or secret that the
 * client encoded (`my-app` as `my%2Dapp`) names no client. Answered as
 * LemonLDAP::NG does: 401 `invalid_client` with a Basic challenge.
 */
export function refuseEncodedBasicCredentials(
  client: { clientId: string; clientSecret: string },
  issuer: string,
): RequestHandler {
  return (req, res, next) => {
    const header = req.headers.authorization;
    if (req.method !== "POST" || !CLIENT_AUTHENTICATED_PATHS.has(req.path) || !header?.startsWith("Basic "))
      return next();
    const raw = Buffer.from(header.slice("Basic ".length), "base64").toString("utf8");
    const colon = raw.indexOf(":");
    const [id, secret] = [raw.slice(0, colon), raw.slice(colon + 1)];
    if (colon > 0 && id === client.clientId && secret === client.clientSecret) return next();
    res
      .status(401)
      .set("WWW-Authenticate", `Basic realm="${issuer}"`)
      .set("Cache-Control", "no-store")
      .json({ error: "invalid_client", error_description: `No registered Relying Party found with client_id ${id}` });
  };
}

/**
 * POST at the end-session endpoint with a SameSite=Lax session cookie
 * (LemonLDAP::NG): a POST that arrives without the provider's session cookie
 * (a cross-site form post: browsers leave Lax cookies off it) finds no
 * session, so nothing is ended, and the browser is sent straight back to the
 * registered post_logout_redirect_uri with the `state`. A POST that carries
 * the cookie is handled as the GET oidc-provider serves (oidc-provider itself
 * refuses POST here unless its cookies are SameSite=None).
 */
export function laxEndSessionPost(provider: Provider): RequestHandler {
  return async (req, res, next) => {
    const params = new URLSearchParams(req.body as Record<string, string>);
    if (/(?:^|;\s*)_session=/.test(req.headers.cookie ?? "")) {
      req.method = "GET";
      req.url = `/session/end?${params}`;
      return next();
    }
    try {
      const hint = params.get("id_token_hint");
      const clientId =
        params.get("client_id") ??
        (hint ? String(JSON.parse(Buffer.from(hint.split(".")[1] ?? "", "base64url").toString()).aud) : "");
      const client = clientId ? await provider.Client.find(clientId) : undefined;
      const back = params.get("post_logout_redirect_uri");
      if (!client || !back || !client.postLogoutRedirectUriAllowed(back)) {
        res
          .status(400)
          .type("text/plain")
          .send("No session to end, and no registered post_logout_redirect_uri to go back to.");
        return;
      }
      const url = new URL(back);
      const state = params.get("state");
      if (state) url.searchParams.set("state", state);
      res.redirect(303, url.href);
    } catch (error) {
      next(error);
    }
  };
}
