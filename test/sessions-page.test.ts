/**
 * Sessions a person can see and end, with independent cookie jars: the list
 * (current one marked, browser, approximate address), ending one other
 * session, all others, or everywhere (at the provider too); never another
 * user's session (a 404 that says so); listing does not keep other sessions alive.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import { SESSION_COOKIE, signIn } from "./support/flows.ts";
import { sessionKey } from "./support/redis-keys.ts";
import { scrape } from "./support/metrics.ts";
import { startStack, type Stack } from "./support/stack.ts";

const METRICS_TOKEN = "metrics-token-0123456789abcdef0123456789";
const revoked = async () =>
  (await scrape(`${stack.app.url}/metrics`, METRICS_TOKEN)).value("rro_sessions_ended_total", { reason: "revoked" });

const FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SAFARI =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ appEnv: { METRICS_TOKEN } });
});
afterAll(async () => {
  await stack?.stop();
});

async function browserSignedIn(userAgent: string, username = "alice") {
  const browser = new Browser(userAgent);
  await signIn(browser, stack.app.url, username);
  return { browser, key: sessionKey(browser.cookie(stack.app.url, SESSION_COOKIE)!) };
}
const accountStatus = async (browser: Browser) => (await browser.request(`${stack.app.url}/account`)).status;
const sessionsPage = (browser: Browser) => browser.navigate(`${stack.app.url}/sessions`);
const rows = (html: string) =>
  [...html.matchAll(/<tr data-current="(yes|no)">([\s\S]*?)<\/tr>/g)].map((m) => ({
    current: m[1] === "yes",
    html: m[2]!,
  }));
const handles = (html: string) => [...html.matchAll(/name="handle" value="([^"]+)"/g)].map((m) => m[1]!);
const post = (browser: Browser, form: Record<string, string>) =>
  browser.request(`${stack.app.url}/sessions`, { method: "POST", headers: { Origin: stack.app.url }, form });

it("lists this person's sessions, the current one marked, with browser and approximate address", async () => {
  const a = await browserSignedIn(FIREFOX, "groups-3");
  await browserSignedIn(SAFARI, "groups-3");
  await browserSignedIn(FIREFOX, "groups-4"); // another person: not listed
  const list = rows((await sessionsPage(a.browser)).html);
  expect(list).toHaveLength(2);
  expect(list[0]!.current).toBe(true);
  expect(list[0]!.html).toContain("Firefox on Linux");
  expect(list[1]!.html).toContain("Safari on macOS");
  expect(list[0]!.html).toMatch(/127\.0\.0\.0|::1|::ffff/);
});

it("ends one other session: that browser is signed out at its next request, this one is not", async () => {
  const a = await browserSignedIn(FIREFOX, "groups-5");
  const b = await browserSignedIn(SAFARI, "groups-5");
  const [other] = handles((await sessionsPage(a.browser)).html);
  const ended = await post(a.browser, { intent: "end", handle: other! });
  expect(ended.headers.get("Location")).toBe("/sessions?ended=1");
  expect(await stack.redis.client.exists(b.key)).toBe(0);
  expect(await accountStatus(b.browser)).toBe(302);
  expect(await accountStatus(a.browser)).toBe(200);
});

it("ends all other sessions", async () => {
  const a = await browserSignedIn(FIREFOX, "groups-6");
  const b = await browserSignedIn(SAFARI, "groups-6");
  const c = await browserSignedIn(SAFARI, "groups-6");
  const before = await revoked();
  expect((await post(a.browser, { intent: "end-others" })).headers.get("Location")).toBe("/sessions?ended=2");
  expect((await revoked()) - before).toBe(2);
  expect([await accountStatus(b.browser), await accountStatus(c.browser), await accountStatus(a.browser)]).toEqual([
    302, 302, 200,
  ]);
});

it("signs out everywhere, ending the provider session from this browser too", async () => {
  const a = await browserSignedIn(FIREFOX, "groups-7");
  const b = await browserSignedIn(SAFARI, "groups-7");
  const response = await post(a.browser, { intent: "end-everywhere" });
  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toMatch(new RegExp(`^${stack.provider.issuer}/session/end\\?`));
  expect(await stack.redis.client.exists(a.key)).toBe(0);
  expect(await stack.redis.client.exists(b.key)).toBe(0);
});

it("cannot end another person's session, even with its real handle", async () => {
  const mine = await browserSignedIn(FIREFOX, "groups-8");
  const theirs = await browserSignedIn(SAFARI, "groups-9");
  // The handle their own sessions page would show for that session (sha256 of the id, base64url, 16 characters).
  const theirId = theirs.key.replace(/^rro:sess:\{(.*)\}$/, "$1");
  const theirHandle = createHash("sha256").update(theirId).digest("base64url").slice(0, 16);
  const response = await post(mine.browser, { intent: "end", handle: theirHandle });
  expect(response.status).toBe(404);
  expect(await response.text()).toMatch(/not one of your other sessions[\s\S]*Nothing was changed/);
  expect(await stack.redis.client.exists(theirs.key)).toBe(1);
  expect(await accountStatus(theirs.browser)).toBe(200);
});

it("listing sessions does not keep the other sessions alive", async () => {
  const a = await browserSignedIn(FIREFOX, "groups-11");
  const b = await browserSignedIn(SAFARI, "groups-11");
  await stack.redis.client.expire(b.key, 100);
  await sessionsPage(a.browser);
  expect(await stack.redis.client.ttl(b.key)).toBeLessThanOrEqual(100);
});
