/**
 * Graceful close of the HTTP server: stop accepting, let requests in flight
 * finish, close keep-alive connections as soon as they are idle, and force
 * whatever is left after `forceAfterMs`.
 */
import type { Server } from "node:http";

export async function closeHttpServer(server: Server, forceAfterMs = 10_000): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), forceAfterMs);
  await closed;
  clearInterval(sweep);
  clearTimeout(force);
}
