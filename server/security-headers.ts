/**
 * Security headers on every response (pages, JSON, redirects, 404s, static
 * files, refusals), set by helmet with each header chosen here rather than
 * helmet's defaults:
 * - a Content-Security-Policy whose scripts need this response's nonce
 *   (production only: Vite's development scripts carry none); the nonce is in
 *   `res.locals.cspNonce`, handed to Remix's rendering through the load context;
 *   `form-action` lists the provider too, as browsers apply it to the
 *   redirects that follow the sign-in and logout forms;
 * - no framing (X-Frame-Options DENY, frame-ancestors 'none'), no MIME sniffing;
 * - Referrer-Policy same-origin, not no-referrer: under no-referrer browsers
 *   send "Origin: null" on form posts, which the cross-site check refuses;
 * - Strict-Transport-Security when APP_URL is https (one year; not
 *   includeSubDomains, which would bind hosts this app knows nothing of);
 * - helmet's cross-origin isolation headers as they come; not its headers
 *   for browsers and plug-ins long gone (X-Download-Options for IE 8,
 *   X-Permitted-Cross-Domain-Policies for Flash, X-XSS-Protection for the
 *   removed XSS auditors): bytes on every response for nothing.
 */
import { randomBytes } from "node:crypto";
import type { RequestHandler, Response } from "express";
import helmet from "helmet";
import type { Env } from "../app/platform/env.server.ts";

const nonceOf = (res: Response) => String(res.locals.cspNonce);

export function securityHeaders(env: Env): RequestHandler[] {
  const formTargets = new Set(["'self'", env.oidc.issuer.origin]);
  if (env.oidc.endSessionUrl) formTargets.add(env.oidc.endSessionUrl.origin);
  const setNonce: RequestHandler = (_req, res, next) => {
    res.locals.cspNonce = randomBytes(16).toString("base64");
    next();
  };
  const headers = helmet({
    contentSecurityPolicy: env.isProduction && {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", (_req, res) => `'nonce-${nonceOf(res as Response)}'`],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        formAction: [...formTargets],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
      },
    },
    xFrameOptions: { action: "deny" },
    referrerPolicy: { policy: "same-origin" },
    strictTransportSecurity: env.appUrl.protocol === "https:" && { maxAge: 31_536_000, includeSubDomains: false },
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
  });
  return [setNonce, headers];
}
