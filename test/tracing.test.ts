/**
 * Traces (OpenTelemetry), from the real app started as `npm start` starts it
 * (with the tracing preload), a real Redis and the real development provider
 * behind a proxy that keeps the headers it receives, to an OTLP/HTTP JSON
 * collector in this process: a sign-in and a logout make the span trees they
 * should (each request's server span the parent of its Redis commands and of
 * its calls to the provider, which receive its trace in `traceparent`); no
 * code, state, nonce, verifier, token, cookie, session id or secret is in
 * anything exported, and the exporter's safety net never had to step in; log
 * lines carry the trace; with no OTEL_ variable no OpenTelemetry SDK,
 * instrumentation or loader hook is loaded (only the API that prom-client
 * requires itself); a collector that is down slows nothing and is said once;
 * shutdown sends what is buffered.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDevProvider, type DevProvider } from "../server/dev-oidc-provider/index.ts";
import { redactSpan, untracedPath } from "../server/tracing-sdk.ts";
import { tracingSettings } from "../server/tracing-state.ts";
import { Browser } from "./support/browser.ts";
import { confirmProviderLogout, postLogout, SESSION_COOKIE, startSignIn, submitLogin } from "./support/flows.ts";
import { startOtlpCollector, type CollectedSpan, type OtlpCollector } from "./support/otlp-collector.ts";
import { freePort } from "./support/ports.ts";
import { readSession, sessionId, sessionKey } from "./support/redis-keys.ts";
import {
  CLIENT_ID,
  CLIENT_SECRET,
  SESSION_SECRET,
  startApp,
  startTestRedis,
  type App,
  type TestRedis,
} from "./support/stack.ts";
import { startTamperingProxy } from "./support/tampering-proxy.ts";

/** Any JWT: header and payload both base64url JSON. */
const METRICS_TOKEN = "metrics-token-0123456789abcdef0123456789";
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}/;
/** Span kinds as OTLP numbers them (SpanKind + 1). */
const SERVER = 2;
const CLIENT = 3;
const WITH_MODULE_LIST = ["./test/support/loaded-modules.ts", "./server/tracing.ts"];
const OTEL_MODULE = /[\\/](@opentelemetry|import-in-the-middle|require-in-the-middle)[\\/]/;

let dir: string;
let collector: OtlpCollector;
let redis: TestRedis;
let provider: DevProvider;
let proxy: Awaited<ReturnType<typeof startTamperingProxy>>;
let app: App;
let appPort: number;
/** The other app processes a test starts, stopped at the end even when the test failed before stopping them. */
const others: App[] = [];
const started = (other: App) => (others.push(other), other);
/** Every value that must never be exported, with what it is (for the failure message). */
const secrets = new Map<string, string>();

function secret(what: string, value: string | null | undefined) {
  expect(value, `${what} was captured`).toBeTruthy();
  expect(value!.length, `${what} is long enough to search for`).toBeGreaterThanOrEqual(8);
  secrets.set(value!, what);
  const decoded = decodeURIComponent(value!);
  if (decoded !== value) secrets.set(decoded, `${what} (decoded)`);
}

const isRedis = (span: CollectedSpan) => span.scope === "@opentelemetry/instrumentation-ioredis";
const isProviderCall = (span: CollectedSpan) => span.scope === "@opentelemetry/instrumentation-undici";
const childrenOf = (parent: CollectedSpan) =>
  collector.spans().filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId);

/** The server span of a request, once exported. */
const serverSpan = (name: string) =>
  collector.waitFor((spans) => spans.find((s) => s.kind === SERVER && s.name === name));

/** The provider received this call with the span's own trace context in `traceparent`. */
function receivedWithTraceparent(call: CollectedSpan) {
  const traceparent = `00-${call.traceId}-${call.spanId}-01`;
  const request = proxy.received().find((r) => r.headers.traceparent === traceparent);
  expect(request, `the provider received ${call.name} with traceparent ${traceparent}`).toBeDefined();
  expect(`${request!.method} ${request!.path}`).toBe(call.name);
}

