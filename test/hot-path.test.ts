/**
 * The Redis design's cookie and hot path: under 200 bytes at every token size,
 * and a request that does not change the session costs exactly one Redis
 * command (GETEX), no write and no Set-Cookie (counted with INFO commandstats).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import { SESSION_COOKIE, setCookieFor, signIn, startSignIn, submitLogin } from "./support/flows.ts";
import { startStack, type Stack } from "./support/stack.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

/** Calls per command since the last CONFIG RESETSTAT, without the test's own INFO/CONFIG calls. */
async function commandCalls(): Promise<Record<string, number>> {
  const info = await stack.redis.client.info("commandstats");
  const calls: Record<string, number> = {};
  for (const [, name, count] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (!/^(info|config)\b/.test(name!)) calls[name!] = Number(count);
  }
  return calls;
}

it.each([0, 10, 50, 150, 400])("keeps Set-Cookie and Cookie under 200 bytes with %i group claims", async (groups) => {
  const browser = new Browser();
  const { landed } = await signIn(browser, stack.app.url, `groups-${groups}`);
  expect(landed.html).toMatch(new RegExp(`data-testid="group-count">${groups}<`));
  const setCookie = setCookieFor(
    landed.hops.find((h) => h.url.includes("/auth/callback"))!.setCookies,
    SESSION_COOKIE,
  )!;
  expect(Buffer.byteLength(`Set-Cookie: ${setCookie}`)).toBeLessThan(200);
  expect(Buffer.byteLength(`Cookie: ${landed.sentCookie}`)).toBeLessThan(200);
});

it("serves a signed-in request that changes nothing with one GETEX, no write, no Set-Cookie", async () => {
  const browser = new Browser();
  await signIn(browser, stack.app.url, "groups-50");
  await stack.redis.client.config("RESETSTAT");
  for (let i = 0; i < 5; i++) {
    const response = await browser.request(`${stack.app.url}/account`);
    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie()).toEqual([]);
  }
  expect(await commandCalls()).toEqual({ getex: 5 });
});

it("a change to the session is what writes: sign-in is one read, one delete, one transaction", async () => {
  const browser = new Browser();
  const loginForm = await startSignIn(browser, stack.app.url);
  await stack.redis.client.config("RESETSTAT");
  await submitLogin(browser, loginForm, "alice", "alice-password");
  // Callback: GETEX (flow); one MULTI deleting the pre-sign-in record (DEL; it has no index entries);
  // one MULTI creating the session (SET NX) and adding it to its sub and sid indexes (ZADD, prune,
  // EXPIRE each); then GETEX for /account.
  expect(await commandCalls()).toEqual({
    getex: 2,
    multi: 2,
    del: 1,
    exec: 2,
    set: 1,
    zadd: 2,
    zremrangebyscore: 2,
    expire: 2,
  });
});
