/**
 * Bad input gets a clear answer and loses nothing: cookies that are tampered,
 * unsigned or malformed, and callbacks with a missing or forged state, a
 * provider error, a replayed code or an ID token whose nonce does not match.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import { SESSION_COOKIE, signIn, startSignIn, submitLogin } from "./support/flows.ts";
import { sessionKey, sessionKeys } from "./support/redis-keys.ts";
import { startStack, type Stack } from "./support/stack.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

/** A request to the protected page with a hand-made session cookie. */
async function visitAccountWith(cookieValue: string) {
  const response = await fetch(`${stack.app.url}/account`, {
    headers: { Cookie: `${SESSION_COOKIE}=${cookieValue}` },
    redirect: "manual",
  });
  return { status: response.status, location: response.headers.get("Location"), setCookies: response.headers.getSetCookie() };
}

function expectNoStackTrace(html: string) {
  expect(html).not.toMatch(/\bat .*\.(ts|js):\d+/);
  expect(html).not.toContain("node_modules");
}

describe("session cookie", () => {
  let valid: string;
  beforeAll(async () => {
    const browser = new Browser();
    await signIn(browser, stack.app.url);
    valid = browser.cookie(stack.app.url, SESSION_COOKIE)!;
  });

  it("the untouched cookie is signed in (control)", async () => {
    expect((await visitAccountWith(valid)).status).toBe(200);
  });

  it("treats a tampered signature as no session", async () => {
    const [value, signature] = decodeURIComponent(valid).split(".");
    const flipped = signature!.startsWith("A") ? `B${signature!.slice(1)}` : `A${signature!.slice(1)}`;
    const result = await visitAccountWith(encodeURIComponent(`${value}.${flipped}`));
    expect(result.status).toBe(302);
    expect(result.location).toMatch(/^\/login\?returnTo=/);
  });

  it("treats an unsigned id, even of a live session, as no session", async () => {
    const id = sessionKey(valid).replace("rro:sess:", "");
    for (const unsigned of [id, encodeURIComponent(Buffer.from(JSON.stringify(id)).toString("base64"))]) {
      expect((await visitAccountWith(unsigned)).status).toBe(302);
    }
  });

  it("treats malformed values as no session, without an error", async () => {
    const keysBefore = await sessionKeys(stack.redis.client);
    for (const junk of ["%E0%A4%A", "!!!.###", ".", "x".repeat(3000), "eyJ9.%%%", '"quoted"', "a.b.c.d"]) {
      const result = await visitAccountWith(junk);
      expect(result.status, junk).toBe(302);
      expect(result.setCookies, junk).toEqual([]);
    }
    expect(await sessionKeys(stack.redis.client)).toEqual(keysBefore);
  });

  it("never reuses a signed id whose record is gone (no fixation through a dead id)", async () => {
    const browser = new Browser();
    await signIn(browser, stack.app.url);
    const cookie = browser.cookie(stack.app.url, SESSION_COOKIE)!;
    await stack.redis.client.del(sessionKey(cookie));
    // Starting a sign-in with the dead cookie creates a new id, not a record under the old one.
    await startSignIn(browser, stack.app.url);
    expect(browser.cookie(stack.app.url, SESSION_COOKIE)).not.toBe(cookie);
    expect(await stack.redis.client.exists(sessionKey(cookie))).toBe(0);
  });
});

