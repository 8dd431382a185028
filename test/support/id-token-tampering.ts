/**
 * Sign-ins whose token endpoint answer carries a rewritten ID token, through
 * the tampering proxy in front of the provider, and the refusal such a
 * sign-in must end with (for the ID-token, conformance and key-rotation tests).
 */
import { expect } from "vitest";
import { expectHarmless, snapshot, type Target } from "../security/assertions.ts";
import { Browser } from "./browser.ts";
import { isLoginForm, startSignIn, submitLogin } from "./flows.ts";
import type { startTamperingProxy } from "./tampering-proxy.ts";

export interface TamperingTarget extends Target {
  proxy: Awaited<ReturnType<typeof startTamperingProxy>>;
}

/**
 * A full sign-in as alice whose token endpoint answer carries `rewrite(id_token)`
 * instead of its ID token. Returns the page the browser ends on, what Redis held
 * before the login form was submitted, every token of that answer, and the browser.
 * `expectLoginForm`: check the provider showed its login form first.
 */
export async function signInWithIdToken(
  { app, redis, proxy }: TamperingTarget,
  rewrite: (idToken: string) => string,
  { browser = new Browser(), expectLoginForm = false }: { browser?: Browser; expectLoginForm?: boolean } = {},
) {
  const loginForm = await startSignIn(browser, app.url);
  if (expectLoginForm) expect(isLoginForm(loginForm)).toBe(true);
  const before = await snapshot({ redis, app });
  const tokens: string[] = [];
  proxy.tamper = (body) => {
    const replaced = rewrite(String(body.id_token));
    tokens.push(String(body.id_token), String(body.access_token), String(body.refresh_token), replaced);
    return { ...body, id_token: replaced };
  };
  try {
    const page = await submitLogin(browser, loginForm, "alice", "alice-password");
    expect(tokens, "the token endpoint was reached").toHaveLength(4);
    return { page, before, tokens, browser };
  } finally {
    proxy.tamper = undefined;
  }
}

/**
 * The sign-in refusal: 400 on the callback naming the check, no cookie, nothing
 * in Redis, nothing leaked. `logged`: the app's log names the failed check too
 * (as JSON escapes it).
 */
export async function expectRefused(
  target: Target,
  result: Awaited<ReturnType<typeof signInWithIdToken>>,
  named: string,
  { logged = false } = {},
) {
  expect(result.page.status).toBe(400);
  expect(result.page.url).toMatch(new RegExp(`^${target.app.url}/auth/callback\\?`));
  expect(result.page.html).toContain('data-code="invalid_response"');
  expect(result.page.html).toContain(named);
  if (logged) expect(target.app.output()).toContain(JSON.stringify(named.replace(/&quot;/g, '"')).slice(1, -1));
  expect(result.page.hops.at(-1)!.setCookies).toEqual([]);
  await expectHarmless(target, result.before, result.page.html, result.tokens);
}
