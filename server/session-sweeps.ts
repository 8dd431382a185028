/**
 * Every SESSION_SWEEP_INTERVAL seconds, the sessions that ended inside Redis
 * (idle timeout, absolute lifetime) are taken out of their indexes and
 * counted (app/session/session-store.server.ts `sweep`); one instance at a
 * time, never two sweeps of this process at once. A failed sweep (Redis
 * down) is a warning; the next one catches up.
 */
import { logger } from "../app/platform/logger.server.ts";
import { sweepExpiredSessions } from "../app/session/session.server.ts";

/** Starts the sweeps; the function returned stops them, waiting for one in progress. */
export function startSessionSweeps(intervalSeconds: number): () => Promise<void> {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= sweepExpiredSessions()
      .then((found) => {
        if (found && found.idle + found.absolute > 0) logger.info(found, "[sessions] swept sessions ended in Redis");
      })
      .catch((error: unknown) => {
        logger.warn(`[sessions] sweep failed: ${error instanceof Error ? error.message : error}`);
      })
      .finally(() => (running = undefined));
  }, intervalSeconds * 1000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