const modulesLoadedBy = (file: string) => readFileSync(file, "utf8").split("\n").filter(Boolean);

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "rro-tracing-"));
  collector = await startOtlpCollector();
  redis = await startTestRedis();
  const [providerPort, proxyPort] = [await freePort(), await freePort()];
  appPort = await freePort();
  const appUrl = `http://localhost:${appPort}`;
  provider = await startDevProvider({
    port: providerPort,
    issuer: `http://127.0.0.1:${proxyPort}`,
    // The secrets searched for are read from the authorization URL: without PAR, they are all in it.
    pushedAuthorizationRequests: false,
    client: {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: [`${appUrl}/auth/callback`],
      postLogoutRedirectUris: [`${appUrl}/`],
      backchannelLogoutUri: `${appUrl}/auth/backchannel-logout`,
    },
    log: () => {},
  });
  proxy = await startTamperingProxy(providerPort, proxyPort);
  app = await startApp(
    {
      REDIS_URL: redis.url,
      OIDC_ISSUER: proxy.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "50",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=test",
      METRICS_TOKEN,
      LOADED_MODULES_FILE: path.join(dir, "traced-app-modules"),
    },
    appPort,
    undefined,
    { preloads: WITH_MODULE_LIST },
  );
  secret("the client secret", CLIENT_SECRET);
  secret("the session secret", SESSION_SECRET);

  // Probes, which are not traced (nor the Redis PING and discovery /readyz makes).
  expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
  expect((await fetch(`${app.url}/readyz`)).status).toBe(200);

  // A sign-in, step by step, keeping every value that must not be exported.
  const browser = new Browser();
  const loginForm = await startSignIn(browser, app.url);
  const authorize = new URL(loginForm.hops.find((hop) => /\/auth\?/.test(hop.url))!.url);
  secret("the nonce", authorize.searchParams.get("nonce"));
  secret("the state", authorize.searchParams.get("state"));
  secret("the PKCE challenge", authorize.searchParams.get("code_challenge"));
  const preSignIn = browser.cookie(app.url, SESSION_COOKIE)!;
  secret("the pre-sign-in cookie", preSignIn);
  secret("the pre-sign-in session id", sessionId(preSignIn));
  const flow = (await redis.client.get(sessionKey(preSignIn)))!;
  secret("the PKCE verifier", /"codeVerifier":"([^"]+)"/.exec(flow)?.[1]);
  const landed = await submitLogin(browser, loginForm, "alice", "alice-password");
  expect(landed.url).toBe(`${app.url}/account`);
  const callback = new URL(landed.hops.find((hop) => hop.url.includes("/auth/callback"))!.url);
  secret("the authorization code", callback.searchParams.get("code"));
  const cookie = browser.cookie(app.url, SESSION_COOKIE)!;
  secret("the session cookie", cookie);
  secret("the session id", sessionId(cookie));
  const session = (await readSession(redis.client, cookie))!;
  secret("the ID token", session.idToken);
  secret("the access token", session.accessToken);
  secret("the refresh token", session.refreshToken);

  // Logout, the provider's confirmation, and its back-channel logout to the app.
  const logout = await postLogout(browser, app.url);
  expect(logout.status).toBe(302);
  const endSession = new URL(logout.headers.get("Location")!);
  secret("the id_token_hint", endSession.searchParams.get("id_token_hint"));
  secret("the logout state", endSession.searchParams.get("state"));
  const back = await confirmProviderLogout(browser, await browser.navigate(endSession.href));
  expect(back.html).toContain('data-notice="provider"');
  await serverSpan("POST /auth/backchannel-logout");
  await serverSpan("GET /");
});

