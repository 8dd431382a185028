/**
 * Interop with providers that behave unlike oidc-provider, imitated by the
 * development provider (Glewlwyd 2.7 and LemonLDAP::NG 2.16 were seen to do
 * each of these): Basic client credentials compared without form-decoding, a
 * SameSite=Lax session cookie at a POST end-session endpoint, and identity
 * claims only in userinfo. A proxy in front of the provider counts its
 * requests and can rewrite or fail its answers. Real Redis, real Chromium
 * where the browser's cookie rules are the point.
 */
import type { Browser as Chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import { launchChromium } from "./support/chromium.ts";
import {
  confirmProviderLogout,
  isLoginForm,
  postLogout,
  SESSION_COOKIE,
  signIn,
  startSignIn,
  submitLogin,
} from "./support/flows.ts";
import { readSession, sessionKeys } from "./support/redis-keys.ts";
import { type App, startProxiedStack } from "./support/stack.ts";

type Stack = Awaited<ReturnType<typeof startProxiedStack>>;

/** Lines the app logged (JSON) whose message matches. */
function logged(app: App, pattern: RegExp) {
  return app
    .stdout()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { level: string; msg: string; code?: string })
    .filter((entry) => pattern.test(entry.msg));
}

/** The sign-in that ends on the app's error page: status and code, and nothing stored. */
async function failedSignIn(stack: Stack) {
  const browser = new Browser();
  const page = await submitLogin(browser, await startSignIn(browser, stack.app.url), "alice", "alice-password");
  expect(page.url).toMatch(new RegExp(`^${stack.app.url}/auth/callback\\?`));
  expect(page.hops.at(-1)!.setCookies).toEqual([]);
  expect(page.html).not.toMatch(/\bat .*\.(ts|js):\d+/);
  return { status: page.status, code: /data-code="([a-z_]+)"/.exec(page.html)?.[1], html: page.html };
}

describe("a provider that compares Basic credentials without form-decoding them", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startProxiedStack({ rawBasicCredentials: true });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("signs in by default: client_secret_basic is refused once, client_secret_post is kept for the process", async () => {
    stack.proxy.resetCounts();
    const first = await signIn(new Browser(), stack.app.url);
    expect(first.landed.url).toBe(`${stack.app.url}/account`);
    expect(first.landed.html).toContain("Alice Example");
    expect(stack.proxy.count("/token")).toBe(2); // Basic refused (401), then the same code by POST

    stack.proxy.resetCounts();
    const second = await signIn(new Browser(), stack.app.url, "erin");
    expect(second.landed.url).toBe(`${stack.app.url}/account`);
    expect(stack.proxy.count("/token")).toBe(1); // straight to client_secret_post

    const warnings = logged(stack.app, /accepted client_secret_post/);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.level).toBe("warn");
    // The ID token carries the identity claims here: no userinfo request.
    expect(stack.proxy.count("/me")).toBe(0);
  });

  it("with OIDC_TOKEN_AUTH_METHOD=client_secret_basic set, does not second-guess it: a refusal names the client credentials, not an outage", async () => {
    await stack.restartApp({ OIDC_TOKEN_AUTH_METHOD: "client_secret_basic" });
    const keysBefore = await sessionKeys(stack.redis.client);
    stack.proxy.resetCounts();
    const failed = await failedSignIn(stack);
    expect(failed.status).toBe(500);
    expect(failed.code).toBe("client_authentication_failed");
    expect(failed.html).toContain("refused this app&#x27;s client credentials");
    expect(failed.html).toContain("OIDC_CLIENT_SECRET");
    expect(failed.html).not.toContain("cannot be reached");
    expect(stack.proxy.count("/token")).toBe(1);
    expect(logged(stack.app, /^\[sign-in\] client_authentication_failed/)[0]?.level).toBe("error");
    // The pre-sign-in record is the only one, and it is left for the browser that owns it.
    expect((await sessionKeys(stack.redis.client)).length).toBeLessThanOrEqual(keysBefore.length + 1);
  });

  it("a client secret refused both ways is client_authentication_failed, after one try each way", async () => {
    await stack.restartApp({ OIDC_CLIENT_SECRET: "not-the-registered-secret-0123456789" });
    stack.proxy.resetCounts();
    const failed = await failedSignIn(stack);
    expect([failed.status, failed.code]).toEqual([500, "client_authentication_failed"]);
    expect(stack.proxy.count("/token")).toBe(2);
    await stack.restartApp({});
  });
});

