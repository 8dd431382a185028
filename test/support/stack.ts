/**
 * The real parts, started for one test file on free loopback ports: a
 * `redis-server` from redis/redis.conf (temp data dir), the development
 * OpenID provider, and the app as a separate production-mode process
 * (`node --import tsx --import ./server/tracing.ts server/index.ts`, as
 * `npm start` runs it, on the build made by `npm test`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { startLocalRedis, type LocalRedis } from "../../redis/local-redis.ts";
import { startDevProvider, type DevProvider } from "../../server/dev-oidc-provider/index.ts";
import { freePort } from "./ports.ts";
import { markerEnv, stopChild } from "./processes.ts";
import { startTamperingProxy } from "./tampering-proxy.ts";

export const CLIENT_ID = "test-client";
export const CLIENT_SECRET = "test-client-secret-0123456789abcdef";
export const SESSION_SECRET = "test-session-secret-0123456789abcdef0123";

export interface TestRedis {
  url: string;
  port: number;
  dir: string;
  client: Redis;
  server: LocalRedis;
  stop(): Promise<void>;
  /** Starts the server again on the same port and data directory (append-only file kept). */
  restart(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), "rro-redis-"));
  const state = { server: await startLocalRedis({ port, dataDir: dir }) };
  const client = new Redis(state.server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  client.on("error", () => {});
  return {
    url: state.server.url,
    port,
    dir,
    client,
    get server() {
      return state.server;
    },
    async restart() {
      state.server = await startLocalRedis({ port, dataDir: dir });
    },
    async stop() {
      client.disconnect();
      await state.server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface App {
  url: string;
  port: number;
  process: ChildProcess;
  /** Everything the process printed so far (stdout and stderr, interleaved). */
  output(): string;
  /** What it printed on stdout only: its JSON log. */
  stdout(): string;
  /** SIGTERM; SIGKILL (with whatever it started) if it has not exited 10 s later. Resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts the app (production mode) and waits until it listens, or rejects with
 * its output. `cwd`: another copy of the project; `script` and `ready`: another
 * app's entry and the line it prints once listening (the fixture apps), and
 * `preloads` what it is started with after tsx (this app: the tracing preload,
 * as `npm start`; a test may add its own before it).
 */
export async function startApp(
  env: Record<string, string>,
  port?: number,
  cwd = path.resolve(import.meta.dirname, "../.."),
  {
    script = "server/index.ts",
    ready = "app listening",
    preloads = script === "server/index.ts" ? ["./server/tracing.ts"] : [],
  }: { script?: string; ready?: string; preloads?: string[] } = {},
): Promise<App> {
  const appPort = port ?? (await freePort());
  const url = `http://localhost:${appPort}`;
  const args = ["--import", "tsx", ...preloads.flatMap((preload) => ["--import", preload]), script];
  const child = spawn(process.execPath, args, {
    cwd,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: "production",
      ENV_FILE: "",
      PORT: String(appPort),
      APP_URL: url,
      SESSION_SECRET,
      OIDC_CLIENT_ID: CLIENT_ID,
      OIDC_CLIENT_SECRET: CLIENT_SECRET,
      ...env,
      ...markerEnv(), // so that test/support/file-setup.ts and global-setup.ts know it
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // A script that crashes (npm run chaos, compare, bench) takes its apps along.
  const onExit = () => child.kill("SIGKILL");
  process.once("exit", onExit);
  let output = "";
  let stdout = "";
  // Decoded as a stream, so a character split across two chunks stays whole.
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (text: string) => {
    output += text;
    stdout += text;
  });
  child.stderr.on("data", (text: string) => (output += text));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => process.off("exit", onExit));
  // A hang, not a slow start: on a busy 2-core machine the development server took over 30 s.
  const deadline = Date.now() + 90_000;
  while (!output.includes(ready)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const exitCode = child.exitCode;
      await stopChild(child, 0);
      throw new Error(`the app did not start (exit ${exitCode}):\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port: appPort,
    process: child,
    output: () => output,
    stdout: () => stdout,
    stop: () => stopChild(child),
  };
}

export interface Stack {
  app: App;
  redis: TestRedis;
  provider: DevProvider;
  stop(): Promise<void>;
}

export interface TestProviderOptions {
  rpInitiatedLogout?: boolean;
  httpPostMethods?: boolean;
  tokenEndpointAuthMethod?: "client_secret_basic" | "client_secret_post" | "private_key_jwt";
  /** private_key_jwt: the client's public keys inline; default: fetched from the app's /auth/jwks.json. */
  clientJwks?: { keys: import("oidc-provider").JWK[] };
  /**
   * Offer pushed authorization requests (RFC 9126). Default false here, unlike
   * `npm run dev`: the tests that read the authorization redirect's parameters
   * see them in the URL; test/par.test.ts turns it on.
   */
  pushedAuthorizationRequests?: boolean;
  signingKey?: import("oidc-provider").JWK;
  rawBasicCredentials?: boolean;
  laxEndSessionPost?: boolean;
  identityClaimsInUserinfoOnly?: boolean;
  /** Require a nonce in every DPoP proof. */
  dpopNonces?: boolean;
  /** The issuer to announce (a proxy in front of it). */
  issuer?: string;
  /** Its port; default a free one. */
  port?: number;
  /** Where its log lines go; default nowhere (DEBUG_PROVIDER=1: the console). */
  log?: (line: string) => void;
}

/** The development provider on a free port, with the test client registered for an app known as `appUrl`. */
export function startTestProvider(appUrl: string, options: TestProviderOptions = {}): Promise<DevProvider> {
  return startDevProvider({
    port: options.port ?? 0,
    issuer: options.issuer,
    rawBasicCredentials: options.rawBasicCredentials,
    laxEndSessionPost: options.laxEndSessionPost,
    identityClaimsInUserinfoOnly: options.identityClaimsInUserinfoOnly,
    dpopNonces: options.dpopNonces,
    client: {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: [`${appUrl}/auth/callback`],
      postLogoutRedirectUris: [`${appUrl}/`],
      backchannelLogoutUri: `${appUrl}/auth/backchannel-logout`,
      tokenEndpointAuthMethod: options.tokenEndpointAuthMethod,
      jwksUri: `${appUrl}/auth/jwks.json`,
      jwks: options.clientJwks,
    },
    pushedAuthorizationRequests: options.pushedAuthorizationRequests ?? false,
    rpInitiatedLogout: options.rpInitiatedLogout,
    httpPostMethods: options.httpPostMethods,
    signingKey: options.signingKey,
    log: options.log ?? (process.env.DEBUG_PROVIDER ? console.log : () => {}),
  });
}

/**
 * The stack's app again on the same port (the provider's registration still
 * fits), with other settings. `stack.app` is the new one, and `stack.stop()`
 * stops it.
 */
export async function restartApp(stack: Stack, env: Record<string, string>) {
  await stack.app.stop();
  stack.app = await startApp(
    { REDIS_URL: stack.redis.url, OIDC_ISSUER: stack.provider.issuer, ...env },
    stack.app.port,
  );
}

/** Redis + development provider + app, wired together. `appEnv` adds or overrides app variables. */
export async function startStack(
  options: {
    appEnv?: Record<string, string> | ((provider: DevProvider) => Record<string, string>);
    providerOptions?: Omit<TestProviderOptions, "log">;
    /** The port of a proxy in front of the app: APP_URL and the registered URIs use it. */
    publicPort?: number;
  } = {},
): Promise<Stack> {
  const redis = await startTestRedis();
  let provider: DevProvider | undefined;
  try {
    const appPort = await freePort();
    const appUrl = `http://localhost:${options.publicPort ?? appPort}`;
    provider = await startTestProvider(appUrl, options.providerOptions);
    const appEnv = typeof options.appEnv === "function" ? options.appEnv(provider) : options.appEnv;
    const app = await startApp(
      { REDIS_URL: redis.url, OIDC_ISSUER: provider.issuer, APP_URL: appUrl, ...appEnv },
      appPort,
    );
    const stack: Stack = {
      app,
      redis,
      provider,
      // Whichever app is the stack's now: restartApp replaces it.
      stop: () => stopAll([() => stack.app.stop(), () => stack.provider.close(), () => stack.redis.stop()]),
    };
    return stack;
  } catch (error) {
    // Nothing half-started is left behind when a part fails to start.
    await stopAll([() => provider?.close() ?? Promise.resolve(), () => redis.stop()]).catch(() => {});
    throw error;
  }
}

/** Runs every stop, in order, even after one has failed; then throws the first failure. */
async function stopAll(stops: Array<() => Promise<void>>) {
  const failures: unknown[] = [];
  for (const stop of stops) await stop().catch((error: unknown) => failures.push(error));
  if (failures.length > 0) throw failures[0];
}

/**
 * Redis, the development provider behind a counting, tampering proxy (its
 * issuer is the proxy's URL), and the app with `appEnv`. `restartApp`: the app
 * again on the same port (so the provider's registration still fits), with
 * `overrides` on top of its settings.
 */
export async function startProxiedStack(
  providerOptions: TestProviderOptions = {},
  appEnv: Record<string, string> = {},
) {
  const redis = await startTestRedis();
  const [appPort, providerPort, proxyPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const appUrl = `http://localhost:${appPort}`;
  const provider = await startTestProvider(appUrl, {
    ...providerOptions,
    port: providerPort,
    issuer: `http://127.0.0.1:${proxyPort}`,
  });
  const proxy = await startTamperingProxy(providerPort, proxyPort);
  const env = { REDIS_URL: redis.url, OIDC_ISSUER: proxy.url, APP_URL: appUrl, ...appEnv };
  const stack = {
    redis,
    provider,
    proxy,
    env,
    appPort,
    app: await startApp(env, appPort),
    async restartApp(overrides: Record<string, string>) {
      await stack.app.stop();
      stack.app = await startApp({ ...env, ...overrides }, appPort);
    },
    async stop() {
      await stack.app.stop();
      await proxy.close();
      await provider.close();
      await redis.stop();
    },
  };
  return stack;
}
