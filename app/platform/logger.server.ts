/**
 * The one logger of this process: pino, one JSON object per line on stdout
 * (`level`, `time`, `msg`, and `reqId` on every line written while a request
 * is being handled). Use it everywhere on the server:
 *
 *     import { logger } from "./logger.server.ts";
 *     logger.warn("[area] what happened");
 *     logger.error({ err: error }, "[area] what failed"); // stack kept, in the log only
 *
 * What is never logged is decided here, by design rather than by care at each
 * call: a request is logged as its method and path (never the query string,
 * which carries `code`, `state`, `iss` on the callback), a response as its
 * status, an error as its type, message, code, stack and cause; no headers
 * (Cookie, Authorization, Set-Cookie, Location with `id_token_hint`) and no
 * other property of any of them. Known secret field names are censored as a
 * second line of defence, should an object carrying them be logged anyway.
 *
 * The level starts at `info`; the server sets LOG_LEVEL once the configuration
 * is valid (an invalid configuration is itself logged, so the logger cannot
 * wait for it). Like the Redis client, the logger is a process singleton
 * (`remember`): the server entry and the Remix bundle are two module graphs,
 * and a level set by one, or a request id bound by one, must hold for the other.
 *
 * While tracing is on (server/tracing-sdk.ts), a line written inside a traced
 * request also carries `trace_id` and `span_id`, so a person can go from a log
 * line to its trace. This module never imports OpenTelemetry: the tracing SDK
 * hands it a function that reads the active span (`correlateWithTraces`).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { IncomingMessage, ServerResponse } from "node:http";
import { remember } from "@epic-web/remember";
import { pino, symbols, type Logger } from "pino";

interface RequestScope {
  reqId: string;
}

/** What is logged of an error: never its other properties (an HTTP error may carry a response, headers, a body). */
export interface LoggedError {
  type: string;
  message: string;
  code?: string | number;
  stack?: string;
  cause?: LoggedError;
}

export function serializeError(value: unknown, depth = 0): LoggedError {
  if (!(value instanceof Error)) {
    return { type: typeof value, message: typeof value === "string" ? value : "(a thrown value that is not an Error)" };
  }
  const code = (value as { code?: unknown }).code;
  return {
    type: value.constructor?.name || value.name,
    message: value.message,
    ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
    stack: value.stack,
    ...(value.cause !== undefined && depth < 3 ? { cause: serializeError(value.cause, depth + 1) } : {}),
  };
}

/** The longest path logged; a longer one (a probe, a fuzzer) is cut, as it says nothing more. */
const MAX_PATH = 300;

/** A request: its method and path. Not the query string, not a header, not the body. */
export function serializeRequest(req: IncomingMessage & { originalUrl?: string }) {
  const url = req.originalUrl ?? req.url ?? "";
  const end = url.search(/[?#]/);
  return { method: req.method, path: (end === -1 ? url : url.slice(0, end)).slice(0, MAX_PATH) };
}

/** A response: its status. Not a header (Set-Cookie, Location). */
export function serializeResponse(res: ServerResponse) {
  return { statusCode: res.statusCode };
}

/**
 * Field names censored wherever they appear at the top level or one level
 * down. Nothing in the app logs them; this catches a future `logger.info({ session })`.
 */
const SECRET_FIELDS = [
  "cookie",
  "authorization",
  "set-cookie",
  "idToken",
  "accessToken",
  "refreshToken",
  "id_token",
  "access_token",
  "refresh_token",
  "logout_token",
  "id_token_hint",
  "client_secret",
  "clientSecret",
  "password",
  "sessionSecrets",
  "tokenEncryptionKeys",
  "redisUrl",
];
const REDACT_PATHS = SECRET_FIELDS.flatMap((name) => [`["${name}"]`, `*["${name}"]`]);

/** Where the lines go: JSON on stdout, or (development) pretty-printed, switched once the configuration is known. */
interface Output {
  write(line: string): unknown;
}

/** The ids of the sampled span active where a line is written, if any. */
export type ActiveTraceIds = () => { trace_id: string; span_id: string } | undefined;

function createLogger(
  requests: AsyncLocalStorage<RequestScope>,
  output: { current: Output },
  traceIds: { current?: ActiveTraceIds },
): Logger {
  return pino(
    {
      level: "info",
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serializeError, req: serializeRequest, res: serializeResponse },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      // Lines written while a request is handled carry its id, whichever module writes them;
      // the request's own child logger (server/request-logging.ts) already has it bound.
      mixin(_merge, _level, log) {
        const trace = traceIds.current?.();
        const reqId = requests.getStore()?.reqId;
        const bound = (log as unknown as Record<symbol, string>)[symbols.chindingsSym] ?? "";
        if (!reqId || bound.includes('"reqId":')) return trace ?? {};
        return { reqId, ...trace };
      },
    },
    { write: (line: string) => output.current.write(line) },
  );
}

const shared = () =>
  remember("rro:logger", () => {
    const requests = new AsyncLocalStorage<RequestScope>();
    // Synchronous: a line is on stdout before the response it describes leaves, and none is lost on a crash.
    const output = { current: pino.destination({ dest: 1, sync: true }) as Output };
    const traceIds: { current?: ActiveTraceIds } = {};
    return { logger: createLogger(requests, output, traceIds), requests, output, traceIds };
  });

/**
 * Development: lines a person can read (pino-pretty, a development
 * dependency, loaded only here). Production keeps one JSON object a line.
 */
export async function printReadableLogs(): Promise<void> {
  const { prettyFactory } = await import("pino-pretty");
  const pretty = prettyFactory({ translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" });
  shared().output.current = { write: (line) => process.stdout.write(pretty(line)) };
}

/** The process's logger. Its `level` is LOG_LEVEL once server/startup.ts has read the configuration. */
export const logger: Logger = shared().logger;

/** Tracing is on: lines written inside a sampled span carry its `trace_id` and `span_id` (called by server/tracing-sdk.ts). */
export function correlateWithTraces(ids: ActiveTraceIds): void {
  shared().traceIds.current = ids;
}

/** Runs `write` as outside any request: for a line about the process that some request's work happened to set off. */
export function outsideRequests<T>(write: () => T): T {
  return shared().requests.exit(write);
}

/** Runs `next` (the rest of a request's handling) so that every line it logs carries `reqId`. */
export function withRequestId<T>(reqId: string, next: () => T): T {
  return shared().requests.run({ reqId }, next);
}
