/**
 * Token refresh without races, against the real provider through a counting
 * proxy: 50 concurrent requests of one session, spread over two app
 * processes, with an access token about to expire, make exactly one call to
 * the token endpoint; a revoked refresh token ends the session; a provider
 * outage during refresh is a 503 that keeps the session.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { startDevProvider, type DevProvider } from "../server/dev-oidc-provider/index.ts";
import { Browser } from "./support/browser.ts";
import { SESSION_COOKIE, signIn } from "./support/flows.ts";
import { scrape } from "./support/metrics.ts";
import { freePort } from "./support/ports.ts";
import { sessionKey, readSession } from "./support/redis-keys.ts";
import { CLIENT_ID, CLIENT_SECRET, startApp, startTestRedis, type App, type TestRedis } from "./support/stack.ts";
import { startTamperingProxy } from "./support/tampering-proxy.ts";

let redis: TestRedis;
let provider: DevProvider;
let proxy: Awaited<ReturnType<typeof startTamperingProxy>>;
let apps: App[];
const METRICS_TOKEN = "metrics-token-0123456789abcdef0123456789";

/** A metric summed over both processes. */
async function total(name: string, labels?: Record<string, string>) {
  const scrapes = await Promise.all(apps.map((app) => scrape(`${app.url}/metrics`, METRICS_TOKEN)));
  return scrapes.reduce((sum, m) => sum + m.value(name, labels), 0);
}

beforeAll(async () => {
  redis = await startTestRedis();
  const [providerPort, proxyPort, port1, port2] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const urls = [port1, port2].map((p) => `http://localhost:${p}`);
  provider = await startDevProvider({
    port: providerPort,
    issuer: `http://127.0.0.1:${proxyPort}`,
    client: {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: urls.map((u) => `${u}/auth/callback`),
      postLogoutRedirectUris: urls.map((u) => `${u}/`),
    },
    log: () => {},
  });
  proxy = await startTamperingProxy(providerPort, proxyPort);
  // Two processes of the same app on one Redis, as behind a load balancer (the cookie is for host "localhost").
  apps = await Promise.all(
    [port1, port2].map((port) => startApp({ REDIS_URL: redis.url, OIDC_ISSUER: proxy.url, METRICS_TOKEN }, port)),
  );
});
afterAll(async () => {
  for (const app of apps ?? []) await app.stop();
  await proxy?.close();
  await provider?.close();
  await redis?.stop();
});

/** Signs in and makes the stored access token expire in 5 s (inside the 60 s refresh margin). */
async function signedInWithExpiringToken() {
  const browser = new Browser();
  await signIn(browser, apps[0]!.url);
  const sessionCookie = browser.cookie(apps[0]!.url, SESSION_COOKIE)!;
  const key = sessionKey(sessionCookie);
  const record = (await readSession(redis.client, sessionCookie))!;
  const hot = JSON.parse((await redis.client.get(key))!);
  await redis.client.set(
    key,
    JSON.stringify({ ...hot, accessTokenExpiresAt: Math.floor(Date.now() / 1000) + 5 }),
    "KEEPTTL",
  );
  return { cookie: browser.cookieHeader(apps[0]!.url), sessionCookie, key, record };
}

const get = (app: App, cookie: string) =>
  fetch(`${app.url}/account`, { headers: { Cookie: cookie }, redirect: "manual" });

it("50 concurrent requests across two processes refresh exactly once, and all use the new token", async () => {
  // Both processes warm, and a provider slow enough that all 50 requests arrive while a refresh is in flight.
  await Promise.all(apps.map((app) => fetch(`${app.url}/`)));
  const { cookie, sessionCookie, record } = await signedInWithExpiringToken();
  proxy.resetCounts();
  proxy.delay("/token", 300);
  const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => get(apps[i % 2]!, cookie))).finally(() =>
    proxy.delay("/token", 0),
  );
  expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
  expect(responses.every((r) => r.headers.getSetCookie().length === 0)).toBe(true);
  expect(proxy.count("/token")).toBe(1);
  const refreshed = (await readSession(redis.client, sessionCookie))!;
  expect(refreshed.accessToken).not.toBe(record.accessToken);
  expect(refreshed.accessTokenExpiresAt).toBeGreaterThan(Math.floor(Date.now() / 1000) + 500);
  // Fresh now: the next requests do not refresh again.
  await Promise.all([get(apps[0]!, cookie), get(apps[1]!, cookie)]);
  expect(proxy.count("/token")).toBe(1);
  // One refresh; the other process waited for it once (its own requests share one wait).
  expect(await total("rro_token_refreshes_total", { outcome: "refreshed" })).toBe(1);
  expect(await total("rro_token_refreshes_total", { outcome: "by_another_request" })).toBe(1);
  expect(await total("rro_refresh_lock_wait_seconds_count")).toBe(1);
});

it("a revoked refresh token ends the session cleanly and sends the person to sign in", async () => {
  const { cookie, key, record } = await signedInWithExpiringToken();
  const revoked = await fetch(`${proxy.url}/token/revocation`, {
    method: "POST",
    headers: {
      Authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ token: record.refreshToken, token_type_hint: "refresh_token" }),
  });
  expect(revoked.status).toBe(200);
  const response = await get(apps[1]!, cookie);
  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toMatch(/^\/login\?returnTo=/);
  expect(await redis.client.exists(key)).toBe(0);
  expect(apps[1]!.output()).toContain("refused the refresh token (invalid_grant)");
  expect(await total("rro_token_refreshes_total", { outcome: "refused" })).toBe(1);
  expect(await total("rro_sessions_ended_total", { reason: "refresh_refused" })).toBe(1);
});

it("a provider outage during refresh is a 503 that keeps the session, which refreshes once the provider is back", async () => {
  const { cookie, key } = await signedInWithExpiringToken();
  proxy.failToken = true;
  const down = await get(apps[0]!, cookie);
  expect(down.status).toBe(503);
  expect(await down.text()).toContain("cannot be reached right now. Nothing was lost");
  expect(await redis.client.exists(key)).toBe(1);
  expect(await total("rro_token_refreshes_total", { outcome: "unavailable" })).toBe(1);
  proxy.failToken = false;
  expect((await get(apps[0]!, cookie)).status).toBe(200);
  expect(JSON.parse((await redis.client.get(key))!).accessTokenExpiresAt).toBeGreaterThan(
    Math.floor(Date.now() / 1000) + 500,
  );
});
