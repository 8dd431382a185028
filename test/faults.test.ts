/**
 * Faults: Redis going away and coming back, the provider unreachable at
 * start-up, at sign-in and at logout, and an app restart.
 */
import { afterAll, describe, expect, it } from "vitest";
import { startDevProvider, type DevProvider } from "../server/dev-oidc-provider/index.ts";
import { Browser } from "./support/browser.ts";
import { postLogout, SESSION_COOKIE, signIn } from "./support/flows.ts";
import { freePort } from "./support/ports.ts";
import { sessionKey } from "./support/redis-keys.ts";
import { until } from "./support/until.ts";
import {
  CLIENT_ID,
  CLIENT_SECRET,
  startApp,
  startStack,
  startTestRedis,
  type App,
  type TestRedis,
} from "./support/stack.ts";

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe("Redis outage", () => {
  it("answers 503 quickly while Redis is down, refuses to pretend a logout worked, and recovers by itself", async () => {
    const stack = await startStack();
    cleanups.push(stack.stop);
    const browser = new Browser();
    await signIn(browser, stack.app.url);
    const key = sessionKey(browser.cookie(stack.app.url, SESSION_COOKIE)!);

    await stack.redis.server.stop();
    const started = Date.now();
    const down = await browser.request(`${stack.app.url}/account`);
    expect(down.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(down.headers.get("Retry-After")).toBe("5");
    const html = await down.text();
    expect(html).toContain("The session store is unreachable right now");
    expect(html).not.toMatch(/\bat .*\.(ts|js):\d+/);

    // A visitor without a session still gets the public page.
    expect((await fetch(`${stack.app.url}/`)).status).toBe(200);

    // Logout during the outage is a 503 that clears nothing, rather than a half-done logout.
    const logout = await postLogout(browser, stack.app.url);
    expect(logout.status).toBe(503);
    expect(logout.headers.getSetCookie()).toEqual([]);

    await stack.redis.restart();
    const back = Date.now();
    const recovered = await until(async () => (await browser.request(`${stack.app.url}/account`)).status === 200, 5000);
    expect(recovered).toBe(true);
    expect(Date.now() - back).toBeLessThan(2000);
    // The session written before the outage survived the Redis restart (append-only file).
    expect(await stack.redis.client.exists(key)).toBe(1);
    expect(stack.app.process.exitCode).toBeNull();
  });
});

describe("provider unreachable", () => {
  let redis: TestRedis;
  let app: App;
  let provider: DevProvider | undefined;

  it("at start-up: the app starts and says so; sign-in gives a clear 503; it works once the provider answers", async () => {
    redis = await startTestRedis();
    cleanups.push(() => redis.stop());
    const providerPort = await freePort();
    const appPort = await freePort();
    app = await startApp({ REDIS_URL: redis.url, OIDC_ISSUER: `http://127.0.0.1:${providerPort}` }, appPort);
    cleanups.push(() => app.stop());
    expect(await until(async () => app.output().includes("could not be fetched"), 5000)).toBe(true);

    const browser = new Browser();
    const page = await browser.navigate(`${app.url}/login?returnTo=%2Faccount`, {
      method: "POST",
      headers: { Origin: app.url },
    });
    expect(page.status).toBe(503);
    expect(page.html).toContain("The sign-in provider cannot be reached right now");

    provider = await startDevProvider({
      port: providerPort,
      client: {
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        redirectUris: [`${app.url}/auth/callback`],
        postLogoutRedirectUris: [`${app.url}/`],
      },
      log: () => {},
    });
    cleanups.push(() => provider!.close());
    // A failed discovery is retried after a short pause, not on every request.
    await new Promise((r) => setTimeout(r, 2100));
    const { landed } = await signIn(browser, app.url);
    expect(landed.url).toBe(`${app.url}/account`);
  });

  it("sessions survive an app restart; logout with the provider unreachable still ends the app session and says so", async () => {
    const browser = new Browser();
    await signIn(browser, app.url);
    const key = sessionKey(browser.cookie(app.url, SESSION_COOKIE)!);
    await provider!.close();
    await app.stop();
    app = await startApp({ REDIS_URL: redis.url, OIDC_ISSUER: provider!.issuer }, app.port);
    cleanups.push(() => app.stop());

    expect((await browser.request(`${app.url}/account`)).status).toBe(200);

    const logout = await postLogout(browser, app.url);
    expect(logout.headers.get("Location")).toBe("/?logout=provider-unreachable");
    expect(await redis.client.exists(key)).toBe(0);
    const page = await browser.navigate(`${app.url}/?logout=provider-unreachable`);
    expect(page.html).toContain("could not be reached to end your session there");
  });
});
