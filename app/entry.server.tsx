/**
 * Server rendering (Remix's default for Node, simplified: the whole document
 * is sent once ready, as no route streams). The scripts Remix renders carry
 * this response's CSP nonce, made with the security headers in
 * server/security-headers.ts and handed over in the load context. Errors are
 * logged (JSON, with their stack) and never shown in the page.
 */
import { PassThrough } from "node:stream";
import {
  createReadableStreamFromReadable,
  type AppLoadContext,
  type EntryContext,
  type HandleErrorFunction,
} from "@remix-run/node";
import { isRouteErrorResponse, RemixServer } from "@remix-run/react";
import { renderToPipeableStream } from "react-dom/server";
import { NonceContext } from "./web/nonce.ts";
import { logger } from "./platform/logger.server.ts";

/** How long Remix waits for pending promises in a streamed response (none here stream). */
export const streamTimeout = 5_000;

export default function handleRequest(
  request: Request,
  status: number,
  headers: Headers,
  remixContext: EntryContext,
  loadContext: AppLoadContext,
) {
  const nonce = loadContext.cspNonce;
  return new Promise<Response>((resolve, reject) => {
    let failed = false;
    const { pipe, abort } = renderToPipeableStream(
      <NonceContext.Provider value={nonce}>
        <RemixServer context={remixContext} url={request.url} nonce={nonce} />
      </NonceContext.Provider>,
      {
        nonce,
        onAllReady() {
          const body = new PassThrough();
          headers.set("Content-Type", "text/html");
          resolve(new Response(createReadableStreamFromReadable(body), { headers, status: failed ? 500 : status }));
          pipe(body);
        },
        onShellError: reject,
        onError(error) {
          failed = true;
          logger.error({ err: error }, "[render] error while rendering");
        },
      },
    );
    setTimeout(abort, streamTimeout + 1_000);
  });
}

/**
 * Errors thrown by loaders and actions (not the Responses they throw), in the
 * log instead of Remix's default console.error. A request the client
 * abandoned is not an error. A 4xx Remix made itself (no route matches) is
 * noted without a stack, as is a legacy `?_data` request (answered, but no
 * page of this app makes one since single fetch: an old tab or a probe).
 */
export const handleError: HandleErrorFunction = (error, { request }) => {
  if (request.signal.aborted) return;
  // Remix reports every ?_data request through here as a warning (an Error with no other mark).
  if (
    new URL(request.url).searchParams.has("_data") &&
    error instanceof Error &&
    error.message.startsWith("Warning: Single fetch")
  ) {
    logger.info("[remix] a legacy ?_data request was answered");
    return;
  }
  if (isRouteErrorResponse(error) && error.status < 500) {
    logger.info({ status: error.status }, `[remix] ${error.statusText}`);
    return;
  }
  // Remix wraps some errors in a 500 ErrorResponse whose `error` is the original, stack included.
  const original = isRouteErrorResponse(error) ? ((error as { error?: unknown }).error ?? error) : error;
  logger.error({ err: original }, "[remix] unhandled error in a loader or action");
};