describe("callback", () => {
  it("refuses a callback without state, creating no session", async () => {
    const keysBefore = await sessionKeys(stack.redis.client);
    const browser = new Browser();
    const page = await browser.navigate(`${stack.app.url}/auth/callback?code=abc`);
    expect(page.status).toBe(400);
    expect(page.html).toContain('data-code="missing_state"');
    expect(page.html).toContain("No session was created");
    expectNoStackTrace(page.html);
    expect(page.hops[0]!.setCookies).toEqual([]);
    expect(await sessionKeys(stack.redis.client)).toEqual(keysBefore);
  });

  it("refuses a forged state and keeps the real sign-in in progress", async () => {
    const browser = new Browser();
    const loginForm = await startSignIn(browser, stack.app.url);
    const forged = await browser.navigate(`${stack.app.url}/auth/callback?code=abc&state=forged`);
    expect(forged.status).toBe(400);
    expect(forged.html).toContain('data-code="unknown_state"');
    // Nothing lost: the genuine sign-in still completes.
    const landed = await submitLogin(browser, loginForm, "alice", "alice-password");
    expect(landed.url).toBe(`${stack.app.url}/account`);
  });

  it("shows the provider's error (escaped) when the person cancels at the provider", async () => {
    const keysBefore = await sessionKeys(stack.redis.client);
    const browser = new Browser();
    const loginForm = await startSignIn(browser, stack.app.url);
    const abort = loginForm.html.match(/href="([^"]*\/abort)"/)?.[1];
    expect(abort).toBeDefined();
    const page = await browser.navigate(new URL(abort!, loginForm.url).href);
    expect(page.url).toMatch(/\/auth\/callback\?error=access_denied/);
    expect(page.status).toBe(400);
    expect(page.html).toContain('data-code="provider_error"');
    expect(page.html).toContain("access_denied");
    // The pre-sign-in session (with its flow) is the only new key; no signed-in session exists.
    const added = (await sessionKeys(stack.redis.client)).filter((k) => !keysBefore.includes(k));
    for (const key of added) expect(JSON.parse((await stack.redis.client.get(key))!).user).toBeUndefined();
  });

  it("escapes hostile error descriptions", async () => {
    const browser = new Browser();
    await startSignIn(browser, stack.app.url);
    const preSignIn = JSON.parse((await stack.redis.client.get(sessionKey(browser.cookie(stack.app.url, SESSION_COOKIE)!)))!);
    const state = Object.keys(preSignIn.flows)[0]!;
    const hostile = "<script>alert(1)</script>";
    const page = await browser.navigate(
      `${stack.app.url}/auth/callback?${new URLSearchParams({ error: "access_denied", error_description: hostile, state, iss: stack.provider.issuer })}`,
    );
    expect(page.status).toBe(400);
    expect(page.html).not.toContain(hostile);
    expect(page.html).toContain("&lt;script&gt;");
  });

  it("refuses a replayed authorization code (the provider answers invalid_grant)", async () => {
    const browser = new Browser();
    const loginForm = await startSignIn(browser, stack.app.url);
    const preCookie = browser.cookie(stack.app.url, SESSION_COOKIE)!;
    const preRecord = await stack.redis.client.get(sessionKey(preCookie));
    const landed = await submitLogin(browser, loginForm, "alice", "alice-password");
    const callbackUrl = landed.hops.find((h) => h.url.includes("/auth/callback"))!.url;
    expect(landed.url).toBe(`${stack.app.url}/account`);

    // Same browser, same URL again: the flow was used up, so the code never reaches the provider;
    // the browser is signed in already, so it just goes on to its account, with no new session.
    const keysAfterSignIn = await sessionKeys(stack.redis.client);
    const sameBrowser = await browser.navigate(callbackUrl);
    expect(sameBrowser.url).toBe(`${stack.app.url}/account`);
    expect(await sessionKeys(stack.redis.client)).toEqual(keysAfterSignIn);
    // A fresh browser replaying it has no flow at all.
    const stranger = await new Browser().navigate(callbackUrl);
    expect(stranger.status).toBe(400);
    expect(stranger.html).toContain('data-code="unknown_state"');

    // An attacker who also restored the pre-sign-in record: the provider refuses the used code.
    await stack.redis.client.set(sessionKey(preCookie), preRecord!, "EX", 600);
    const attacker = new Browser();
    attacker.setCookie(stack.app.url, SESSION_COOKIE, preCookie);
    const keysBefore = await sessionKeys(stack.redis.client);
    const replayed = await attacker.navigate(callbackUrl);
    expect(replayed.status).toBe(400);
    expect(replayed.html).toContain('data-code="token_exchange_failed"');
    expect(replayed.html).toContain("invalid_grant");
    expect(await sessionKeys(stack.redis.client)).toEqual(keysBefore);
  });

  it("refuses an ID token whose nonce is not the one this browser sent", async () => {
    const browser = new Browser();
    const loginForm = await startSignIn(browser, stack.app.url);
    const key = sessionKey(browser.cookie(stack.app.url, SESSION_COOKIE)!);
    const record = JSON.parse((await stack.redis.client.get(key))!);
    for (const flow of Object.values(record.flows) as Array<{ nonce: string }>) flow.nonce = "a-different-nonce";
    await stack.redis.client.set(key, JSON.stringify(record), "KEEPTTL");

    const keysBefore = await sessionKeys(stack.redis.client);
    const page = await submitLogin(browser, loginForm, "alice", "alice-password");
    expect(page.status).toBe(400);
    expect(page.html).toContain('data-code="invalid_response"');
    expect(page.html).toMatch(/nonce/);
    expectNoStackTrace(page.html);
    expect(await sessionKeys(stack.redis.client)).toEqual(keysBefore);
  });

  it("only ever returns to a local path after sign-in", async () => {
    for (const returnTo of ["//evil.example", "https://evil.example/", "/\\evil.example", "/%2F%2Fevil.example"]) {
      const browser = new Browser();
      const { landed } = await signIn(browser, stack.app.url, "alice", "alice-password", returnTo);
      expect(new URL(landed.url).origin, returnTo).toBe(stack.app.url);
    }
  });
});

