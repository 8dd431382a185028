/**
 * The app's Prometheus metrics (prom-client), one registry per process,
 * shared by the server entry and the Remix bundle (two module graphs) and
 * kept across development reloads. Every metric is listed, with its labels
 * and what it is for, in docs/operations.md#metrics. Label values come from
 * short fixed lists (route patterns, error codes, reasons, Redis command
 * names), never from what a client sends, so a client cannot grow them.
 */
import { remember } from "@epic-web/remember";
import { collectDefaultMetrics, Counter, Histogram, Registry } from "prom-client";

const SECONDS_FAST = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const SECONDS_HTTP = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function createMetrics() {
  const registry = new Registry();
  // process_* and nodejs_*: CPU, memory, event loop lag, handles, garbage collection.
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpRequestDuration: new Histogram({
      name: "rro_http_request_duration_seconds",
      help: "HTTP requests by route pattern, method and status, and how long they took until the answer was written.",
      labelNames: ["route", "method", "status"] as const,
      buckets: SECONDS_HTTP,
      registers,
    }),
    sessionsCreated: new Counter({
      name: "rro_sessions_created_total",
      help: "Signed-in sessions created (a completed sign-in, or a cookie-design session moved into Redis).",
      labelNames: ["via"] as const,
      registers,
    }),
    sessionsEnded: new Counter({
      name: "rro_sessions_ended_total",
      help: "Signed-in sessions ended, by reason: logout, backchannel, revoked, refresh_refused, idle, absolute.",
      labelNames: ["reason"] as const,
      registers,
    }),
    signInFailures: new Counter({
      name: "rro_sign_in_failures_total",
      help: "Sign-ins that failed at the callback, by error code (docs/providers.md lists the codes).",
      labelNames: ["code"] as const,
      registers,
    }),
    tokenRefreshes: new Counter({
      name: "rro_token_refreshes_total",
      help: "Access-token refreshes by outcome: refreshed, refused (session ended), unavailable (provider down), by_another_request (this request waited for another's).",
      labelNames: ["outcome"] as const,
      registers,
    }),
    refreshLockWait: new Histogram({
      name: "rro_refresh_lock_wait_seconds",
      help: "How long a request waited for another request's refresh of the same session.",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    backchannelLogouts: new Counter({
      name: "rro_backchannel_logouts_total",
      help: "Back-channel logout requests by outcome: ended (sessions found and ended), no_session, refused (a 4xx), rate_limited (a 429), unavailable (a 503).",
      labelNames: ["outcome"] as const,
      registers,
    }),
    redisCommandDuration: new Histogram({
      name: "rro_redis_command_duration_seconds",
      help: "Redis commands by name: time from sending to the reply (pipelined commands each count).",
      labelNames: ["command"] as const,
      buckets: SECONDS_FAST,
      registers,
    }),
    redisCommandErrors: new Counter({
      name: "rro_redis_command_errors_total",
      help: "Redis commands that failed, by name and kind: reply (Redis refused it) or connection (outage, timeout).",
      labelNames: ["command", "kind"] as const,
      registers,
    }),
    rateLimited: new Counter({
      name: "rro_rate_limited_total",
      help: "Requests refused with 429, by limit: sign_in, callback, logout, backchannel.",
      labelNames: ["limit"] as const,
      registers,
    }),
    sessionMigrations: new Counter({
      name: "rro_session_migrations_total",
      help: "Cookie-design sessions seen with SESSION_MIGRATION=cookie, by outcome: moved, already_moved (a copy replayed), unavailable (Redis down; the legacy cookie is kept).",
      labelNames: ["outcome"] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The process's metrics, created on first use. */
export const metrics = (): Metrics => remember("rro:metrics", createMetrics);
