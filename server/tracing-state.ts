/**
 * What the tracing preload (server/tracing.ts), the SDK it may start
 * (server/tracing-sdk.ts) and the server entry share, without loading
 * OpenTelemetry: whether the standard OTEL_ variables ask for traces, the
 * outcome (on, off, or why not), how to flush at shutdown, and the route
 * pattern of each request for its span's name.
 *
 * Traces are off unless asked for; what is traced and what is never recorded:
 * docs/operations.md#traces, why so: docs/decisions/017-traces.md.
 */
import type { IncomingMessage } from "node:http";
import { remember } from "@epic-web/remember";

export type TraceExporterName = "otlp" | "console";
export type OtlpProtocol = "http/protobuf" | "http/json";

export type TracingSettings =
  | {
      enabled: false;
      /** Why not, as a log line says it. */
      reason: string;
      /** The variables ask for something this app cannot do: worth a warning, not an info line. */
      problem: boolean;
    }
  | {
      enabled: true;
      exporters: TraceExporterName[];
      protocol: OtlpProtocol;
      /** Where the OTLP exporter sends, for the log line: no credentials, no query. */
      endpoint: string;
      /** Development (Vite): its module and asset requests are not traced. */
      development: boolean;
    };

const SUPPORTED_EXPORTERS: readonly string[] = ["otlp", "console"];
const SUPPORTED_PROTOCOLS: readonly string[] = ["http/protobuf", "http/json"];

/** An endpoint as a log line may show it: scheme, host, port and path only. */
function describeEndpoint(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return "(an endpoint that is not a URL)";
  }
}

/**
 * Reads the standard OTEL_ variables, as the OpenTelemetry specification
 * defines them, to decide whether to trace at all: only when
 * OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
 * OTEL_TRACES_EXPORTER (otlp, console) asks, and never with
 * OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. An empty variable
 * counts as unset. The other variables (service name, resource attributes,
 * sampler, batch processor, headers, timeout) are read by the SDK itself.
 */
export function tracingSettings(env: Record<string, string | undefined>): TracingSettings {
  const read = (name: string) => env[name]?.trim() || undefined;
  if (read("OTEL_SDK_DISABLED")?.toLowerCase() === "true")
    return { enabled: false, reason: "tracing off: OTEL_SDK_DISABLED=true", problem: false };
  const named = (read("OTEL_TRACES_EXPORTER") ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  if (named.includes("none"))
    return { enabled: false, reason: "tracing off: OTEL_TRACES_EXPORTER=none", problem: false };
  const tracesEndpoint = read("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const endpoint = read("OTEL_EXPORTER_OTLP_ENDPOINT");
  if (named.length === 0 && !tracesEndpoint && !endpoint) {
    return {
      enabled: false,
      reason:
        "tracing off: no OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER asks for traces",
      problem: false,
    };
  }
  const exporters = named.length ? named : ["otlp"];
  const unsupported = exporters.filter((name) => !SUPPORTED_EXPORTERS.includes(name));
  if (unsupported.length) {
    return {
      enabled: false,
      reason: `tracing off: OTEL_TRACES_EXPORTER=${unsupported.join(",")} is not supported here (otlp, console or none)`,
      problem: true,
    };
  }
  const protocol = read("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? read("OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/protobuf";
  if (exporters.includes("otlp") && !SUPPORTED_PROTOCOLS.includes(protocol)) {
    return {
      enabled: false,
      reason: `tracing off: OTLP protocol ${protocol} is not supported here (http/protobuf or http/json; point the endpoint at the collector's HTTP port, 4318)`,
      problem: true,
    };
  }
  return {
    enabled: true,
    exporters: exporters as TraceExporterName[],
    protocol: protocol as OtlpProtocol,
    endpoint: describeEndpoint(
      tracesEndpoint ?? `${(endpoint ?? "http://localhost:4318").replace(/\/+$/, "")}/v1/traces`,
    ),
    development: read("NODE_ENV") !== "production",
  };
}

/** What came of the preload: said once at start-up (server/startup.ts), flushed at shutdown (server/index.ts). */
export interface TracingStatus {
  enabled: boolean;
  /** One line for the log, e.g. "tracing on: otlp (http/json to http://…/v1/traces), service remix-redis-oidc". */
  summary: string;
  /** Say it as a warning: traces were asked for and are not being made. */
  warn: boolean;
  /** Exports what is buffered and stops; bounded in time, never throws. */
  shutdown(): Promise<void>;
}

const state = remember("rro:tracing", () => ({ status: undefined as TracingStatus | undefined }));

/** Called once by the preload. */
export function setTracingStatus(status: TracingStatus): void {
  state.status = status;
}

/** The preload's outcome; when the process was started without it, says so if OTEL_ variables ask for traces. */
export function tracingStatus(): TracingStatus {
  if (state.status) return state.status;
  const settings = tracingSettings(process.env);
  const shutdown = async () => {};
  if (!settings.enabled) return { enabled: false, summary: settings.reason, warn: settings.problem, shutdown };
  return {
    enabled: false,
    summary:
      "tracing off: OTEL_ variables ask for traces, but server/tracing.ts was not preloaded " +
      "(node --import tsx --import ./server/tracing.ts server/index.ts, as npm start does)",
    warn: true,
    shutdown,
  };
}

const ROUTE = Symbol.for("rro.request-route");

/** Notes the route pattern a request matched (server/index.ts, only while tracing), for its span's name and `http.route`. */
export function tagRoute(req: IncomingMessage, route: string): void {
  (req as IncomingMessage & { [ROUTE]?: string })[ROUTE] = route;
}

/** The route pattern noted for a request, if any. */
export function taggedRoute(req: IncomingMessage): string | undefined {
  return (req as IncomingMessage & { [ROUTE]?: string })[ROUTE];
}