describe("redirects", () => {
  it("a bare GET of the callback URL starts nothing: it is a callback without state", async () => {
    const browser = new Browser();
    const page = await browser.navigate(`${stack.app.url}/auth/callback?returnTo=%2F.%2F%2Fevil.example`);
    expect(page.status).toBe(400);
    expect(page.html).toContain('data-code="missing_state"');
    expect(page.hops).toHaveLength(1);
    expect(page.hops[0]!.setCookies).toEqual([]);
  });

  it("a signed-in visit of /login goes to the return path only when it is local, dot segments included", async () => {
    const browser = new Browser();
    await signIn(browser, stack.app.url);
    for (const returnTo of ["/.//evil.example", "/a/..//evil.example", "/%2e//evil.example", "//evil.example", "/\\evil.example"]) {
      const response = await browser.request(`${stack.app.url}/login?${new URLSearchParams({ returnTo })}`);
      expect(response.status, returnTo).toBe(302);
      expect(response.headers.get("Location"), returnTo).toBe("/account");
    }
    const local = await browser.request(`${stack.app.url}/login?returnTo=%2Faccount%3Ftab%3Dclaims`);
    expect(local.headers.get("Location")).toBe("/account?tab=claims");
  });
});

describe("session lifecycle", () => {
  it("a second tab's sign-in, finished after the first tab's, lands signed in instead of failing", async () => {
    const browser = new Browser();
    const tabA = await startSignIn(browser, stack.app.url);
    // Tab B asks the app for a sign-in too, and reaches the provider after tab A is done.
    const tabB = await browser.request(`${stack.app.url}/login?returnTo=%2F`, { method: "POST", headers: { Origin: stack.app.url } });
    expect((await submitLogin(browser, tabA, "alice", "alice-password")).url).toBe(`${stack.app.url}/account`);
    const landed = await browser.navigate(tabB.headers.get("Location")!);
    expect(landed.hops.some((h) => h.url.startsWith(`${stack.app.url}/auth/callback`))).toBe(true);
    expect(landed.url).toBe(`${stack.app.url}/account`);
    expect(landed.status).toBe(200);
  });

  it("deletes a session found past its absolute lifetime", async () => {
    const browser = new Browser();
    await signIn(browser, stack.app.url);
    const key = sessionKey(browser.cookie(stack.app.url, SESSION_COOKIE)!);
    const record = JSON.parse((await stack.redis.client.get(key))!);
    await stack.redis.client.set(key, JSON.stringify({ ...record, expiresAt: Math.floor(Date.now() / 1000) - 1 }), "KEEPTTL");
    const visit = await browser.request(`${stack.app.url}/account`);
    expect(visit.status).toBe(302);
    expect(await stack.redis.client.exists(key)).toBe(0);
  });

  it("a Redis reply that is a bug, not an outage, is a 500 without details, not a misleading 503", async () => {
    const browser = new Browser();
    await signIn(browser, stack.app.url);
    const key = sessionKey(browser.cookie(stack.app.url, SESSION_COOKIE)!);
    await stack.redis.client.del(key);
    await stack.redis.client.hset(key, "not", "a string"); // WRONGTYPE for GETEX
    const page = await browser.navigate(`${stack.app.url}/account`);
    expect(page.status).toBe(500);
    expect(page.html).toContain("An unexpected error happened on our side");
    expect(page.html).not.toContain("WRONGTYPE");
    expect(stack.app.output()).toContain("WRONGTYPE");
    await stack.redis.client.del(key);
  });
});
