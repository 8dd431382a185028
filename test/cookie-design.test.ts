/**
 * SESSION_STORE=cookie: the same app with the design the seed post describes
 * (everything, tokens included, in the cookie). Same routes, same sign-in and
 * logout to the provider; what differs is measured here and in `npm run compare`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import {
  confirmProviderLogout,
  postLogout,
  SESSION_COOKIE,
  setCookieFor,
  signIn,
  startSignIn,
  submitLogin,
} from "./support/flows.ts";
import { sessionKeys } from "./support/redis-keys.ts";
import { CLIENT_ID, startStack, type Stack } from "./support/stack.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ appEnv: { SESSION_STORE: "cookie" } });
});
afterAll(async () => {
  await stack?.stop();
});

describe("SESSION_STORE=cookie", () => {
  it("signs in and keeps everything, tokens included, in the cookie and nothing in Redis", async () => {
    const browser = new Browser();
    const { landed } = await signIn(browser, stack.app.url);
    expect(landed.url).toBe(`${stack.app.url}/account`);
    expect(landed.html).toContain("Alice Example");
    const setCookie = setCookieFor(
      landed.hops.find((h) => h.url.includes("/auth/callback"))!.setCookies,
      SESSION_COOKIE,
    )!;
    expect(Buffer.byteLength(setCookie)).toBeGreaterThan(1000);
    const payload = JSON.parse(
      Buffer.from(
        decodeURIComponent(browser.cookie(stack.app.url, SESSION_COOKIE)!).split(".")[0]!,
        "base64",
      ).toString(),
    );
    expect(payload.idToken.split(".")).toHaveLength(3);
    expect(payload.refreshToken).toBeTruthy();
    expect(await sessionKeys(stack.redis.client)).toEqual([]);
  });

  it("logs out at the provider too, but a cookie copied before logout still signs in (it cannot be revoked)", async () => {
    const browser = new Browser();
    await signIn(browser, stack.app.url);
    const copied = browser.cookie(stack.app.url, SESSION_COOKIE)!;
    const logout = await postLogout(browser, stack.app.url);
    const endSession = new URL(logout.headers.get("Location")!);
    expect(endSession.searchParams.get("client_id")).toBe(CLIENT_ID);
    expect(endSession.searchParams.get("id_token_hint")).toBeTruthy();
    expect(browser.cookie(stack.app.url, SESSION_COOKIE)).toBeUndefined();
    const back = await confirmProviderLogout(browser, await browser.navigate(endSession.href));
    expect(back.html).toContain('data-notice="provider"');

    const replay = new Browser();
    replay.setCookie(stack.app.url, SESSION_COOKIE, copied);
    expect((await replay.request(`${stack.app.url}/account`)).status).toBe(200);
  });

  it("reports a session too large for a cookie as a clear error page, not a crash", async () => {
    const browser = new Browser();
    const page = await submitLogin(
      browser,
      await startSignIn(browser, stack.app.url),
      "groups-50",
      "groups-50-password",
    );
    expect(page.status).toBe(500);
    expect(page.html).toContain('data-code="session_too_large"');
    expect(page.html).toMatch(/does not fit in a cookie: browsers keep at most 4096 bytes/);
    expect(page.html).not.toMatch(/\bat .*\.(ts|js):\d+/);
    expect(stack.app.process.exitCode).toBeNull();
    expect((await browser.request(`${stack.app.url}/account`)).status).toBe(302); // no session
  });
});
