/**
 * An OpenTelemetry collector in the test process: a node:http server on
 * loopback that accepts OTLP/HTTP trace exports (`POST /v1/traces`) and keeps
 * the JSON ones (http/json) as they were sent, or only counts them
 * (http/protobuf, or `keep: false`: a sink for load measurements).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

/** An attribute value as OTLP/JSON encodes it. */
export interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
}
export interface OtlpKeyValue {
  key: string;
  value: OtlpValue;
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpKeyValue[];
  events?: Array<{ name: string; attributes?: OtlpKeyValue[] }>;
  status?: { code?: number; message?: string };
}
export interface OtlpExport {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: Array<{ scope?: { name?: string }; spans?: OtlpSpan[] }>;
  }>;
}

/** A span as a test reads it. */
export interface CollectedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** 1 internal, 2 server, 3 client. */
  kind: number;
  scope: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  status: { code?: number; message?: string };
}

export function otlpValue(value: OtlpValue): unknown {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(otlpValue);
  if (value.kvlistValue) return attributesOf(value.kvlistValue.values);
  return undefined;
}

const attributesOf = (list: OtlpKeyValue[] | undefined) =>
  Object.fromEntries((list ?? []).map(({ key, value }) => [key, otlpValue(value)]));

export interface OtlpCollector {
  url: string;
  /** Every JSON export received, as sent. */
  exports: OtlpExport[];
  /** Requests received, with their content type and size (whatever the protocol). */
  requests: Array<{ path: string; contentType: string | undefined; bytes: number }>;
  /** Every span of the JSON exports, flattened. */
  spans(): CollectedSpan[];
  /** Waits until `found` returns a value for the spans received so far (at most `ms`). */
  waitFor<T>(found: (spans: CollectedSpan[]) => T | undefined, ms?: number): Promise<T>;
  close(): Promise<void>;
}

export async function startOtlpCollector({ keep = true }: { keep?: boolean } = {}): Promise<OtlpCollector> {
  const exports: OtlpExport[] = [];
  const requests: OtlpCollector["requests"] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (keep) chunks.push(chunk);
    });
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const contentType = req.headers["content-type"];
      requests.push({ path: req.url ?? "/", contentType, bytes });
      if (keep && req.url === "/v1/traces" && contentType?.startsWith("application/json"))
        exports.push(JSON.parse(body.toString("utf8")) as OtlpExport);
      // An empty ExportTraceServiceResponse, in the encoding asked for.
      if (contentType?.startsWith("application/json"))
        res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
      else res.writeHead(200, { "Content-Type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  const spans = (): CollectedSpan[] =>
    exports.flatMap((body) =>
      (body.resourceSpans ?? []).flatMap((rs) => {
        const resource = attributesOf(rs.resource?.attributes);
        return (rs.scopeSpans ?? []).flatMap((ss) =>
          (ss.spans ?? []).map((span) => ({
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId || undefined,
            name: span.name,
            kind: span.kind,
            scope: ss.scope?.name ?? "",
            attributes: attributesOf(span.attributes),
            resource,
            status: span.status ?? {},
          })),
        );
      }),
    );

  return {
    url: `http://127.0.0.1:${port}`,
    exports,
    requests,
    spans,
    async waitFor(found, ms = 5_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const value = found(spans());
        if (value !== undefined && value !== false) return value;
        if (Date.now() > deadline) throw new Error(`not among the ${spans().length} spans received in ${ms} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