describe("logout by POST to a provider whose session cookie is SameSite=Lax", () => {
  let stack: Stack;
  let chromium: Chromium;
  beforeAll(async () => {
    [stack, chromium] = await Promise.all([
      startProxiedStack({ laxEndSessionPost: true }, { OIDC_END_SESSION_METHOD: "post" }),
      launchChromium(),
    ]);
  });
  afterAll(async () => {
    await chromium?.close();
    await stack?.stop();
  });

  it("warns at start-up that the method needs a SameSite=None provider cookie", () => {
    const warning = logged(stack.app, /OIDC_END_SESSION_METHOD=post/);
    expect(warning[0]?.level).toBe("warn");
    expect(warning[0]?.msg).toContain("SameSite=Lax");
  });

  it("says only that the provider sent the browser back, which is all it knows: the provider's session lives on", async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    const providerPages: string[] = [];
    page.on("request", (r) => r.url().includes("/interaction/") && providerPages.push(r.url()));

    await page.goto(`${stack.app.url}/login`);
    await page.getByRole("button", { name: /Sign in with/ }).click();
    await page.fill('input[name="username"]', "alice");
    await page.fill('input[name="password"]', "alice-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${stack.app.url}/account`);

    // The logout page posts the form to the provider by itself (cross-site: the provider's Lax cookie stays home).
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(new RegExp(`^${stack.app.url}/\\?state=`));
    const notice = page.locator("[data-notice]");
    expect(await notice.getAttribute("data-notice")).toBe("provider-returned");
    expect(await notice.textContent()).toContain("cannot tell whether your session there has ended");
    expect(await context.cookies(stack.app.url)).toEqual([]);

    // And indeed: signing in again goes through without the provider asking for a password.
    providerPages.length = 0;
    await page.getByRole("link", { name: "Sign in" }).click();
    await page.getByRole("button", { name: /Sign in with/ }).click();
    await page.waitForURL(`${stack.app.url}/account`);
    expect(providerPages).toEqual([]);
    await context.close();
  });
});

describe("logout by redirect with an enterprise-sized ID token", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startProxiedStack({}, { OIDC_LOGOUT_HINT_CLAIM: "sid" });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("sends logout_hint and client_id instead of an id_token_hint too large for a URL, and the provider's session ends", async () => {
    const browser = new Browser();
    await signIn(browser, stack.app.url, "groups-400");
    const record = (await readSession(stack.redis.client, browser.cookie(stack.app.url, SESSION_COOKIE)!))!;
    expect(record.idToken.length).toBeGreaterThan(20_000);

    const logout = await postLogout(browser, stack.app.url);
    const location = logout.headers.get("Location")!;
    const endSession = new URL(location);
    expect(Buffer.byteLength(location)).toBeLessThan(2000);
    expect(endSession.searchParams.has("id_token_hint")).toBe(false);
    expect(endSession.searchParams.get("logout_hint")).toBe(record.sid);
    expect(endSession.searchParams.get("client_id")).toBeTruthy();

    const back = await confirmProviderLogout(browser, await browser.navigate(location));
    expect(back.html).toContain('data-notice="provider"');
    expect(isLoginForm(await startSignIn(browser, stack.app.url))).toBe(true); // the provider asks again
  });
});

describe("a provider that puts the identity claims only in userinfo", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startProxiedStack({ identityClaimsInUserinfoOnly: true });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("fetches userinfo once at sign-in and keeps the person's name and e-mail in the session", async () => {
    stack.proxy.resetCounts();
    const browser = new Browser();
    const { landed } = await signIn(browser, stack.app.url);
    expect(landed.html).toContain('data-testid="user-name">Alice Example<');
    expect(landed.html).not.toContain('data-notice="profile-incomplete"');
    const record = (await readSession(stack.redis.client, browser.cookie(stack.app.url, SESSION_COOKIE)!))!;
    expect(record.user).toEqual({
      sub: "alice",
      name: "Alice Example",
      email: "alice@example.com",
      preferredUsername: "alice",
    });
    expect(stack.proxy.count("/me")).toBe(1);
    stack.proxy.resetCounts();
    expect((await browser.request(`${stack.app.url}/account`)).status).toBe(200);
    expect(stack.proxy.count("/me")).toBe(0); // once per sign-in, never per request
  });

  it("refuses a userinfo response about another user (OpenID Connect Core 5.3.2): no session", async () => {
    stack.proxy.tamperJson("/me", (body) => ({ ...body, sub: "mallory" }));
    try {
      const keysBefore = (await sessionKeys(stack.redis.client)).length;
      const failed = await failedSignIn(stack);
      expect([failed.status, failed.code]).toEqual([400, "userinfo_subject_mismatch"]);
      expect((await sessionKeys(stack.redis.client)).length).toBeLessThanOrEqual(keysBefore + 1); // the pre-sign-in record at most
      expect(failed.html).not.toContain("mallory");
    } finally {
      stack.proxy.tamperJson("/me", undefined);
    }
  });

  it("signs in on the ID token alone when userinfo fails, and says so on the page and in the log", async () => {
    stack.proxy.fail("/me", 503);
    try {
      const { landed } = await signIn(new Browser(), stack.app.url);
      expect(landed.url).toBe(`${stack.app.url}/account`);
      expect(landed.html).toContain('data-notice="profile-incomplete"');
      expect(landed.html).toContain('data-testid="user-name">alice<');
      expect(logged(stack.app, /userinfo could not be fetched/)[0]?.level).toBe("warn");
    } finally {
      stack.proxy.fail("/me", 0);
    }
  });

  it("OIDC_USERINFO=never: no userinfo request, the person is shown as the ID token names them", async () => {
    await stack.restartApp({ OIDC_USERINFO: "never" });
    stack.proxy.resetCounts();
    const { landed } = await signIn(new Browser(), stack.app.url);
    expect(landed.html).toContain('data-testid="user-name">alice<');
    expect(stack.proxy.count("/me")).toBe(0);
    await stack.restartApp({});
  });
});
