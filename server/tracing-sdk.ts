/**
 * The OpenTelemetry SDK, loaded by the preload (server/tracing.ts) only when
 * the OTEL_ variables ask for traces. Spans for:
 *   - each request the app serves (`GET /auth/callback`: the route pattern,
 *     never the query string), not /healthz, /readyz, /metrics, nor Vite's
 *     module and asset requests in development;
 *   - each Redis command (ioredis), inside a request;
 *   - each call to the provider (fetch: discovery, token, userinfo, JWKS),
 *     which carries the W3C `traceparent` header.
 *
 * Nothing secret is recorded, in two layers:
 *   1. the instrumentations are told not to record it: no query string of an
 *      incoming request (the callback's `code`, `state`), outgoing URLs without
 *      theirs, no header at all (Cookie, Authorization, Set-Cookie, Location
 *      with `id_token_hint`), a Redis command as its name alone (keys hold
 *      session ids, values hold tokens); no request or response body ever is;
 *   2. every span is rebuilt before export (RedactingExporter) with the same
 *      rules, whatever set its attributes, events or status; if this layer
 *      ever has something to remove, an instrumentation recorded it despite
 *      layer 1 (an upgrade that records more): that is logged as a warning,
 *      once per attribute, and the test fails on it.
 *
 * A collector that is down or refuses spans never slows or breaks a request:
 * spans are batched and sent in the background, dropped when the queue is
 * full, and the failure is logged once (and its end once).
 * docs/operations.md#traces, docs/decisions/017-traces.md
 */
import http from "node:http";
import { register } from "node:module";
import {
  context,
  diag,
  DiagLogLevel,
  ROOT_CONTEXT,
  isSpanContextValid,
  trace,
  TraceFlags,
  type Attributes,
  type AttributeValue,
  type DiagLogger,
} from "@opentelemetry/api";
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from "@opentelemetry/core";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { IORedisInstrumentation } from "@opentelemetry/instrumentation-ioredis";
import { UndiciInstrumentation } from "@opentelemetry/instrumentation-undici";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-node";
import { ATTR_HTTP_ROUTE, ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { createAddHookMessageChannel } from "import-in-the-middle";
import { correlateWithTraces, logger, outsideRequests } from "../app/platform/logger.server.ts";
import { taggedRoute, type OtlpProtocol, type TracingSettings, type TracingStatus } from "./tracing-state.ts";

export const DEFAULT_SERVICE_NAME = "remix-redis-oidc";
/** The longest shutdown waits for the last spans to be sent. */
const SHUTDOWN_FLUSH_MS = 3_000;

/**
 * Exports run in the background, in the context of whichever request's span
 * started the batch timer: a line about them must not carry that request's
 * `reqId`, `trace_id` and `span_id`.
 */
const aboutTheProcess = (write: () => void) => context.with(ROOT_CONTEXT, () => outsideRequests(write));

// ---------- what is never exported ----------

/** `?name=value…` or `#name=value…` anywhere in a string: a query string or fragment, with whatever it carries. */
const QUERY = /[?#][A-Za-z0-9_.~%-]+=[^\s"'<>]*/g;
/** A JWT (ID token, access token, logout token): header and payload both base64url JSON. */
const JWT = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

/** A string as it may be exported: no query string or fragment, no JWT. */
export function scrubText(text: string): string {
  return text.replace(QUERY, "").replace(JWT, "[redacted]");
}

/** Attributes dropped whatever their value: the query string, and any captured header. */
function dropped(key: string): boolean {
  return (
    key === "url.query" ||
    key === "http.query" ||
    key.startsWith("http.request.header.") ||
    key.startsWith("http.response.header.")
  );
}

/** Statements kept as the command's name alone: a Redis key holds a session id, a value tokens. */
const STATEMENTS = new Set(["db.query.text", "db.statement"]);

function redactValue(key: string, value: AttributeValue): AttributeValue {
  if (STATEMENTS.has(key)) return String(value).trim().split(/\s+/)[0] ?? "";
  if (typeof value === "string") return scrubText(value);
  if (Array.isArray(value))
    return value.map((item) => (typeof item === "string" ? scrubText(item) : item)) as AttributeValue;
  return value;
}

/**
 * Attributes as they may be exported; `removed` is called with the key of
 * each one that had to be dropped or changed.
 */
export function redactAttributes(attributes: Attributes, removed: (key: string) => void = () => {}): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null) continue;
    if (dropped(key)) {
      removed(key);
      continue;
    }
    const redacted = redactValue(key, value);
    if (JSON.stringify(redacted) !== JSON.stringify(value)) removed(key);
    out[key] = redacted;
  }
  return out;
}

