/**
 * `npm run dev` with no configuration at all: the server starts the local
 * Redis from redis/ and the embedded development provider, generates a
 * session secret, and a person can sign in and out.
 */
import { afterAll, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import { confirmProviderLogout, postLogout, signIn } from "./support/flows.ts";
import { freePort } from "./support/ports.ts";
import net from "node:net";
import { startApp, startTestRedis, type App, type TestRedis } from "./support/stack.ts";

let app: App | undefined;
let redis: TestRedis | undefined;
afterAll(async () => {
  await app?.stop();
  await redis?.stop();
});

/** Whether something (a developer's `npm run dev`, say) already listens on the local Redis port. */
const portInUse = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });

it("brings up Redis, the development provider and the app from nothing", async () => {
  const providerPort = await freePort();
  // On a clean machine (CI) the server starts Redis from redis/ itself; where port 6380
  // is already taken, leave that Redis and its data alone and use a throwaway one.
  const localPortBusy = await portInUse(6380);
  if (localPortBusy) redis = await startTestRedis();
  app = await startApp({
    NODE_ENV: "development",
    DEV_OIDC_PORT: String(providerPort),
    // As on a fresh machine: no REDIS_URL, no OIDC_*, no SESSION_SECRET.
    REDIS_URL: redis?.url ?? "",
    OIDC_CLIENT_ID: "",
    OIDC_CLIENT_SECRET: "",
    SESSION_SECRET: "",
  });
  const output = app.output();
  if (!localPortBusy) expect(output).toContain("Redis started from redis/redis.conf on redis://127.0.0.1:6380");
  expect(output).toContain(`development OpenID provider at http://127.0.0.1:${providerPort}`);
  expect(output).toContain("SESSION_SECRET is not set");
  // A calm start: no deprecation warning (Remix's future flags are all on), and lines a person can read.
  if (process.env.DEBUG_DEV_SERVER) console.log(output);
  expect(output).not.toMatch(/deprecat|single fetch|future flag/i);
  const listening = output.split("\n").find((line) => line.includes("app listening"))!;
  expect(listening).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO.*\[server\] app listening/);
  expect(() => JSON.parse(listening)).toThrow();

  const discovery = await (await fetch(`http://127.0.0.1:${providerPort}/.well-known/openid-configuration`)).json();
  expect(discovery.end_session_endpoint).toBe(`http://127.0.0.1:${providerPort}/session/end`);

  const browser = new Browser();
  const { loginForm, landed } = await signIn(browser, app.url, "alice", "alice-password");
  expect(landed.url).toBe(`${app.url}/account`);
  // The development provider offers pushed authorization requests, so the default OIDC_PAR=auto pushed this one.
  const authorize = new URL(loginForm.hops.find((hop) => hop.url.includes("/auth?"))!.url);
  expect([...authorize.searchParams.keys()].sort()).toEqual(["client_id", "request_uri"]);
  expect(landed.html).toContain("Alice Example");

  const logout = await postLogout(browser, app.url);
  const back = await confirmProviderLogout(browser, await browser.navigate(logout.headers.get("Location")!));
  expect(back.html).toContain('data-notice="provider"');
});
