/**
 * The return path never leaves the app: every open-redirect trick given as
 * `returnTo` (protocol-relative, backslashes, schemes, encoded variants, tabs
 * and newlines that browsers strip, dot segments) becomes `/account`, both
 * after a real sign-in and when a signed-in browser visits /login. Paths that
 * only look odd stay the local paths they are.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser } from "../support/browser.ts";
import { SESSION_COOKIE, signIn } from "../support/flows.ts";
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

/** Each of these would send a browser to evil.example if put in `Location` as it is. */
const TRICKS = [
  "//evil.example",
  "///evil.example",
  "/\\evil.example",
  "\\\\evil.example",
  "\\/evil.example",
  "https://evil.example/",
  "https:evil.example",
  "https:/evil.example",
  "javascript:alert(1)",
  "//evil.example@localhost",
  "/%2F%2Fevil.example",
  "/%2f%2fevil.example",
  "%2F%2Fevil.example",
  "/%5Cevil.example",
  "/%5C%5Cevil.example",
  "/\t/evil.example",
  "/\n/evil.example",
  "/\r\n/evil.example",
  "\t//evil.example",
  " //evil.example",
  "/.//evil.example",
  "/a/..//evil.example",
  "/%2e//evil.example",
  "/%2E%2E//evil.example",
  "/%2e%2e/%2e%2e//evil.example",
  "/./\\evil.example",
  "/%C0%AF/evil.example",
  "／／evil.example",
];

/** Odd but local: kept, normalised, and still on the app. */
const LOCAL = [
  ["/account?tab=claims", "/account?tab=claims"],
  ["/%09/evil.example", "/%09/evil.example"],
  ["/%252F%252Fevil.example", "/%252F%252Fevil.example"],
  ["/ /evil.example", "/%20/evil.example"],
  ["/?next=//evil.example", "/?next=//evil.example"],
] as const;

async function inBatches<T>(items: readonly T[], size: number, run: (item: T) => Promise<void>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}

describe("after a real sign-in", () => {
  it(`each of ${TRICKS.length} tricks lands on /account`, async () => {
    await inBatches(TRICKS, 4, async (returnTo) => {
      const browser = new Browser();
      const callback = await realCallbackUrl(browser, stack.app.url, returnTo);
      const answer = await browser.request(callback.href);
      expect(answer.status, JSON.stringify(returnTo)).toBe(302);
      expect(answer.headers.get("Location"), JSON.stringify(returnTo)).toBe("/account");
    });
  });

  it("odd-looking local paths stay local, as normalised paths", async () => {
    await inBatches(LOCAL, 4, async ([returnTo, expected]) => {
      const browser = new Browser();
      const callback = await realCallbackUrl(browser, stack.app.url, returnTo);
      const location = (await browser.request(callback.href)).headers.get("Location")!;
      expect(location, JSON.stringify(returnTo)).toBe(expected);
      expect(new URL(location, stack.app.url).origin).toBe(stack.app.url);
    });
  });

  it("a trick followed to the end lands on the account page, signed in", async () => {
    const { landed } = await signIn(new Browser(), stack.app.url, "alice", "alice-password", "/%2F%2Fevil.example");
    expect(landed.url).toBe(`${stack.app.url}/account`);
    expect(landed.status).toBe(200);
  });
});

describe("a signed-in visit of /login", () => {
  it(`each of ${TRICKS.length} tricks goes to /account, changing nothing`, async () => {
    const browser = new Browser();
    await signIn(browser, stack.app.url);
    const before = await snapshot(stack);
    const bodies: string[] = [];
    for (const returnTo of TRICKS) {
      const response = await browser.request(`${stack.app.url}/login?${new URLSearchParams({ returnTo })}`);
      expect(response.status, JSON.stringify(returnTo)).toBe(302);
      expect(response.headers.get("Location"), JSON.stringify(returnTo)).toBe("/account");
      expect(response.headers.getSetCookie(), JSON.stringify(returnTo)).toEqual([]);
      bodies.push(await response.text());
    }
    const local = await browser.request(`${stack.app.url}/login?returnTo=%2Faccount%3Ftab%3Dclaims`);
    expect(local.headers.get("Location")).toBe("/account?tab=claims");
    await expectHarmless(stack, before, bodies, [browser.cookie(stack.app.url, SESSION_COOKIE)]);
  });
});

describe("the callback URL itself", () => {
  it("a bare GET with a returnTo starts nothing: it is a callback without state", async () => {
    const before = await snapshot(stack);
    const page = await new Browser().navigate(`${stack.app.url}/auth/callback?returnTo=%2F.%2F%2Fevil.example`);
    expect(page.status).toBe(400);
    expect(page.html).toContain('data-code="missing_state"');
    expect(page.hops).toHaveLength(1);
    expect(page.hops[0]!.setCookies).toEqual([]);
    await expectHarmless(stack, before, page.html);
  });
});
