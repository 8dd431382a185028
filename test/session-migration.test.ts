/**
 * From cookie sessions to Redis without signing anyone out
 * (SESSION_MIGRATION=cookie). People sign in while the app runs the cookie
 * design; the app restarts on Redis with migration on; then, in real
 * Chromium, the same browser is still signed in without visiting the
 * provider, holds a small cookie, and logs out of both sessions, after which
 * the copied legacy cookie is refused. Each refusal (expired, tampered, wrong
 * secret, past the absolute lifetime, replayed) and the Redis fault are tested
 * over HTTP, and the journey also runs through nginx with default buffers.
 */
import { createCookie } from "@remix-run/node";
import type { Browser as Chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import { launchChromium } from "./support/chromium.ts";
import { SESSION_COOKIE, signIn } from "./support/flows.ts";
import { freePort } from "./support/ports.ts";
import { startNginx } from "./support/nginx.ts";
import { readSession, sessionKeys } from "./support/redis-keys.ts";
import { scrape } from "./support/metrics.ts";
import { restartApp, SESSION_SECRET, startStack, type Stack } from "./support/stack.ts";
import { until } from "./support/until.ts";

let stack: Stack;
let chromium: Chromium;
const legacy = createCookie(SESSION_COOKIE, { secrets: [SESSION_SECRET] });
/** Legacy cookies of people signed in while the app ran the cookie design, by username. */
const legacyCookies = new Map<string, string>();
const METRICS_TOKEN = "metrics-token-0123456789abcdef0123456789";
const MIGRATION = { SESSION_STORE: "redis", SESSION_MIGRATION: "cookie", METRICS_TOKEN };
const metrics = () => scrape(`${direct()}/metrics`, METRICS_TOKEN);

beforeAll(async () => {
  [stack, chromium] = await Promise.all([startStack({ appEnv: { SESSION_STORE: "cookie" } }), launchChromium()]);
  for (const username of ["groups-1", "groups-2", "groups-3", "groups-10"]) {
    const browser = new Browser();
    const { landed } = await signIn(browser, `http://localhost:${stack.app.port}`, username);
    if (!landed.url.endsWith("/account"))
      throw new Error(`sign-in of ${username} failed: ${landed.status} ${landed.url}`);
    legacyCookies.set(username, browser.cookie(`http://localhost:${stack.app.port}`, SESSION_COOKIE)!);
  }
});
afterAll(async () => {
  await chromium?.close();
  await stack?.stop();
});

const direct = () => `http://localhost:${stack.app.port}`;

/** A request with only this Cookie header, not following redirects. */
const visit = (path: string, cookie: string, base = direct()) =>
  fetch(`${base}${path}`, { headers: { Cookie: cookie }, redirect: "manual" });

/** A legacy cookie with its data changed and signed again (with `secrets`). */
async function reSigned(username: string, change: (data: Record<string, unknown>) => void, secrets = [SESSION_SECRET]) {
  const data = (await legacy.parse(`${SESSION_COOKIE}=${legacyCookies.get(username)}`)) as Record<string, unknown>;
  change(data);
  const header = await createCookie(SESSION_COOKIE, { secrets }).serialize(data);
  return header.split(";")[0]!;
}

describe("a browser signed in with the cookie design, after the switch to Redis", () => {
  it("stays signed in without the provider, gets a small cookie, logs out of both, and its old cookie is refused", async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    const providerRequests: string[] = [];
    page.on("request", (r) => r.url().startsWith(stack.provider.issuer) && providerRequests.push(r.url()));
    await page.goto(`${direct()}/login`);
    await page.getByRole("button", { name: /Sign in with/ }).click();
    await page.fill('input[name="username"]', "alice");
    await page.fill('input[name="password"]', "alice-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${direct()}/account`);
    const [cookieDesign] = await context.cookies(direct());
    expect(cookieDesign!.value.length).toBeGreaterThan(1000); // tokens and all, in the cookie

    await restartApp(stack, { ...MIGRATION });
    providerRequests.length = 0;
    await page.goto(`${direct()}/account`);
    expect(new URL(page.url()).pathname).toBe("/account");
    expect(await page.getByTestId("user-name").first().textContent()).toBe("Alice Example");
    expect(providerRequests).toEqual([]); // no trip to the provider
    const jar = await context.cookies(direct());
    expect(jar.map((c) => c.name)).toEqual([SESSION_COOKIE]);
    expect(jar[0]!.value).not.toBe(cookieDesign!.value); // the legacy value is gone from the jar
    expect(Buffer.byteLength(`${jar[0]!.name}=${jar[0]!.value}`)).toBeLessThan(200);
    expect(stack.app.stdout()).toContain("[session-migration] moved a cookie session into Redis");
    const moved = (await readSession(stack.redis.client, jar[0]!.value))!;
    expect(moved.user.sub).toBe("alice");
    expect(moved.idToken.split(".")).toHaveLength(3); // the tokens moved too

    // Logout: the app session and the provider's end.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/session\/end/);
    await page.getByRole("button", { name: "Yes, sign me out" }).click();
    await page.waitForURL(/\?state=/);
    expect(await page.locator("[data-notice]").getAttribute("data-notice")).toBe("provider");
    expect(await readSession(stack.redis.client, jar[0]!.value)).toBeNull();
    await page.goto(`${direct()}/login`);
    await page.getByRole("button", { name: /Sign in with/ }).click();
    await page.waitForURL(/\/interaction\//); // the provider asks again: its session ended
    await context.close();

    // The copied legacy cookie, replayed: no session, nothing created.
    const before = await sessionKeys(stack.redis.client);
    const replay = await visit("/account", `${SESSION_COOKIE}=${cookieDesign!.value}`);
    expect(replay.status).toBe(302);
    expect(replay.headers.get("Location")).toMatch(/^\/login/);
    expect(replay.headers.getSetCookie()).toEqual([]);
    expect(await sessionKeys(stack.redis.client)).toEqual(before);
    expect(stack.app.stdout()).toContain("refused a cookie session that was already moved");
    const m = await metrics();
    expect(m.value("rro_session_migrations_total", { outcome: "moved" })).toBe(1);
    expect(m.value("rro_sessions_created_total", { via: "migration" })).toBe(1);
    expect(m.value("rro_session_migrations_total", { outcome: "already_moved" })).toBe(1);
  });
});

describe("refusals and faults (migration on)", () => {
  beforeAll(async () => {
    await restartApp(stack, MIGRATION);
  });

  it.each([
    ["expired", (d: Record<string, unknown>) => void (d.expiresAt = Math.floor(Date.now() / 1000) - 1)],
    [
      "past the absolute lifetime",
      (d: Record<string, unknown>) => void (d.signedInAt = Math.floor(Date.now() / 1000) - 9 * 3600),
    ],
    ["not signed in", (d: Record<string, unknown>) => void delete d.user],
  ])("a legacy session %s is no session, and nothing is stored", async (_label, change) => {
    const before = await sessionKeys(stack.redis.client);
    const response = await visit("/account", await reSigned("groups-1", change));
    expect([response.status, response.headers.get("Location")?.slice(0, 6)]).toEqual([302, "/login"]);
    expect(await sessionKeys(stack.redis.client)).toEqual(before);
  });

  it("a tampered or wrongly signed legacy cookie is no session", async () => {
    const original = legacyCookies.get("groups-1")!;
    const [value, signature] = decodeURIComponent(original).split(".");
    const data = JSON.parse(Buffer.from(value!, "base64").toString());
    data.user.sub = "mallory"; // the signature no longer matches
    const tampered = `${SESSION_COOKIE}=${encodeURIComponent(`${Buffer.from(JSON.stringify(data)).toString("base64")}.${signature}`)}`;
    const wrongSecret = await reSigned("groups-1", () => {}, ["another-secret-that-is-32-characters-long!"]);
    for (const cookie of [tampered, wrongSecret]) {
      const response = await visit("/account", cookie);
      expect(response.status).toBe(302);
      expect(response.headers.getSetCookie()).toEqual([]);
    }
  });

  it("with Redis down: 503, and the legacy cookie is kept for the next try", async () => {
    await stack.redis.server.stop();
    try {
      const response = await visit("/account", `${SESSION_COOKIE}=${legacyCookies.get("groups-2")}`);
      expect(response.status).toBe(503);
      expect(response.headers.getSetCookie()).toEqual([]);
      expect((await metrics()).value("rro_session_migrations_total", { outcome: "unavailable" })).toBe(1);
    } finally {
      await stack.redis.restart();
    }
    // Once Redis is back (the app reconnects by itself), the same cookie moves.
    const cookie = `${SESSION_COOKIE}=${legacyCookies.get("groups-2")}`;
    let status = 0;
    expect(await until(async () => (status = (await visit("/account", cookie)).status) !== 503, 5000)).toBe(true);
    expect(status).toBe(307);
  });

  it("moves a session whose cookie came in chunks under another name, and clears every chunk", async () => {
    await restartApp(stack, { ...MIGRATION, SESSION_MIGRATION_COOKIE: "legacy_session" });
    const value = legacyCookies.get("groups-3")!;
    const cut = Math.ceil(value.length / 2);
    const chunks = `legacy_session.0=${value.slice(0, cut)}; legacy_session.1=${value.slice(cut)}`;
    const response = await visit("/account?tab=1", chunks);
    expect(response.status).toBe(307);
    expect(response.headers.get("Location")).toBe("/account?tab=1");
    const setCookies = response.headers.getSetCookie();
    expect(setCookies.find((c) => c.startsWith(`${SESSION_COOKIE}=`))).toBeTruthy();
    for (const chunk of ["legacy_session.0", "legacy_session.1"]) {
      expect(setCookies.find((c) => c.startsWith(`${chunk}=;`))).toMatch(/Max-Age=0/);
    }
    const small = setCookies.find((c) => c.startsWith(`${SESSION_COOKIE}=`))!.split(";")[0]!;
    const after = await visit("/account?tab=1", small);
    expect(after.status).toBe(200);
    expect(await after.text()).toContain("Groups 3");
  });

  it("moves a session through nginx with its default buffers, for a user whose legacy cookie fit under them", async () => {
    await restartApp(stack, MIGRATION);
    const nginx = await startNginx({ port: await freePort(), upstreamPort: stack.app.port, buffers: "default" });
    try {
      const browser = new Browser();
      browser.setCookie(nginx.url, SESSION_COOKIE, legacyCookies.get("groups-10")!);
      const page = await browser.navigate(`${nginx.url}/account`);
      expect(page.status).toBe(200);
      expect(page.html).toContain("Groups 10");
      expect(page.hops[0]!.status).toBe(307);
      expect(Buffer.byteLength(`Cookie: ${page.sentCookie}`)).toBeLessThan(200);
      expect(nginx.errorLog()).not.toContain("too big header");
    } finally {
      await nginx.stop();
    }
  });
});
