/**
 * Every page carries the security headers: a Content-Security-Policy whose
 * scripts need this response's nonce (and every script Remix renders carries
 * it), frame-ancestors 'none' and X-Frame-Options, Referrer-Policy, nosniff,
 * and Cache-Control: no-store (every page, those showing session data first).
 * Signed-in pages, signed-out pages, the sign-in error page and the 404 page.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { Browser } from "../support/browser.ts";
import { signIn } from "../support/flows.ts";
import { startStack, type Stack } from "../support/stack.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const NONCE_CSP = /script-src 'self' 'nonce-([A-Za-z0-9+/=]{24})'/;

function expectSecurityHeaders(response: Response, label: string) {
  const csp = response.headers.get("Content-Security-Policy") ?? "";
  expect(csp, label).toMatch(NONCE_CSP);
  expect(csp, label).toContain("default-src 'self'");
  expect(csp, label).toContain("frame-ancestors 'none'");
  expect(csp, label).toContain("base-uri 'none'");
  expect(csp, label).toContain("object-src 'none'");
  expect(csp, label).toContain(`form-action 'self' ${stack.provider.issuer}`);
  expect(csp, label).not.toContain("unsafe-inline");
  expect(csp, label).not.toContain("unsafe-eval");
  expect(response.headers.get("X-Frame-Options"), label).toBe("DENY");
  expect(response.headers.get("Referrer-Policy"), label).toBe("same-origin");
  expect(response.headers.get("X-Content-Type-Options"), label).toBe("nosniff");
  expect(response.headers.get("Cache-Control"), label).toBe("no-store");
  return NONCE_CSP.exec(csp)![1]!;
}

it("every page carries them, and every script this response's CSP nonce", async () => {
  const browser = new Browser();
  await signIn(browser, stack.app.url);
  const signedOut = new Browser();
  const pages = [
    [browser, "/", 200],
    [browser, "/account", 200],
    [browser, "/sessions", 200],
    [browser, "/logout", 200],
    [signedOut, "/", 200],
    [signedOut, "/login", 200], // a signed-in browser is redirected from /login
    [signedOut, "/logout", 200],
    [signedOut, "/auth/callback?code=x", 400],
    [signedOut, "/no-such-page", 404],
  ] as const;
  for (const [client, path, status] of pages) {
    const label = `${client === browser ? "signed in" : "signed out"} ${path}`;
    const response = await client.request(`${stack.app.url}${path}`);
    expect(response.status, label).toBe(status);
    const nonce = expectSecurityHeaders(response, label);
    const scripts = [...(await response.text()).matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    expect(scripts.length, label).toBeGreaterThan(0);
    for (const tag of scripts) expect(tag, label).toContain(`nonce="${nonce}"`);
  }
});

it("the pages showing session data are no-store and show it", async () => {
  const browser = new Browser();
  await signIn(browser, stack.app.url);
  for (const [path, shown] of [
    ["/", 'data-testid="user-name">Alice Example<'],
    ["/account", "alice@example.com"],
    ["/sessions", "Your sessions"],
  ] as const) {
    const response = await browser.request(`${stack.app.url}${path}`);
    expect(response.headers.get("Cache-Control"), path).toBe("no-store");
    expect(await response.text(), path).toContain(shown);
  }
});

it("the nonce is new for every response", async () => {
  const nonces = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const response = await fetch(`${stack.app.url}/`);
    nonces.add(expectSecurityHeaders(response, `response ${i}`));
    await response.body?.cancel();
  }
  expect(nonces.size).toBe(20);
});
