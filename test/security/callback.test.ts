/**
 * Hostile callbacks end on the sign-in error page with a precise code and
 * create nothing: a missing, forged or reused `state`, a missing or replayed
 * code, a provider error with a hostile description (escaped), and a response
 * naming another issuer, or none, though the provider announces RFC 9207's
 * `iss` parameter (mix-up). Each leaves Redis as it was, with no stack trace
 * and no secret in the answer or the app's output.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser, type Page } from "../support/browser.ts";
import { SESSION_COOKIE, signIn, startSignIn, submitLogin } from "../support/flows.ts";
import { sessionKey, readSession } from "../support/redis-keys.ts";
import { startStack, type Stack } from "../support/stack.ts";
import { expectHarmless, snapshot } from "./assertions.ts";
import { realCallbackUrl } from "./callback-url.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

/** The sign-in error page: its status and `data-code`, with no Set-Cookie on the callback. */
function expectSignInFailed(page: Page, status: number, code: string) {
  expect(page.status).toBe(status);
  expect(page.url).toMatch(new RegExp(`^${stack.app.url}/auth/callback\\?`));
  expect(page.html).toContain(`data-code="${code}"`);
  expect(page.html).toContain("No session was created.");
  expect(page.hops.at(-1)!.setCookies).toEqual([]);
}

/** The state of the flow this browser started (read from its pre-sign-in record). */
async function flowState(browser: Browser) {
  const record = (await readSession(stack.redis.client, browser.cookie(stack.app.url, SESSION_COOKIE)!))!;
  return Object.keys(record.flows)[0]!;
}

describe("state", () => {
  it("a callback without state is refused", async () => {
    const before = await snapshot(stack);
    const page = await new Browser().navigate(`${stack.app.url}/auth/callback?code=abc`);
    expectSignInFailed(page, 400, "missing_state");
    expect(page.hops).toHaveLength(1);
    await expectHarmless(stack, before, page.html);
  });

  it("a forged state is refused, and the real sign-in in progress still completes", async () => {
    const browser = new Browser();
    const loginForm = await startSignIn(browser, stack.app.url);
    const before = await snapshot(stack);
    const forged = await browser.navigate(
      `${stack.app.url}/auth/callback?code=abc&state=forged&iss=${encodeURIComponent(stack.provider.issuer)}`,
    );
    expectSignInFailed(forged, 400, "unknown_state");
    await expectHarmless(stack, before, forged.html, [browser.cookie(stack.app.url, SESSION_COOKIE)]);
    const landed = await submitLogin(browser, loginForm, "alice", "alice-password");
    expect(landed.url).toBe(`${stack.app.url}/account`);
  });

  it("a used state is refused: from a copy of the pre-sign-in cookie, and from a fresh browser", async () => {
    const browser = new Browser();
    const loginForm = await startSignIn(browser, stack.app.url);
    const preSignIn = browser.cookie(stack.app.url, SESSION_COOKIE)!;
    const landed = await submitLogin(browser, loginForm, "alice", "alice-password");
    expect(landed.url).toBe(`${stack.app.url}/account`);
    const callbackUrl = landed.hops.find((h) => h.url.includes("/auth/callback"))!.url;
    const signedIn = browser.cookie(stack.app.url, SESSION_COOKIE)!;

    const before = await snapshot(stack);
    const copy = new Browser();
    copy.setCookie(stack.app.url, SESSION_COOKIE, preSignIn);
    const fromCopy = await copy.navigate(callbackUrl);
    expectSignInFailed(fromCopy, 400, "unknown_state");
    const fromStranger = await new Browser().navigate(callbackUrl);
    expectSignInFailed(fromStranger, 400, "unknown_state");
    // The browser that signed in just goes on to its account, with no new session.
    const again = await browser.navigate(callbackUrl);
    expect(again.url).toBe(`${stack.app.url}/account`);
    expect(browser.cookie(stack.app.url, SESSION_COOKIE)).toBe(signedIn);
    await expectHarmless(stack, before, [fromCopy.html, fromStranger.html, again.html], [signedIn, preSignIn]);
  });
});

describe("code", () => {
  it("a callback without a code is refused", async () => {
    const browser = new Browser();
    await startSignIn(browser, stack.app.url);
    const state = await flowState(browser);
    const before = await snapshot(stack);
    const page = await browser.navigate(
      `${stack.app.url}/auth/callback?${new URLSearchParams({ state, iss: stack.provider.issuer })}`,
    );
    expectSignInFailed(page, 400, "invalid_response");
    expect(page.html).toContain("no authorization code");
    await expectHarmless(stack, before, page.html);
  });

  it("a replayed code is refused by the provider (invalid_grant), even with the pre-sign-in record restored", async () => {
    const browser = new Browser();
    const loginForm = await startSignIn(browser, stack.app.url);
    const preCookie = browser.cookie(stack.app.url, SESSION_COOKIE)!;
    const preRecord = await stack.redis.client.get(sessionKey(preCookie));
    const landed = await submitLogin(browser, loginForm, "alice", "alice-password");
    const callbackUrl = landed.hops.find((h) => h.url.includes("/auth/callback"))!.url;
    const signedIn = (await readSession(stack.redis.client, browser.cookie(stack.app.url, SESSION_COOKIE)!))!;

    // An attacker who got the pre-sign-in record back (so the flow is found): the used code reaches the provider.
    await stack.redis.client.set(sessionKey(preCookie), preRecord!, "EX", 600);
    const attacker = new Browser();
    attacker.setCookie(stack.app.url, SESSION_COOKIE, preCookie);
    const before = await snapshot(stack);
    const replayed = await attacker.navigate(callbackUrl);
    expectSignInFailed(replayed, 400, "token_exchange_failed");
    expect(replayed.html).toContain("invalid_grant");
    await expectHarmless(stack, before, replayed.html, [signedIn.idToken, signedIn.accessToken, signedIn.refreshToken]);
  });
});