/** A span as it may be exported: its name, attributes, events, links and status message redacted; the rest as it was. */
export function redactSpan(span: ReadableSpan, removed: (key: string) => void = () => {}): ReadableSpan {
  const text = (what: string, value: string) => {
    const scrubbed = scrubText(value);
    if (scrubbed !== value) removed(what);
    return scrubbed;
  };
  return {
    name: text("span name", span.name),
    kind: span.kind,
    spanContext: () => span.spanContext(),
    parentSpanContext: span.parentSpanContext,
    startTime: span.startTime,
    endTime: span.endTime,
    duration: span.duration,
    ended: span.ended,
    resource: span.resource,
    instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
    status:
      span.status.message === undefined
        ? { code: span.status.code }
        : { code: span.status.code, message: text("status message", span.status.message) },
    attributes: redactAttributes(span.attributes, removed),
    links: span.links.map((link) => ({
      ...link,
      ...(link.attributes ? { attributes: redactAttributes(link.attributes, removed) } : {}),
    })),
    events: span.events.map((event) => ({
      ...event,
      name: text("event name", event.name),
      ...(event.attributes ? { attributes: redactAttributes(event.attributes, removed) } : {}),
    })),
  };
}

/**
 * Layer 2: every span rebuilt before it leaves the process. What it has to
 * remove, an instrumentation recorded despite its settings below (layer 1):
 * a warning, once per attribute.
 */
export class RedactingExporter implements SpanExporter {
  private readonly warned = new Set<string>();
  constructor(private readonly inner: SpanExporter) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const removed = (scope: string) => (key: string) => {
      const what = `${key} (${scope})`;
      if (this.warned.has(what)) return;
      this.warned.add(what);
      aboutTheProcess(() =>
        logger.warn(
          `[tracing] removed ${what} from a span before export: an instrumentation recorded it despite ` +
            "its settings in server/tracing-sdk.ts; nothing secret left the process, but check those settings",
        ),
      );
    };
    this.inner.export(
      spans.map((span) => redactSpan(span, removed(span.instrumentationScope.name))),
      done,
    );
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** Says when the collector stops taking spans (once), and when it takes them again; never throws. */
class FailureReportingExporter implements SpanExporter {
  private failing = false;
  constructor(
    private readonly inner: SpanExporter,
    private readonly where: string,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS && !this.failing) {
        this.failing = true;
        const reason = scrubText(result.error?.message ?? "failed");
        aboutTheProcess(() =>
          logger.warn(
            `[tracing] spans could not be sent to ${this.where} (${reason}); ` +
              "requests are not affected, spans are dropped until it answers (said once)",
          ),
        );
      } else if (result.code === ExportResultCode.SUCCESS && this.failing) {
        this.failing = false;
        aboutTheProcess(() => logger.info(`[tracing] ${this.where} takes spans again`));
      }
      done(result);
    });
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

// ---------- which requests, and their names ----------

const PROBES = new Set(["/healthz", "/readyz", "/metrics"]);
const pathOf = (url: string | undefined) => (url ?? "/").split(/[?#]/)[0] ?? "/";

/** Not traced: the probes, and (development) what Vite serves: its modules, the app's sources, assets. */
export function untracedPath(url: string | undefined, development: boolean): boolean {
  const path = pathOf(url);
  if (PROBES.has(path)) return true;
  if (!development) return false;
  return (
    path.startsWith("/@") ||
    path.startsWith("/node_modules/") ||
    path.startsWith("/app/") ||
    (/\.[A-Za-z0-9]{1,8}$/.test(path) && !path.endsWith(".data"))
  );
}

function instrumentations(settings: Extract<TracingSettings, { enabled: true }>) {
  return [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (req) => untracedPath(req.url, settings.development),
      // No query string on a request's span (the callback's code and state), whatever it holds.
      startIncomingSpanHook: () => ({ "url.query": undefined }),
      // Outgoing node:http requests (the app makes none: fetch is traced below): never their URL's query.
      startOutgoingSpanHook: () => ({ "url.full": undefined, "url.query": undefined }),
      // No span for an outgoing request outside a request (the OTLP exporter's own, which suppresses tracing anyway).
      requireParentforOutgoingSpans: true,
      // Response end: name the span by the route pattern it matched (server/index.ts tags it), as `GET /auth/callback`.
      applyCustomAttributesOnSpan: (span, request) => {
        if (!(request instanceof http.IncomingMessage)) return;
        const route = taggedRoute(request);
        if (!route?.startsWith("/")) return;
        span.setAttribute(ATTR_HTTP_ROUTE, route);
        span.updateName(`${request.method ?? "GET"} ${route}`);
      },
    }),
    new UndiciInstrumentation({
      // Calls to the provider within a request; not the discovery probe at start-up.
      requireParentforSpans: true,
      // The URL without its query string; the span named by the endpoint's path (`POST /token`, `GET /jwks`).
      startSpanHook: (request) => ({
        "url.full": `${request.origin}${pathOf(request.path)}`,
        "url.query": undefined,
      }),
      requestHook: (span, request) => span.updateName(`${request.method} ${pathOf(request.path)}`),
    }),
    // Redis commands inside a traced request (requireParentSpan, its default), as their name alone.
    new IORedisInstrumentation({ dbStatementSerializer: (command) => command }),
  ];
}

