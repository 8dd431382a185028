/**
 * Session lifetimes (sliding idle timeout, absolute lifetime), SESSION_SECRET
 * rotation, and tokens encrypted at rest with key rotation: with short values,
 * against the real stack.
 */
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import { confirmProviderLogout, postLogout, SESSION_COOKIE, signIn } from "./support/flows.ts";
import { readSession, sessionKey, tokenKey } from "./support/redis-keys.ts";
import { restartApp, startStack, type Stack } from "./support/stack.ts";

const stacks: Stack[] = [];
afterAll(async () => {
  for (const stack of stacks) await stack.stop();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const status = async (browser: Browser, stack: Stack) => (await browser.request(`${stack.app.url}/account`)).status;

/** Restarts the stack's app with other variables, on the same port (so the registered URIs still match). */

describe("lifetimes", () => {
  it("an idle session ends after SESSION_IDLE_TIMEOUT; activity slides it", async () => {
    const stack = await startStack({ appEnv: { SESSION_IDLE_TIMEOUT: "4", SESSION_MAX_AGE: "60" } });
    stacks.push(stack);
    const browser = new Browser();
    await signIn(browser, stack.app.url);
    const key = sessionKey(browser.cookie(stack.app.url, SESSION_COOKIE)!);
    // 4.8 s in all, never 4 s idle: each pause is 1.2 s plus the two requests' time on either side
    // of Redis's read, which may be seconds on a busy 2-core machine.
    for (let i = 0; i < 4; i++) {
      await sleep(1200);
      expect(await status(browser, stack)).toBe(200);
    }
    await sleep(5100); // the last read slid it to 4 s, before its answer came back
    expect(await stack.redis.client.exists(key)).toBe(0);
    expect(await status(browser, stack)).toBe(302);
  });

  it("an active session still ends at SESSION_MAX_AGE after sign-in", async () => {
    const stack = await startStack({ appEnv: { SESSION_IDLE_TIMEOUT: "4", SESSION_MAX_AGE: "8" } });
    stacks.push(stack);
    const browser = new Browser();
    await signIn(browser, stack.app.url);
    const cookie = browser.cookie(stack.app.url, SESSION_COOKIE)!;
    const key = sessionKey(cookie);
    // The record's own times, in whole seconds (a sign-in on a busy machine may take seconds after them).
    const { signedInAt, expiresAt } = (await readSession(stack.redis.client, cookie))!;
    expect(expiresAt - signedInAt).toBe(8);
    // Active all along (a request every 0.5 s, the idle timeout is 4 s), past the idle timeout: every
    // answer that came back before expiresAt was checked before it, signed in.
    const answers: Array<{ at: number; status: number }> = [];
    while (Date.now() < expiresAt * 1000) {
      const code = await status(browser, stack);
      if (Date.now() < expiresAt * 1000) answers.push({ at: Date.now(), status: code });
      await sleep(500);
    }
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(answers.some((a) => a.at > (signedInAt + 4) * 1000)).toBe(true); // alive past one idle timeout
    await sleep(Math.max(0, expiresAt * 1000 + 200 - Date.now()));
    expect(await status(browser, stack)).toBe(302);
    expect(await stack.redis.client.exists(key)).toBe(0); // deleted on sight, not left to its TTL
  });
});

describe("SESSION_SECRET rotation", () => {
  it("the first secret signs, all verify; a removed secret no longer verifies", async () => {
    const a = "a".repeat(40);
    const b = "b".repeat(40);
    const stack = await startStack({ appEnv: { SESSION_SECRET: a } });
    stacks.push(stack);
    const old = new Browser();
    await signIn(old, stack.app.url);

    await restartApp(stack, { SESSION_SECRET: `${b},${a}` });
    expect(await status(old, stack)).toBe(200); // signed with a, still verified
    const fresh = new Browser();
    await signIn(fresh, stack.app.url); // signed with b

    await restartApp(stack, { SESSION_SECRET: b });
    expect(await status(fresh, stack)).toBe(200);
    expect(await status(old, stack)).toBe(302);
  });
});

describe("TOKEN_ENCRYPTION_KEYS", () => {
  const k1 = `k1:${randomBytes(32).toString("base64")}`;
  const k2 = `k2:${randomBytes(32).toString("base64")}`;

  it("stores no readable token in Redis, and logout still sends the real id_token_hint", async () => {
    const stack = await startStack({ appEnv: { TOKEN_ENCRYPTION_KEYS: k1 } });
    stacks.push(stack);
    const browser = new Browser();
    // (10 groups: an ID token small enough to travel as id_token_hint in the logout redirect.)
    const { landed } = await signIn(browser, stack.app.url, "groups-10");
    expect(landed.html).toMatch(/data-testid="group-count">10</); // claims read from the opened id_token
    const cookie = browser.cookie(stack.app.url, SESSION_COOKIE)!;
    const hot = (await stack.redis.client.get(sessionKey(cookie)))!;
    for (const field of ["idToken", "accessToken", "refreshToken"]) expect(JSON.parse(hot)).not.toHaveProperty(field);
    // The token record: sealed (format 2) with key k1, nothing of the tokens readable in it.
    const sealed = (await stack.redis.client.getBuffer(tokenKey(cookie)))!;
    expect([sealed[0], sealed.subarray(2, 2 + sealed[1]!).toString()]).toEqual([2, "k1"]);
    for (const readable of ["eyJ", "groups-10", "example.com", '"sub"']) expect(sealed.includes(readable)).toBe(false);
    await expect(readSession(stack.redis.client, cookie)).rejects.toThrow(/no key "k1"/);
    expect((await readSession(stack.redis.client, cookie, k1))!.idToken).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);

    // Key rotation: a new key first, the old one kept; the old session still opens.
    await restartApp(stack, { TOKEN_ENCRYPTION_KEYS: `${k2},${k1}` });
    const logout = await postLogout(browser, stack.app.url);
    const endSession = new URL(logout.headers.get("Location")!);
    expect(endSession.searchParams.get("id_token_hint") ?? "").toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    const back = await confirmProviderLogout(browser, await browser.navigate(endSession.href));
    expect(back.html).toContain('data-notice="provider"');

    const next = new Browser();
    await signIn(next, stack.app.url);
    const sealedWith = (await stack.redis.client.getBuffer(tokenKey(next.cookie(stack.app.url, SESSION_COOKIE)!)))!;
    expect(sealedWith.subarray(2, 2 + sealedWith[1]!).toString()).toBe("k2");
  });
});
