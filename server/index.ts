/**
 * The HTTP entry (after Remix's Express template): Vite in middleware mode in
 * development, the built bundle in production, then Remix for every request.
 * No business logic here: the checks before listening are in startup.ts, the
 * development services (local Redis, development provider) in dev-services.ts.
 */
import { existsSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import type { ServerBuild } from "@remix-run/node";
import closeWithGrace from "close-with-grace";
import express from "express";
import type { Env } from "../app/platform/env.server.ts";
import { logger } from "../app/platform/logger.server.ts";
import { closeRedis } from "../app/platform/redis.server.ts";
import { limitRequestBodies } from "./body-limit.ts";
import { closeHttpServer } from "./close-http-server.ts";
import { startDevServices } from "./dev-services.ts";
import { measureRequests, metricsBehindToken, routeLabel, routePatterns, startMetricsServer } from "./http-metrics.ts";
import { refuseCrossSiteWrites } from "./refuse-cross-site-writes.ts";
import { refuseMalformedRequests } from "./refuse-malformed-requests.ts";
import { remixHandler } from "./remix-handler.ts";
import { logUnhandledErrors, requestLogging } from "./request-logging.ts";
import { securityHeaders } from "./security-headers.ts";
import { startSessionSweeps } from "./session-sweeps.ts";
import { CLIENT_JWKS_PATH, serveClientJwks } from "./client-jwks.ts";
import {
  checkDependencies,
  loadConfiguration,
  log,
  probeProvider,
  reportStartupFailure,
  reportTracing,
} from "./startup.ts";
import { tagRoute, tracingStatus } from "./tracing-state.ts";

/** What shutdown stops after the HTTP server and Redis, last started first. */
const stops: Array<() => Promise<void>> = [];

/** Production: the bundle from `npm run build` and its static files. Development: Vite, reloading on change. */
async function remixBuild(env: Env, app: express.Express, server: http.Server) {
  if (env.isProduction) {
    const buildPath = path.resolve("build/server/index.js");
    if (!existsSync(buildPath))
      throw new Error("No production build found at build/server/index.js: run `npm run build` first.");
    app.use("/assets", express.static("build/client/assets", { immutable: true, maxAge: "1y" }));
    app.use(express.static("build/client", { maxAge: "1h" }));
    return (await import(buildPath)) as ServerBuild;
  }
  const vite = await import("vite").then((v) =>
    v.createServer({ server: { middlewareMode: true, hmr: { server } }, appType: "custom" }),
  );
  stops.push(() => vite.close());
  app.use(vite.middlewares);
  return () => vite.ssrLoadModule("virtual:remix/server-build") as Promise<ServerBuild>;
}

async function main() {
  const env = await loadConfiguration();
  reportTracing();
  if (!env.isProduction) stops.push(await startDevServices(env));
  await checkDependencies(env);

  const app = express();
  app.disable("x-powered-by");
  // Which proxies' X-Forwarded-For/-Proto to believe (TRUST_PROXY; none by default): req.ip and req.protocol.
  app.set("trust proxy", env.trustProxy);
  // First, so that every response (static files and refusals included) has its request id, log line,
  // duration metric (when metrics are served) and security headers; then odd methods and unparsable
  // hosts or targets get a 405 or 400, not a 500 from deep inside; then no body is read past
  // MAX_BODY_BYTES, whatever the route.
  let patterns: readonly string[] = [];
  // Traces (server/tracing.ts): a request's span is named by the route pattern it matches, never by its path.
  if (tracingStatus().enabled)
    app.use((req, _res, next) => {
      tagRoute(req, routeLabel(req.path, patterns));
      next();
    });
  app.use(requestLogging(), securityHeaders(env));
  if (env.metrics.port !== undefined || env.metrics.token !== undefined) app.use(measureRequests(() => patterns));
  app.use(refuseMalformedRequests());
  if (env.metrics.token) app.use(metricsBehindToken(env.metrics.token));
  app.use(limitRequestBodies(env.maxBodyBytes));
  const server = http.createServer(app);
  const build = await remixBuild(env, app, server);
  patterns = routePatterns((typeof build === "function" ? await build() : build).routes);
  app.use(refuseCrossSiteWrites(env.appUrl.origin));
  if (env.oidc.clientKeys.length > 0) app.get(CLIENT_JWKS_PATH, serveClientJwks(env.oidc.clientKeys));
  // Every page depends on the session: never let a browser or proxy cache one.
  app.use((_req, res, next) => {
    res.set("Cache-Control", "no-store");
    next();
  });
  app.all(
    "*",
    remixHandler({
      build,
      mode: env.isProduction ? "production" : "development",
      // The client's address for the rate limits and the sessions list (behind a proxy: TRUST_PROXY), and
      // the CSP nonce. Log lines written during the request carry its id without it (app/platform/logger.server.ts).
      getLoadContext: (req, res) => ({ clientIp: req.ip, cspNonce: String(res.locals.cspNonce) }),
    }),
  );
  app.use(logUnhandledErrors());

  await new Promise<void>((resolve) => server.listen(env.port, resolve));
  const address = server.address();
  log(`app listening on port ${typeof address === "object" && address ? address.port : env.port}: ${env.appUrl.href}`);
  void probeProvider(env);
  const stopSweeps =
    env.sessionStore === "redis" && env.sessionSweepInterval > 0
      ? startSessionSweeps(env.sessionSweepInterval)
      : async () => {};
  if (env.metrics.port !== undefined) {
    const metricsServer = await startMetricsServer(env.metrics.port);
    stops.push(() => closeHttpServer(metricsServer, 1_000));
    log(`metrics on port ${env.metrics.port}: /metrics`);
  }

  // SIGTERM/SIGINT: finish the requests in flight (forced after 10 s), close Redis and the development services,
  // then send the last spans (at most 3 s; nothing when tracing is off).
  closeWithGrace({ delay: 15_000, logger }, async ({ signal, err }) => {
    if (err) logger.fatal({ err }, "[server] uncaught error: shutting down");
    log(`${signal ?? "shutdown"}: finishing open requests`);
    await closeHttpServer(server, 10_000);
    await stopSweeps();
    await closeRedis();
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await tracingStatus().shutdown();
    log("stopped");
  });
}

main().catch(async (error: unknown) => {
  reportStartupFailure(error instanceof Error ? error.message : String(error), { err: error });
  for (const stop of stops.reverse()) await stop().catch(() => {});
  await tracingStatus().shutdown();
  process.exit(1);
});