// ---------- the SDK ----------

async function otlpExporter(protocol: OtlpProtocol): Promise<SpanExporter> {
  // Each reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT, _COMPRESSION itself.
  if (protocol === "http/json")
    return new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter();
  return new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter();
}

/** OTEL_LOG_LEVEL: the SDK's own diagnostics, as JSON lines of the app's log (never on stdout as plain text). */
function diagnostics() {
  const level = process.env.OTEL_LOG_LEVEL?.trim().toUpperCase();
  if (!level) return;
  const child = logger.child({ component: "opentelemetry" });
  const line =
    (write: (msg: string) => void) =>
    (message: string, ...args: unknown[]) =>
      write(scrubText([message, ...args.map((a) => (a instanceof Error ? a.message : String(a)))].join(" ")));
  const sink: DiagLogger = {
    error: line((m) => child.error(`[tracing] ${m}`)),
    warn: line((m) => child.warn(`[tracing] ${m}`)),
    info: line((m) => child.info(`[tracing] ${m}`)),
    debug: line((m) => child.debug(`[tracing] ${m}`)),
    verbose: line((m) => child.trace(`[tracing] ${m}`)),
  };
  diag.setLogger(sink, { logLevel: DiagLogLevel[level as keyof typeof DiagLogLevel] ?? DiagLogLevel.WARN });
}

/**
 * Starts tracing: the hook that lets the instrumentations patch ioredis as the
 * app imports it (ESM), the tracer provider (W3C trace context, the sampler
 * and batch settings from OTEL_ variables), the instrumentations, and log
 * correlation. Resolves once every hook is in place.
 */
export async function startTracing(settings: Extract<TracingSettings, { enabled: true }>): Promise<TracingStatus> {
  diagnostics();

  // ioredis is CommonJS imported from ESM: only an ESM loader hook sees it. Hooked: the modules the instrumentations name.
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register("import-in-the-middle/hook.mjs", import.meta.url, registerOptions);

  const exporters: SpanExporter[] = [];
  if (settings.exporters.includes("otlp"))
    exporters.push(
      new FailureReportingExporter(
        await otlpExporter(settings.protocol),
        `the OTLP collector (${settings.protocol}, ${settings.endpoint})`,
      ),
    );
  if (settings.exporters.includes("console")) exporters.push(new ConsoleSpanExporter());

  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: DEFAULT_SERVICE_NAME }))
    // OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME.
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({
    resource,
    // OTEL_BSP_SCHEDULE_DELAY, _MAX_QUEUE_SIZE, _MAX_EXPORT_BATCH_SIZE, _EXPORT_TIMEOUT read by the processor.
    spanProcessors: exporters.map((exporter) => new BatchSpanProcessor(new RedactingExporter(exporter))),
  });
  // W3C trace context in and out, and nothing else: no baggage, which would carry a client's header to the provider.
  provider.register({ propagator: new W3CTraceContextPropagator() });

  registerInstrumentations({ tracerProvider: provider, instrumentations: instrumentations(settings) });
  await waitForAllMessagesAcknowledged();

  correlateWithTraces(() => {
    const context = trace.getActiveSpan()?.spanContext();
    if (!context || !isSpanContextValid(context) || !(context.traceFlags & TraceFlags.SAMPLED)) return undefined;
    return { trace_id: context.traceId, span_id: context.spanId };
  });

  const describe = settings.exporters
    .map((name) => (name === "otlp" ? `otlp (${settings.protocol} to ${settings.endpoint})` : name))
    .join(", ");
  return {
    enabled: true,
    summary: `tracing on: ${describe}, service ${String(resource.attributes[ATTR_SERVICE_NAME])}`,
    warn: false,
    async shutdown() {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_FLUSH_MS);
        timer.unref();
      });
      await Promise.race([provider.shutdown().catch(() => {}), late]);
      clearTimeout(timer);
    },
  };
}
