/**
 * Logout cannot be forced or faked: no GET logs out, a POST from another
 * origin (logout CSRF, or the other forms that change state) is refused with
 * 403 before the app runs, and a logout `state` the app did not issue, or one
 * already used, is reported rather than trusted.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser } from "../support/browser.ts";
import { postLogout, SESSION_COOKIE, signIn } from "../support/flows.ts";
import { sessionKey } from "../support/redis-keys.ts";
import { startStack, type Stack } from "../support/stack.ts";
import { expectHarmless, snapshot } from "./assertions.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

async function signedIn() {
  const browser = new Browser();
  await signIn(browser, stack.app.url);
  const cookie = browser.cookie(stack.app.url, SESSION_COOKIE)!;
  return { browser, cookie, key: sessionKey(cookie) };
}

describe("GET", () => {
  it("no GET of /logout logs out: the page, its loader data (single fetch and legacy), HEAD", async () => {
    const { browser, cookie, key } = await signedIn();
    const before = await snapshot(stack);
    const bodies: string[] = [];
    for (const [method, path] of [
      ["GET", "/logout"],
      ["GET", "/logout?_data=routes%2Flogout"],
      ["GET", "/logout.data"],
      ["GET", "/logout?logout=yes&confirm=1"],
      ["HEAD", "/logout"],
    ] as const) {
      const response = await browser.request(`${stack.app.url}${path}`, { method });
      expect(response.status, `${method} ${path}`).toBe(200);
      expect(response.headers.getSetCookie(), `${method} ${path}`).toEqual([]);
      bodies.push(await response.text());
    }
    expect(bodies[0]).toContain("Sign out?");
    // bodies[1]: a legacy ?_data request, still answered (empty since single fetch), changing nothing.
    expect(bodies[2]).toMatch(/"signedIn",true\b/); // the loader's data in single fetch's turbo-stream encoding
    expect(await stack.redis.client.exists(key)).toBe(1);
    expect((await browser.request(`${stack.app.url}/account`)).status).toBe(200);
    await expectHarmless(stack, before, bodies, [cookie]);
  });
});

describe("cross-site POST", () => {
  const foreignOrigins = (port: number) => [
    "https://evil.example",
    "null",
    `http://127.0.0.1:${port}`,
    `http://localhost:${port}.evil.example`,
    `https://localhost:${port}`,
  ];

  it("a POST /logout from another origin is refused with 403 and keeps the session", async () => {
    const { browser, cookie, key } = await signedIn();
    const before = await snapshot(stack);
    const bodies: string[] = [];
    for (const origin of foreignOrigins(stack.app.port)) {
      const refused = await postLogout(browser, stack.app.url, origin);
      expect(refused.status, origin).toBe(403);
      expect(refused.headers.get("Content-Type"), origin).toMatch(/^text\/plain/);
      expect(refused.headers.get("Cache-Control"), origin).toBe("no-store");
      expect(refused.headers.get("Location"), origin).toBeNull();
      expect(refused.headers.getSetCookie(), origin).toEqual([]);
      const body = await refused.text();
      expect(body, origin).toBe(`Cross-site request refused: this form can only be submitted from ${stack.app.url}.`);
      bodies.push(body);
    }
    expect(await stack.redis.client.exists(key)).toBe(1);
    expect((await browser.request(`${stack.app.url}/account`)).status).toBe(200);
    await expectHarmless(stack, before, bodies, [cookie]);
  });

  it("the other forms that change state (/login, /sessions) refuse it too", async () => {
    const { browser, cookie } = await signedIn();
    const other = await signedIn(); // a second session of the same person, which "end others" would end
    const before = await snapshot(stack);
    const bodies: string[] = [];
    for (const [path, form] of [
      ["/login?returnTo=%2Faccount", {}],
      ["/sessions", { intent: "end-others" }],
      ["/sessions", { intent: "end-everywhere" }],
    ] as const) {
      const refused = await browser.request(`${stack.app.url}${path}`, {
        method: "POST",
        headers: { Origin: "https://evil.example" },
        form,
      });
      expect(refused.status, path).toBe(403);
      expect(refused.headers.getSetCookie(), path).toEqual([]);
      bodies.push(await refused.text());
    }
    expect((await browser.request(`${stack.app.url}/account`)).status).toBe(200);
    expect((await other.browser.request(`${stack.app.url}/account`)).status).toBe(200);
    await expectHarmless(stack, before, bodies, [cookie, other.cookie]);
  });
});

describe("the logout state on the way back", () => {
  it("a state the app did not issue is reported as a mismatch, and the logout cookie is cleared", async () => {
    const { browser } = await signedIn();
    const logout = await postLogout(browser, stack.app.url);
    expect(logout.status).toBe(302);
    expect(browser.cookie(stack.app.url, "rro_logout")).toBeDefined();
    const before = await snapshot(stack);
    const page = await browser.navigate(`${stack.app.url}/?state=forged-state`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('data-notice="state-mismatch"');
    expect(page.html).not.toContain('data-notice="provider"');
    expect(page.hops[0]!.setCookies.find((c) => c.startsWith("rro_logout="))).toMatch(
      /Max-Age=0|Expires=Thu, 01 Jan 1970/,
    );
    expect(browser.cookie(stack.app.url, "rro_logout")).toBeUndefined();
    await expectHarmless(stack, before, page.html);
  });

  it("the genuine state replayed after use is a mismatch, not a confirmation", async () => {
    const { browser } = await signedIn();
    const logout = await postLogout(browser, stack.app.url);
    const state = new URL(logout.headers.get("Location")!).searchParams.get("state")!;
    // The provider's way back, without the provider (the app only compares the state with its cookie).
    expect((await browser.navigate(`${stack.app.url}/?state=${state}`)).html).toContain('data-notice="provider"');
    const before = await snapshot(stack);
    const replayed = await browser.navigate(`${stack.app.url}/?state=${state}`);
    expect(replayed.html).toContain('data-notice="state-mismatch"');
    const elsewhere = await new Browser().navigate(`${stack.app.url}/?state=${state}`);
    expect(elsewhere.html).toContain('data-notice="state-mismatch"');
    await expectHarmless(stack, before, [replayed.html, elsewhere.html]);
  });

  it("a hostile state in a link is reported as a mismatch and never echoed", async () => {
    const hostile = "<script>alert(1)</script>";
    const before = await snapshot(stack);
    const page = await new Browser().navigate(
      `${stack.app.url}/?${new URLSearchParams({ state: hostile, logout: "provider" })}`,
    );
    expect(page.status).toBe(200);
    expect(page.html).toContain('data-notice="state-mismatch"');
    expect(page.html).not.toContain(hostile);
    expect(page.html).not.toContain("alert(1)");
    // Nor can a link claim the provider's confirmation by name.
    const claimed = await new Browser().navigate(`${stack.app.url}/?logout=provider`);
    expect(claimed.html).not.toContain("data-notice");
    await expectHarmless(stack, before, [page.html, claimed.html]);
  });
});
