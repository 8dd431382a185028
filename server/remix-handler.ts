/**
 * Remix for every request (what @remix-run/express's createRequestHandler
 * does, with the body read beforehand by server/body-limit.ts: Remix gets it
 * from memory, never from the socket, so no route can read more than the
 * limit). The request and response conversions are @remix-run/express's own.
 */
import { createRequestHandler, type AppLoadContext, type ServerBuild } from "@remix-run/node";
import { createRemixRequest, sendRemixResponse } from "@remix-run/express/dist/server.js";
import type { Request as ExpressRequest, RequestHandler, Response as ExpressResponse } from "express";
import { bodyOf } from "./body-limit.ts";

export function remixHandler(options: {
  build: ServerBuild | (() => Promise<ServerBuild>);
  mode: "production" | "development";
  getLoadContext: (req: ExpressRequest, res: ExpressResponse) => AppLoadContext;
}): RequestHandler {
  const handle = createRequestHandler(options.build, options.mode);
  return async (req, res, next) => {
    try {
      const streamed = createRemixRequest(req, res);
      const body = bodyOf(req);
      const request =
        body && streamed.method !== "GET" && streamed.method !== "HEAD"
          ? new Request(streamed, { body, duplex: "half" } as RequestInit)
          : streamed;
      await sendRemixResponse(res, await handle(request, options.getLoadContext(req, res)));
    } catch (error) {
      next(error);
    }
  };
}