afterAll(async () => {
  for (const other of others) await other.stop();
  await app?.stop();
  await proxy?.close();
  await provider?.close();
  await redis?.stop();
  await collector?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the span tree of a sign-in", () => {
  it("the callback's span is the parent of its Redis commands and of the provider calls, which carry its trace", async () => {
    const callback = await serverSpan("GET /auth/callback");
    expect(callback.parentSpanId).toBeUndefined();
    expect(callback.attributes).toMatchObject({
      "http.route": "/auth/callback",
      "url.path": "/auth/callback",
      "http.request.method": "GET",
      "http.response.status_code": 302,
    });
    const children = childrenOf(callback);
    // The flow read and removed, the new session written; the rate limit's script.
    const commands = children.filter(isRedis).map((s) => s.name);
    expect(commands).toEqual(expect.arrayContaining(["evalsha", "getex", "del", "set"]));
    // The code exchanged at the token endpoint and the ID token's keys fetched, both carrying the trace.
    const calls = children.filter(isProviderCall);
    expect(calls.map((s) => s.name)).toEqual(expect.arrayContaining(["POST /token", "GET /jwks"]));
    for (const call of calls) {
      expect(call.kind).toBe(CLIENT);
      expect(call.attributes["url.full"]).toBe(`${proxy.url}${call.name.split(" ")[1]}`);
      receivedWithTraceparent(call);
    }
    // Nothing else in that trace but the callback's own children.
    const trace = collector.spans().filter((s) => s.traceId === callback.traceId);
    expect(trace.length).toBe(children.length + 1);
  });

  it("sign-in starts with POST /login, its Redis commands inside it", async () => {
    const login = await serverSpan("POST /login");
    expect(login.attributes["http.route"]).toBe("/login");
    expect(
      childrenOf(login)
        .filter(isRedis)
        .map((s) => s.name),
    ).toEqual(expect.arrayContaining(["set"]));
  });

  it("the signed-in page reads its session in one pipelined round trip, inside its span", async () => {
    const page = await serverSpan("GET /account");
    const reads = childrenOf(page).filter((s) => s.attributes["db.operation.name"] === "PIPELINE getex");
    expect(reads.length).toBe(1);
  });
});

describe("the span tree of a logout", () => {
  it("POST /logout's span is the parent of the commands that read the tokens and delete the session, and calls no provider", async () => {
    const logout = await serverSpan("POST /logout");
    expect(logout.attributes).toMatchObject({ "http.route": "/logout", "http.response.status_code": 302 });
    const children = childrenOf(logout);
    expect(children.filter(isRedis).map((s) => s.name)).toEqual(expect.arrayContaining(["getex", "get", "del"]));
    expect(children.filter(isProviderCall)).toEqual([]);
  });

  it("the provider's back-channel logout: its span is the parent of the Redis commands; the keys the sign-in fetched serve it (no provider call)", async () => {
    const backchannel = await serverSpan("POST /auth/backchannel-logout");
    expect(backchannel.attributes["http.response.status_code"]).toBe(200);
    const children = childrenOf(backchannel);
    // One key cache for ID tokens and logout tokens (ADR 020): the callback's span holds the fetch.
    expect(children.filter(isProviderCall)).toEqual([]);
    // The logout token's jti remembered, the provider session's index read.
    expect(children.filter(isRedis).map((s) => s.name)).toEqual(expect.arrayContaining(["set", "zrangebyscore"]));
  });
});