describe("provider errors", () => {
  it("the person cancelling at the provider is the provider's error, shown", async () => {
    const browser = new Browser();
    const loginForm = await startSignIn(browser, stack.app.url);
    const abort = loginForm.html.match(/href="([^"]*\/abort)"/)?.[1];
    expect(abort).toBeDefined();
    const before = await snapshot(stack);
    const page = await browser.navigate(new URL(abort!, loginForm.url).href);
    expect(page.url).toMatch(/\/auth\/callback\?error=access_denied/);
    expectSignInFailed(page, 400, "provider_error");
    expect(page.html).toContain("access_denied");
    await expectHarmless(stack, before, page.html);
  });

  it("a hostile error_description is escaped, never markup", async () => {
    const browser = new Browser();
    await startSignIn(browser, stack.app.url);
    const state = await flowState(browser);
    const hostile = [
      "<script>alert(1)</script>",
      '"><img src=x onerror=alert(1)>',
      "</p><a href=javascript:alert(1)>click</a>",
      "<svg/onload=alert(1)>",
    ];
    const before = await snapshot(stack);
    const pages: string[] = [];
    for (const description of hostile) {
      const page = await browser.navigate(
        `${stack.app.url}/auth/callback?${new URLSearchParams({ error: "access_denied", error_description: description, state, iss: stack.provider.issuer })}`,
      );
      expectSignInFailed(page, 400, "provider_error");
      const message = page.html.match(/data-code="provider_error">([^<]*)</)?.[1];
      expect(message, description).toContain("access_denied");
      expect(page.html, description).not.toContain(description);
      expect(page.html, description).not.toMatch(/<(img|svg|a href=javascript)/i);
      expect(page.html.match(/<script\b/g)?.length, description).toBe(
        page.html.match(/<script\b[^>]*nonce="/g)?.length,
      );
      pages.push(page.html);
    }
    expect(pages[0]).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    await expectHarmless(stack, before, pages);
  });
});

describe("mix-up (RFC 9207)", () => {
  it("the provider announces the iss parameter", async () => {
    const discovery = await (await fetch(`${stack.provider.issuer}/.well-known/openid-configuration`)).json();
    expect(discovery.authorization_response_iss_parameter_supported).toBe(true);
  });

  it("a real code delivered with the iss of another issuer is refused", async () => {
    const browser = new Browser();
    const callback = await realCallbackUrl(browser, stack.app.url);
    expect(callback.searchParams.get("iss")).toBe(stack.provider.issuer);
    callback.searchParams.set("iss", "https://evil.example");
    const before = await snapshot(stack);
    const page = await browser.navigate(callback.href);
    expectSignInFailed(page, 400, "invalid_response");
    expect(page.html).toContain("unexpected &quot;iss&quot; (issuer) response parameter value");
    await expectHarmless(stack, before, page.html);
  });

  it("a real code delivered without iss is refused, since the provider announces it", async () => {
    const browser = new Browser();
    const callback = await realCallbackUrl(browser, stack.app.url);
    callback.searchParams.delete("iss");
    const before = await snapshot(stack);
    const page = await browser.navigate(callback.href);
    expectSignInFailed(page, 400, "invalid_response");
    expect(page.html).toContain("response parameter &quot;iss&quot; (issuer) missing");
    await expectHarmless(stack, before, page.html);
  });

  it("the same real callback, untouched, signs in (control)", async () => {
    const browser = new Browser();
    const page = await browser.navigate((await realCallbackUrl(browser, stack.app.url)).href);
    expect(page.url).toBe(`${stack.app.url}/account`);
  });
});

describe("a signed-in browser", () => {
  it("keeps its session through a hostile callback", async () => {
    const browser = new Browser();
    await signIn(browser, stack.app.url);
    const cookie = browser.cookie(stack.app.url, SESSION_COOKIE)!;
    const before = await snapshot(stack);
    const page = await browser.navigate(`${stack.app.url}/auth/callback?code=abc&state=forged`);
    // Already signed in: the forged state's callback goes on to the account, changing nothing.
    expect(page.url).toBe(`${stack.app.url}/account`);
    expect(browser.cookie(stack.app.url, SESSION_COOKIE)).toBe(cookie);
    await expectHarmless(stack, before, page.html, [cookie]);
  });
});
