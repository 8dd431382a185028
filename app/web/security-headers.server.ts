/**
 * Security headers for every page: a Content-Security-Policy whose scripts
 * need this response's nonce (production; Vite's development scripts carry
 * none), no framing, no referrer to other sites, no MIME sniffing. `form-action` lists the
 * provider too, because browsers apply it to the redirects that follow the
 * sign-in and logout forms.
 */
import { getEnv } from "../platform/env.server.ts";

export function securityHeaders(nonce: string): Record<string, string> {
  const env = getEnv();
  const formTargets = new Set(["'self'", env.oidc.issuer.origin]);
  if (env.oidc.endSessionUrl) formTargets.add(env.oidc.endSessionUrl.origin);
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    `form-action ${[...formTargets].join(" ")}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
  ].join("; ");
  return {
    ...(env.isProduction ? { "Content-Security-Policy": csp } : {}),
    "X-Frame-Options": "DENY",
    // Not no-referrer: under it browsers send "Origin: null" on form posts, which the cross-site check refuses.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
  };
}