describe("which requests, under which names", () => {
  it("every request's span is named by its method and route pattern, never by a query string", () => {
    const servers = collector.spans().filter((s) => s.kind === SERVER);
    expect(servers.map((s) => s.name)).toEqual(
      expect.arrayContaining(["POST /login", "GET /auth/callback", "GET /account", "POST /logout", "GET /"]),
    );
    for (const span of servers) {
      expect(span.name).toMatch(/^[A-Z]+ \/[^?#]*$/);
      expect(span.attributes["http.route"]).toBe(span.name.split(" ")[1]);
      expect(span.status.code ?? SpanStatusCode.UNSET).toBe(SpanStatusCode.UNSET);
    }
  });

  it("health checks are not traced, nor what they send to Redis and the provider", () => {
    const spans = collector.spans();
    expect(spans.filter((s) => ["/healthz", "/readyz"].includes(String(s.attributes["url.path"])))).toEqual([]);
    expect(spans.filter((s) => s.name === "ping")).toEqual([]);
    // Every client span (Redis, provider) belongs to a traced request.
    const servers = new Set(spans.filter((s) => s.kind === SERVER).map((s) => s.traceId));
    for (const span of spans) expect(servers.has(span.traceId), span.name).toBe(true);
  });

  it("the app's Redis metrics still count the traced commands (its wrapper and the instrumentation's both run); /metrics is not traced", async () => {
    const scrape = await fetch(`${app.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(scrape.status).toBe(200);
    const counted = Number(
      /^rro_redis_command_duration_seconds_count\{command="getex"\} (\d+)$/m.exec(await scrape.text())?.[1],
    );
    const traced = collector.spans().filter((s) => isRedis(s) && s.name === "getex").length;
    expect(traced).toBeGreaterThan(0);
    expect(counted).toBeGreaterThanOrEqual(traced);
    await new Promise((r) => setTimeout(r, 300));
    expect(collector.spans().filter((s) => s.attributes["url.path"] === "/metrics")).toEqual([]);
  });

  it("the resource: the default service name, and OTEL_RESOURCE_ATTRIBUTES", () => {
    expect(collector.spans()[0]!.resource).toMatchObject({
      "service.name": "remix-redis-oidc",
      "deployment.environment.name": "test",
    });
  });

  it("log lines written during a traced request carry its trace_id and span_id", async () => {
    const callback = await serverSpan("GET /auth/callback");
    const line = app
      .stdout()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { req?: { path: string }; trace_id?: string; span_id?: string })
      .find((l) => l.req?.path === "/auth/callback");
    expect(line).toMatchObject({ trace_id: callback.traceId, span_id: callback.spanId });
  });

  it("development: Vite's modules and the app's sources are not traced, Remix's data requests are", () => {
    for (const url of ["/@vite/client", "/@fs/x.ts", "/app/root.tsx", "/node_modules/.vite/deps/react.js", "/x.css"])
      expect(untracedPath(url, true), url).toBe(true);
    for (const url of ["/", "/login.data", "/auth/callback?code=1"]) expect(untracedPath(url, true), url).toBe(false);
    expect(untracedPath("/assets/entry.client-abc.js", false)).toBe(false);
    expect(untracedPath("/healthz?x=1", false)).toBe(true);
  });
});

describe("what is never exported", () => {
  it("no code, state, nonce, verifier, token, cookie, session id or secret in any exported string", () => {
    const exported = JSON.stringify(collector.exports);
    expect(collector.spans().length).toBeGreaterThan(20);
    expect(secrets.size).toBeGreaterThanOrEqual(16);
    const leaked = [...secrets].filter(([value]) => exported.includes(value)).map(([, what]) => what);
    expect(leaked, "exported").toEqual([]);
    expect(exported).not.toMatch(JWT);
  });

  it("the instrumentations' settings kept it out alone: the exporter's safety net never had anything to remove", () => {
    expect(app.output()).not.toContain("[tracing] removed");
  });

  it("the safety net removes queries, headers, statements and JWTs from whatever an instrumentation recorded", () => {
    const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNlY3JldA";
    const hostile = {
      name: "GET /auth/callback?code=code-secret-123",
      kind: SpanKind.SERVER,
      spanContext: () => ({ traceId: "1".repeat(32), spanId: "2".repeat(16), traceFlags: 1 }),
      parentSpanContext: undefined,
      startTime: [0, 0],
      endTime: [0, 1],
      duration: [0, 1],
      ended: true,
      status: { code: SpanStatusCode.ERROR, message: `refused ${jwt}` },
      attributes: {
        "url.query": "code=code-secret-123&state=state-secret-456",
        "url.full": "http://idp/session/end?id_token_hint=hint-secret-789&client_id=x",
        "http.request.header.cookie": ["rro_sid=cookie-secret-000"],
        "db.query.text": 'set rro:sess:{session-id-secret} {"accessToken":"access-secret"}',
        "http.response.status_code": 302,
      },
      links: [],
      events: [
        { name: "exception", time: [0, 0], attributes: { "exception.message": "fetch /token?code=code-secret-123" } },
      ],
      resource: undefined,
      instrumentationScope: { name: "test" },
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    } as unknown as ReadableSpan;
    const removed: string[] = [];
    const safe = redactSpan(hostile, (key) => removed.push(key));
    const text = JSON.stringify({ ...safe, spanContext: undefined });
    for (const value of [
      "code-secret",
      "state-secret",
      "hint-secret",
      "cookie-secret",
      "session-id-secret",
      "access-secret",
    ])
      expect(text).not.toContain(value);
    expect(text).not.toMatch(JWT);
    expect(safe.name).toBe("GET /auth/callback");
    expect(safe.attributes).toEqual({
      "url.full": "http://idp/session/end",
      "db.query.text": "set",
      "http.response.status_code": 302,
    });
    expect(removed).toEqual(
      expect.arrayContaining([
        "span name",
        "status message",
        "url.query",
        "url.full",
        "http.request.header.cookie",
        "db.query.text",
        "exception.message",
      ]),
    );
  });
});

describe("off unless asked for", () => {
  it("reads the standard variables: on only when an endpoint or exporter asks, never when disabled", () => {
    const off = (env: Record<string, string>) => tracingSettings(env).enabled;
    expect(off({})).toBe(false);
    expect(off({ OTEL_SERVICE_NAME: "x", OTEL_EXPORTER_OTLP_ENDPOINT: "" })).toBe(false);
    expect(off({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" })).toBe(false);
    expect(off({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" })).toBe(false);
    expect(
      tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://user:pw@c:4318/", OTEL_SDK_DISABLED: "false" }),
    ).toEqual({
      enabled: true,
      exporters: ["otlp"],
      protocol: "http/protobuf",
      endpoint: "http://c:4318/v1/traces",
      development: true,
    });
    expect(
      tracingSettings({
        OTEL_TRACES_EXPORTER: "otlp,console",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://c/otlp/traces?key=secret",
        NODE_ENV: "production",
      }),
    ).toEqual({
      enabled: true,
      exporters: ["otlp", "console"],
      protocol: "http/json",
      endpoint: "https://c/otlp/traces",
      development: false,
    });
    expect(tracingSettings({ OTEL_TRACES_EXPORTER: "zipkin" })).toMatchObject({ enabled: false, problem: true });
    expect(
      tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }),
    ).toMatchObject({ enabled: false, problem: true });
  });

  it("with no OTEL_ variable, no OpenTelemetry SDK, exporter, instrumentation or loader hook is loaded, and the log says tracing is off", async () => {
    const file = path.join(dir, "untraced-app-modules");
    const untraced = started(
      await startApp(
        { REDIS_URL: redis.url, OIDC_ISSUER: proxy.url, LOADED_MODULES_FILE: file },
        undefined,
        undefined,
        { preloads: WITH_MODULE_LIST },
      ),
    );
    expect((await fetch(`${untraced.url}/`)).status).toBe(200);
    expect((await fetch(`${untraced.url}/login`, { method: "POST", redirect: "manual" })).status).toBe(302);
    await untraced.stop();
    expect(untraced.process.exitCode).toBe(0);
    const loaded = modulesLoadedBy(file);
    expect(
      loaded.some((m) => /[\\/]node_modules[\\/]ioredis[\\/]/.test(m)),
      "the list holds the app's modules",
    ).toBe(true);
    // prom-client (the metrics) requires @opentelemetry/api itself, for exemplars: the API alone, which
    // without an SDK registered does nothing. No SDK, exporter, instrumentation or loader hook.
    expect(loaded.some((m) => /[\\/]prom-client[\\/]/.test(m))).toBe(true);
    expect(loaded.filter((m) => OTEL_MODULE.test(m) && !/[\\/]@opentelemetry[\\/]api[\\/]/.test(m))).toEqual([]);
    expect(untraced.stdout()).toContain("[server] tracing off: no OTEL_EXPORTER_OTLP_ENDPOINT");
    expect(untraced.stdout()).not.toContain("trace_id");
  });
});

describe("a collector that does not answer", () => {
  it("slows no request, is said once at warn, and does not hold up shutdown", async () => {
    // Takes the connection and never answers: the export waits for its timeout, which no request may.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const stuck = started(
        await startApp({
          REDIS_URL: redis.url,
          OIDC_ISSUER: proxy.url,
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_BSP_SCHEDULE_DELAY: "50",
          OTEL_EXPORTER_OTLP_TIMEOUT: "3000",
        }),
      );
      const durations: number[] = [];
      for (let i = 0; i < 30; i++) {
        const began = performance.now();
        expect((await fetch(`${stuck.url}/`)).status).toBe(200);
        durations.push(performance.now() - began);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(Math.max(...durations), "no request waited for the export's 3 s timeout").toBeLessThan(2_000);
      expect(sockets.size, "the exporter was sending meanwhile").toBeGreaterThan(0);
      const warnings = () => stuck.stdout().match(/\[tracing\] spans could not be sent/g) ?? [];
      const deadline = Date.now() + 15_000;
      while (warnings().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 1_000));
      expect(warnings().length).toBe(1);
      const warning = stuck
        .stdout()
        .split("\n")
        .find((line) => line.includes("[tracing] spans could not be sent"))!;
      // About the process, not about the request whose span happened to start the batch.
      expect(JSON.parse(warning)).toEqual(
        expect.objectContaining({ level: "warn", msg: expect.stringContaining("requests are not affected") }),
      );
      expect(Object.keys(JSON.parse(warning))).not.toEqual(expect.arrayContaining(["reqId"]));
      expect(Object.keys(JSON.parse(warning))).not.toEqual(expect.arrayContaining(["trace_id"]));
      const stopping = Date.now();
      await stuck.stop();
      expect(stuck.process.exitCode).toBe(0);
      expect(Date.now() - stopping, "shutdown waits at most 3 s for the last spans").toBeLessThan(6_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});

describe("shutdown and the exporters", () => {
  it("SIGTERM sends what is still buffered; OTEL_SERVICE_NAME names the service", async () => {
    const sink = await startOtlpCollector();
    try {
      const held = started(
        await startApp({
          REDIS_URL: redis.url,
          OIDC_ISSUER: proxy.url,
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${sink.url}/v1/traces`,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_BSP_SCHEDULE_DELAY: "600000",
          OTEL_SERVICE_NAME: "rro-under-test",
        }),
      );
      expect((await fetch(`${held.url}/`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
      expect(sink.spans()).toEqual([]);
      await held.stop();
      expect(held.process.exitCode).toBe(0);
      expect(sink.spans().map((s) => [s.name, s.resource["service.name"]])).toEqual([["GET /", "rro-under-test"]]);
    } finally {
      await sink.close();
    }
  });

  it("http/protobuf, the default protocol, reaches the collector", async () => {
    const sink = await startOtlpCollector();
    try {
      const proto = started(
        await startApp({
          REDIS_URL: redis.url,
          OIDC_ISSUER: proxy.url,
          OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
          OTEL_BSP_SCHEDULE_DELAY: "50",
        }),
      );
      expect((await fetch(`${proto.url}/`)).status).toBe(200);
      await proto.stop();
      expect(sink.requests.map((r) => [r.path, r.contentType])).toEqual([["/v1/traces", "application/x-protobuf"]]);
      expect(proto.stdout()).toContain("tracing on: otlp (http/protobuf to");
    } finally {
      await sink.close();
    }
  });

  it("the traced app exits 0 on SIGTERM, having loaded OpenTelemetry (the module list can see it)", async () => {
    await app.stop();
    expect(app.process.exitCode).toBe(0);
    expect(
      modulesLoadedBy(path.join(dir, "traced-app-modules")).filter((m) => OTEL_MODULE.test(m)).length,
    ).toBeGreaterThan(50);
  });
});
