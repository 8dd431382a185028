/**
 * `npm run dev` with no configuration at all: the server starts the local
 * Redis from redis/ and the embedded development provider, generates a
 * session secret, and a person can sign in and out.
 */
import { afterAll, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import { confirmProviderLogout, postLogout, signIn } from "./support/flows.ts";
import { freePort } from "./support/ports.ts";
import { startApp, type App } from "./support/stack.ts";

let app: App | undefined;
afterAll(async () => {
  await app?.stop();
});

it("brings up Redis, the development provider and the app from nothing", async () => {
  const providerPort = await freePort();
  app = await startApp({
    NODE_ENV: "development",
    DEV_OIDC_PORT: String(providerPort),
    // As on a fresh machine: no REDIS_URL, no OIDC_*, no SESSION_SECRET.
    REDIS_URL: "",
    OIDC_CLIENT_ID: "",
    OIDC_CLIENT_SECRET: "",
    SESSION_SECRET: "",
  });
  const output = app.output();
  expect(output).toMatch(/Redis (started from redis\/redis.conf|already answering) on redis:\/\/127\.0\.0\.1:6380|reusing the Redis already answering on redis:\/\/127\.0\.0\.1:6380/);
  expect(output).toContain(`development OpenID provider at http://127.0.0.1:${providerPort}`);
  expect(output).toContain("SESSION_SECRET is not set");

  const discovery = await (await fetch(`http://127.0.0.1:${providerPort}/.well-known/openid-configuration`)).json();
  expect(discovery.end_session_endpoint).toBe(`http://127.0.0.1:${providerPort}/session/end`);

  const browser = new Browser();
  const { landed } = await signIn(browser, app.url, "alice", "alice-password");
  expect(landed.url).toBe(`${app.url}/account`);
  expect(landed.html).toContain("Alice Example");

  const logout = await postLogout(browser, app.url);
  const back = await confirmProviderLogout(browser, await browser.navigate(logout.headers.get("Location")!));
  expect(back.html).toContain('data-notice="provider"');
});
