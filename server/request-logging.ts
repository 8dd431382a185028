/**
 * One log line per request (pino-http over the process's logger): method,
 * path, status, `responseTime` in milliseconds and `reqId`, never a header or
 * the query string (the serializers in app/platform/logger.server.ts decide).
 *
 * The request id: an incoming `X-Request-Id` is kept when it is a short safe
 * token (a proxy or load balancer in front set it, so lines join up across
 * hops); anything else (too long, spaces, quotes, control characters: an id
 * a client controls must not forge or break log lines) is replaced by a new
 * UUID. It is echoed in the `X-Request-Id` response header, so a person can
 * quote it, and bound for the rest of the request so that whatever the app
 * logs while handling it carries the same `reqId`.
 */
import { randomUUID } from "node:crypto";
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { ErrorRequestHandler, RequestHandler } from "express";
import { pinoHttp } from "pino-http";
import { logger, serializeRequest, withRequestId } from "../app/platform/logger.server.ts";

export const REQUEST_ID_HEADER = "X-Request-Id";
const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Probes hit these every few seconds: their lines only at LOG_LEVEL=debug. */
const HEALTH_PATHS = new Set(["/healthz", "/readyz"]);

/** The incoming id if it is a safe token, else a new one. */
export function requestIdFor(incoming: string | string[] | undefined): string {
  return typeof incoming === "string" && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

function levelFor(req: IncomingMessage, res: ServerResponse, error?: Error) {
  if (error || res.statusCode >= 500) return "error";
  if (HEALTH_PATHS.has(serializeRequest(req).path)) return "debug";
  return "info";
}

/** The request log, then the request id bound for everything that follows. */
export function requestLogging(): RequestHandler[] {
  const httpLogger = pinoHttp({
    logger,
    genReqId(req, res) {
      const id = requestIdFor(req.headers["x-request-id"]);
      res.setHeader(REQUEST_ID_HEADER, id);
      return id;
    },
    // req.log is a child carrying only reqId (not the whole request on every line).
    quietReqLogger: true,
    // The logger's own allow-list serializers get the raw request and response.
    wrapSerializers: false,
    customLogLevel: levelFor,
    // The error itself is logged where it happened, with its stack (entry.server.tsx handleError,
    // logUnhandledErrors below); pino-http would otherwise add a made-up one with its own stack.
    customErrorObject: (_req, _res, _error, { res, responseTime }) => ({ res, responseTime }),
    customErrorMessage: () => "request failed",
  });
  return [httpLogger, (req, _res, next) => withRequestId(String(req.id), next)];
}

/**
 * The 4xx an error passed to Express carries (`status` or `statusCode`, as
 * Express's own errors and http-errors set them: a path whose
 * percent-encoding is broken is a URIError with status 400), if any.
 */
function clientErrorStatus(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const value = typeof status === "number" ? status : statusCode;
  return typeof value === "number" && value >= 400 && value < 500 ? value : undefined;
}

/**
 * Last resort for an error that escaped Remix (which logs its own through
 * handleError). One that says the request was at fault (a 4xx status, as
 * Express's errors carry) is answered with that status and a plain message,
 * and logged as info with its code, without a stack: the sender chose it.
 * Anything else is logged with its stack and answered with a plain 500 that
 * says nothing about it. Replaces Express's default handler, which prints
 * the stack to stderr outside the JSON log.
 */
export function logUnhandledErrors(): ErrorRequestHandler {
  return (error, _req, res, _next) => {
    const status = clientErrorStatus(error);
    if (status !== undefined) {
      // raw-body and http-errors name the kind in `type` ("entity.too.large"…).
      const type = (error as { type?: unknown }).type;
      const code =
        error instanceof URIError
          ? "malformed_path"
          : typeof type === "string"
            ? type.replace(/\W/g, "_")
            : "bad_request";
      const reason = error instanceof Error ? error.message.slice(0, 200) : String(error);
      logger.info({ code, status }, `[server] refused (${code}): ${reason}`);
      if (res.headersSent) return void res.destroy();
      const message =
        code === "malformed_path" ? "The request's path is not valid percent-encoding." : STATUS_CODES[status];
      res.status(status).set("Cache-Control", "no-store").type("text/plain").send(message);
      return;
    }
    logger.error({ err: error }, "[server] unhandled error");
    if (res.headersSent) return void res.destroy();
    res.status(500).type("text/plain").send("Internal Server Error");
  };
}
