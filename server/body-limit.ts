/**
 * Every request body is read here, once, before anything else sees it, and
 * never past MAX_BODY_BYTES: a `Content-Length` over the limit is refused
 * before a byte is read; a chunked body is read until it passes the limit,
 * then reading stops and what was read is dropped. Either way the answer is a
 * plain 413 and the connection is closed, so the rest of the body is never
 * received. Remix gets the body from memory (server/remix-handler.ts).
 *
 * raw-body does the reading (body-parser's own reader); body-parser itself is
 * not used because it reads and discards the whole of an oversized body
 * before answering. docs/decisions/016-request-limits-rate-limits-and-metrics.md
 */
import type { IncomingMessage } from "node:http";
import type { RequestHandler, Response } from "express";
import getRawBody from "raw-body";
import { logger } from "../app/platform/logger.server.ts";

const bodies = new WeakMap<IncomingMessage, Buffer>();

/** The body read for this request, or undefined when it had none. */
export function bodyOf(req: IncomingMessage): Buffer | undefined {
  return bodies.get(req);
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

function refuse(res: Response, status: 400 | 413, message: string) {
  // Connection: close makes Node close the socket once this answer is written: nothing more is received.
  res.status(status).set({ Connection: "close", "Cache-Control": "no-store" }).type("text/plain").send(message);
}

export function limitRequestBodies(limit: number): RequestHandler {
  const tooLarge = `Request body too large: this server accepts at most ${limit} bytes.`;
  return (req, res, next) => {
    if (!hasBody(req)) return next();
    const length = req.headers["content-length"];
    if (length !== undefined && !/^\d+$/.test(length)) return refuse(res, 400, "Invalid Content-Length.");
    if (length !== undefined && Number(length) > limit) {
      logger.warn({ code: "body_too_large", length: Number(length), limit }, "[http] request body refused");
      return refuse(res, 413, tooLarge);
    }
    getRawBody(req, { length, limit }).then(
      (body) => {
        bodies.set(req, body);
        next();
      },
      (error: getRawBody.RawBodyError) => {
        if (error.type === "request.aborted") return void res.destroy(); // the client left: nobody to answer
        if (error.type === "entity.too.large") {
          logger.warn({ code: "body_too_large", received: error.received, limit }, "[http] request body refused");
          return refuse(res, 413, tooLarge);
        }
        if (error.type === "request.size.invalid")
          return refuse(res, 400, "The request body's length does not match its Content-Length.");
        next(error);
      },
    );
  };
}
