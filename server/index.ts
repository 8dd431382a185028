/**
 * The HTTP entry (after Remix's Express template): Vite in middleware mode in
 * development, the built bundle in production, then Remix for every request.
 * In development it also brings up what is missing: the local Redis from
 * redis/ (no REDIS_URL) and the embedded OpenID provider (no OIDC_ISSUER).
 * No business logic here.
 */
import { existsSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { createRequestHandler } from "@remix-run/express";
import type { ServerBuild } from "@remix-run/node";
import express from "express";
import { EnvError, getEnv, type Env } from "../app/utils/env.server.ts";
import { logger } from "../app/utils/logger.server.ts";
import { fetchDiscoveryCheck } from "../app/utils/readiness.server.ts";
import { checkRedisAtStartup } from "../app/utils/redis.server.ts";
import { startLocalRedis } from "../redis/local-redis.ts";
import { refuseCrossSiteWrites } from "./refuse-cross-site-writes.ts";
import { logUnhandledErrors, requestLogging } from "./request-logging.ts";

const log = (line: string) => logger.info(`[server] ${line}`);
const cleanups: Array<() => Promise<void>> = [];

/**
 * A start-up failure: a fatal line in the JSON log, and the plain message on
 * stderr for the person starting the server (a configuration error lists one
 * problem a line, which JSON would fold into one).
 */
function logStartupFailure(message: string, fields: object) {
  logger.fatal(fields, `[server] ${message}`);
  process.stderr.write(`${message}\n`);
}

function loadConfiguration(): Env {
  const file = process.env.ENV_FILE ?? ".env";
  if (file && existsSync(file)) process.loadEnvFile(file); // never overrides variables already set
  try {
    const env = getEnv();
    logger.level = env.logLevel;
    return env;
  } catch (error) {
    if (error instanceof EnvError) {
      logStartupFailure(error.message, { problems: error.problems });
      process.exit(1);
    }
    throw error;
  }
}

async function startDevelopmentServices(env: Env) {
  if (env.useLocalRedis) {
    const port = Number(new URL(env.redisUrl).port);
    const redis = await startLocalRedis({ port, dataDir: "redis/data", reuseRunning: true, log });
    cleanups.push(redis.stop);
  }
  if (env.oidc.useDevProvider) {
    const { startDevProvider } = await import("./dev-oidc-provider/index.ts");
    const provider = await startDevProvider({
      port: env.oidc.devProviderPort,
      client: {
        clientId: env.oidc.clientId,
        clientSecret: env.oidc.clientSecret,
        redirectUris: [env.oidc.redirectUri.href],
        postLogoutRedirectUris: [env.oidc.postLogoutRedirectUri.href],
        backchannelLogoutUri: new URL("/auth/backchannel-logout", env.appUrl).href,
        tokenEndpointAuthMethod: env.oidc.tokenAuthMethod,
      },
      log: (line) => logger.info(line), // its lines start with [dev-oidc]
    });
    cleanups.push(provider.close);
    log(`development OpenID provider at ${provider.issuer} (demo users: see README)`);
  }
}

/** A clear line at start-up when the provider cannot be reached; the app retries at sign-in. */
async function probeProvider(env: Env) {
  const result = await fetchDiscoveryCheck();
  if (result === "ok") return log(`OpenID provider ${env.oidc.issuer.href} answers discovery`);
  logger.warn(
    `[server] the OpenID provider's discovery document at ${env.oidc.issuer.href} could not be fetched (${result}). ` +
      "Sign-in will show an error and retry until it answers; check OIDC_ISSUER.",
  );
}

async function main() {
  const env = loadConfiguration();
  if (!env.isProduction) await startDevelopmentServices(env);
  if (env.sessionStore === "redis") {
    const redis = await checkRedisAtStartup(env);
    if (redis.problem) throw new Error(redis.problem);
    if (redis.warning) logger.warn(`[server] ${redis.warning}`);
  } else {
    log("SESSION_STORE=cookie: sessions live in the cookie, tokens included (the design this project replaces; for comparison)");
  }
  if (env.sessionSecretGenerated) {
    log("SESSION_SECRET is not set: using a random one, so sessions end when the server restarts (npm run setup writes one to .env)");
  }

  const app = express();
  app.disable("x-powered-by");
  // Which proxies' X-Forwarded-For/-Proto to believe (TRUST_PROXY; none by default): req.ip and req.protocol.
  app.set("trust proxy", env.trustProxy);
  // First, so that every response (static files and refusals included) has its request id and log line.
  app.use(requestLogging());
  const server = http.createServer(app);

  let build: ServerBuild | (() => Promise<ServerBuild>);
  if (env.isProduction) {
    const buildPath = path.resolve("build/server/index.js");
    if (!existsSync(buildPath)) {
      logStartupFailure("No production build found at build/server/index.js: run `npm run build` first.", {});
      process.exit(1);
    }
    build = (await import(buildPath)) as ServerBuild;
    app.use("/assets", express.static("build/client/assets", { immutable: true, maxAge: "1y" }));
    app.use(express.static("build/client", { maxAge: "1h" }));
  } else {
    const vite = await import("vite").then((v) =>
      v.createServer({ server: { middlewareMode: true, hmr: { server } }, appType: "custom" }),
    );
    cleanups.push(() => vite.close());
    app.use(vite.middlewares);
    build = () => vite.ssrLoadModule("virtual:remix/server-build") as Promise<ServerBuild>;
  }
  app.use(refuseCrossSiteWrites(env.appUrl.origin));
  // Every page depends on the session: never let a browser or proxy cache one.
  app.use((_req, res, next) => {
    res.set("Cache-Control", "no-store");
    next();
  });
  app.all(
    "*",
    createRequestHandler({
      build,
      mode: env.isProduction ? "production" : "development",
      // The client's address for the sessions list (behind a proxy: TRUST_PROXY). Log lines
      // written during the request carry its id without it (app/utils/logger.server.ts).
      getLoadContext: (req) => ({ clientIp: req.ip }),
    }),
  );
  app.use(logUnhandledErrors());

  await new Promise<void>((resolve) => server.listen(env.port, resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : env.port;
  log(`app listening on port ${port}: ${env.appUrl.href}`);
  void probeProvider(env);

  // Graceful shutdown: stop accepting, let requests in flight finish (at most 10 s), then close
  // the app's Redis connection and whatever development services were started.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: finishing open requests`);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive connections that become idle once their request is done are closed at once.
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    server.closeIdleConnections();
    const force = setTimeout(() => server.closeAllConnections(), 10_000);
    await closed;
    clearInterval(sweep);
    clearTimeout(force);
    await globalThis.__rroRedis?.quit().catch(() => {});
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    log("stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

main().catch(async (error: unknown) => {
  logStartupFailure(error instanceof Error ? error.message : String(error), { err: error });
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  process.exit(1);
});
