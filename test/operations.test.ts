/**
 * Operations: /healthz (the process is up), /readyz (Redis and the provider
 * answer, or 503 naming what does not), and graceful shutdown (SIGTERM lets a
 * request in flight finish, refuses new ones, exits 0).
 */
import { afterAll, expect, it } from "vitest";
import { startDevProvider } from "../server/dev-oidc-provider/index.ts";
import { freePort } from "./support/ports.ts";
import { CLIENT_ID, CLIENT_SECRET, startApp, startStack, startTestRedis, type Stack } from "./support/stack.ts";
import { startTamperingProxy } from "./support/tampering-proxy.ts";
import { until } from "./support/until.ts";

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});
const getJson = async (url: string) => {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
};

it("/healthz answers while the process is up, whatever Redis does; /readyz names Redis when it is down", async () => {
  const stack: Stack = await startStack();
  cleanups.push(stack.stop);
  expect(await getJson(`${stack.app.url}/healthz`)).toEqual({ status: 200, body: { status: "ok" } });
  expect(await getJson(`${stack.app.url}/readyz`)).toEqual({
    status: 200,
    body: { status: "ready", checks: { redis: "ok", provider: "ok" } },
  });

  await stack.redis.server.stop();
  const down = await getJson(`${stack.app.url}/readyz`);
  expect(down.status).toBe(503);
  expect(down.body.checks.redis).toMatch(/^unreachable/);
  expect(down.body.checks.provider).toBe("ok");
  expect((await getJson(`${stack.app.url}/healthz`)).status).toBe(200);
  await stack.redis.restart();
});

it("/readyz names the provider when it cannot be reached", async () => {
  const redis = await startTestRedis();
  cleanups.push(redis.stop);
  const app = await startApp({ REDIS_URL: redis.url, OIDC_ISSUER: `http://127.0.0.1:${await freePort()}` });
  cleanups.push(app.stop);
  const result = await getJson(`${app.url}/readyz`);
  expect(result.status).toBe(503);
  expect(result.body.checks).toEqual({ redis: "ok", provider: expect.stringMatching(/^unreachable/) });
});

it("SIGTERM lets a request in flight finish, refuses new ones, and exits 0", async () => {
  const redis = await startTestRedis();
  cleanups.push(redis.stop);
  const [providerPort, proxyPort, appPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const appUrl = `http://localhost:${appPort}`;
  const provider = await startDevProvider({
    port: providerPort,
    issuer: `http://127.0.0.1:${proxyPort}`,
    client: {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: [`${appUrl}/auth/callback`],
      postLogoutRedirectUris: [`${appUrl}/`],
    },
    log: () => {},
  });
  cleanups.push(provider.close);
  const proxy = await startTamperingProxy(providerPort, proxyPort);
  cleanups.push(proxy.close);
  const app = await startApp({ REDIS_URL: redis.url, OIDC_ISSUER: proxy.url }, appPort);
  cleanups.push(app.stop);

  // A provider that answers only when told makes /readyz a request still in flight when SIGTERM arrives:
  // it is, once its discovery request has reached the provider (not merely sent: a connection whose
  // request the app has not read yet is idle, and closed at SIGTERM).
  const discovery = "/.well-known/openid-configuration";
  // (The start-up probe asks for it too: after that, the next request for it is /readyz's.)
  expect(await until(async () => app.output().includes("answers discovery"), 10_000)).toBe(true);
  const release = proxy.hold(discovery);
  const asked = proxy.count(discovery);
  const inFlight = getJson(`${appUrl}/readyz`);
  inFlight.catch(() => {}); // awaited below; not an unhandled rejection if a check fails first
  expect(await until(async () => proxy.count(discovery) > asked, 10_000)).toBe(true);
  const exited = new Promise<number | null>((resolve) => app.process.once("exit", (code) => resolve(code)));
  app.process.kill("SIGTERM");
  // The app logs this line, then closes its listening socket in the same turn of its event loop.
  expect(await until(async () => app.output().includes("SIGTERM: finishing open requests"), 10_000)).toBe(true);
  release(); // (the app gives the provider 2 s)
  await expect(fetch(`${appUrl}/healthz`)).rejects.toThrow(); // no new connections
  expect(await inFlight).toEqual({ status: 200, body: { status: "ready", checks: { redis: "ok", provider: "ok" } } });
  expect(await exited).toBe(0);
  expect(app.output()).toMatch(/SIGTERM: finishing open requests[\s\S]*stopped/);
});
