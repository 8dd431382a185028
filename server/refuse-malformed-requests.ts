/**
 * Refuses, before Remix sees them, requests the app cannot even turn into a
 * Web `Request`, with a plain 4xx and an info line naming the code, instead
 * of the 500 and error-level stack trace they would otherwise end as:
 * - a method other than GET, HEAD and POST (every page and form of the app
 *   uses only those): 405 `method_not_allowed` with `Allow` (TRACE, CONNECT
 *   and TRACK make `new Request()` throw; PUT, PATCH and DELETE would run
 *   actions meant for POST; OPTIONS and WebDAV methods mean nothing here);
 * - a Host or X-Forwarded-Host header, or a request target (`*`, an absolute
 *   URL), that does not make a URL the way @remix-run/express builds one: 400
 *   `malformed_request_target`.
 * A path with broken percent-encoding is refused by Express itself with a
 * 400 error, answered by logUnhandledErrors (request-logging.ts).
 */
import type { Request as ExpressRequest, RequestHandler, Response as ExpressResponse } from "express";
import { logger } from "../app/platform/logger.server.ts";

export const ALLOWED_METHODS = ["GET", "HEAD", "POST"];

/**
 * The URL @remix-run/express 2.17 builds for a request (createRemixRequest):
 * req.hostname (which follows `trust proxy`), the port of X-Forwarded-Host or
 * Host, req.originalUrl. Whether it parses is what decides here.
 */
function remixUrl(req: ExpressRequest): string {
  const [, forwardedPort] = req.get("X-Forwarded-Host")?.split(":") ?? [];
  const [, hostPort] = req.get("Host")?.split(":") ?? [];
  const port = [Number.parseInt(forwardedPort ?? "", 10), Number.parseInt(hostPort ?? "", 10)].find(
    Number.isSafeInteger,
  );
  return `${req.protocol}://${req.hostname}${port ? `:${port}` : ""}${req.originalUrl}`;
}

function refuse(res: ExpressResponse, status: number, code: string, message: string) {
  logger.info({ code }, `[server] refused (${code}): ${message}`);
  res.status(status).set("Cache-Control", "no-store").type("text/plain").send(message);
}

export function refuseMalformedRequests(): RequestHandler {
  const allowed = new Set(ALLOWED_METHODS);
  return (req, res, next) => {
    if (!allowed.has(req.method)) {
      res.set("Allow", ALLOWED_METHODS.join(", "));
      return refuse(res, 405, "method_not_allowed", `This app answers only ${ALLOWED_METHODS.join(", ")}.`);
    }
    if (!req.originalUrl.startsWith("/") || !URL.canParse(remixUrl(req))) {
      return refuse(res, 400, "malformed_request_target", "The request's Host header or target is not a valid URL.");
    }
    next();
  };
}
