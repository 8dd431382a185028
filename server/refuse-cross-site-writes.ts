/**
 * Refuses a state-changing request (POST, PUT, PATCH, DELETE) whose `Origin`
 * is another site, with a plain 403, before Remix sees it. SameSite=Lax
 * already keeps the session cookie off cross-site POSTs; this refuses them
 * outright (and avoids Remix's own origin check, which answers 500).
 * Requests without an Origin header (non-browser clients) pass.
 */
import type { RequestHandler } from "express";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function refuseCrossSiteWrites(appOrigin: string): RequestHandler {
  return (req, res, next) => {
    const origin = req.get("Origin");
    if (SAFE_METHODS.has(req.method) || origin === undefined || origin === appOrigin) return next();
    res
      .status(403)
      .set("Cache-Control", "no-store")
      .type("text/plain")
      .send(`Cross-site request refused: this form can only be submitted from ${appOrigin}.`);
  };
}
