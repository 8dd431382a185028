/**
 * Logout when the provider publishes no end_session_endpoint, and with an
 * OIDC_END_SESSION_URL override: the app session always ends, and the person
 * is told plainly what could and could not be done.
 */
import { afterAll, describe, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import {
  confirmProviderLogout,
  endSessionForm,
  postLogout,
  SESSION_COOKIE,
  signIn,
  signedInBrowser,
} from "./support/flows.ts";
import { readSession, sessionKey } from "./support/redis-keys.ts";
import { CLIENT_ID, startStack, type Stack } from "./support/stack.ts";

const stacks: Stack[] = [];
afterAll(async () => {
  await Promise.all(stacks.map((s) => s.stop()));
});

async function signedIn(stack: Stack) {
  const { browser, cookie, key } = await signedInBrowser(stack.app.url);
  return { browser, key, record: (await readSession(stack.redis.client, cookie))! };
}

describe("a provider without end_session_endpoint", () => {
  it("still ends the app session and says the provider session may be active", async () => {
    const stack = await startStack({ providerOptions: { rpInitiatedLogout: false } });
    stacks.push(stack);
    const discovery = await (await fetch(`${stack.provider.issuer}/.well-known/openid-configuration`)).json();
    expect(discovery.end_session_endpoint).toBeUndefined();

    const { browser, key } = await signedIn(stack);
    const logout = await postLogout(browser, stack.app.url);
    expect(logout.status).toBe(302);
    expect(logout.headers.get("Location")).toBe("/?logout=unsupported");
    expect(await stack.redis.client.exists(key)).toBe(0);
    expect(browser.cookie(stack.app.url, SESSION_COOKIE)).toBeUndefined();

    const page = await browser.navigate(`${stack.app.url}/?logout=unsupported`);
    expect(page.html).toContain('data-notice="unsupported"');
    expect(page.html).toContain("publishes no end-session endpoint");
    expect(page.html).toContain("may still be active");
  });
});

describe("OIDC_END_SESSION_URL", () => {
  it("sends the browser to the configured URL, keeping its own parameters, with the standard ones added", async () => {
    const stack = await startStack({
      appEnv: (provider) => ({ OIDC_END_SESSION_URL: `${provider.issuer}/session/end?ui_locales=en` }),
    });
    stacks.push(stack);
    const { browser, key, record } = await signedIn(stack);
    const idToken = record.idToken;

    const logout = await postLogout(browser, stack.app.url);
    const target = new URL(logout.headers.get("Location")!);
    expect(`${target.origin}${target.pathname}`).toBe(`${stack.provider.issuer}/session/end`);
    expect(target.searchParams.get("ui_locales")).toBe("en");
    expect(target.searchParams.get("id_token_hint")).toBe(idToken);
    expect(target.searchParams.get("client_id")).toBe(CLIENT_ID);
    expect(target.searchParams.get("post_logout_redirect_uri")).toBe(`${stack.app.url}/`);
    expect(await stack.redis.client.exists(key)).toBe(0);

    const back = await confirmProviderLogout(browser, await browser.navigate(target.href));
    expect(back.html).toContain('data-notice="provider"');
  });

  it("says it could not confirm when the provider comes back without the state", async () => {
    const stack = stacks[1]!;
    const { browser } = await signedIn(stack);
    await postLogout(browser, stack.app.url);
    // A provider with a non-standard logout that returns to the app without `state`.
    const page = await browser.navigate(`${stack.app.url}/`);
    expect(page.html).toContain('data-notice="unconfirmed"');
    expect(page.html).toContain("cannot tell whether your session there has ended");
    // The notice is shown once: the logout cookie is cleared.
    expect((await browser.navigate(`${stack.app.url}/`)).html).not.toContain("data-notice");
  });
});

describe("OIDC_END_SESSION_METHOD=post", () => {
  it("carries even a large id_token_hint to the provider in a form POST, with small response headers", async () => {
    const stack = await startStack({
      appEnv: { OIDC_END_SESSION_METHOD: "post" },
      providerOptions: { httpPostMethods: true },
    });
    stacks.push(stack);
    const browser = new Browser();
    await signIn(browser, stack.app.url, "erin", "erin-password");
    const key = sessionKey(browser.cookie(stack.app.url, SESSION_COOKIE)!);
    const idToken = (await readSession(stack.redis.client, browser.cookie(stack.app.url, SESSION_COOKIE)!))!.idToken;

    const logout = await postLogout(browser, stack.app.url);
    expect(logout.status).toBe(200);
    let headerBytes = 0;
    logout.headers.forEach((value, name) => (headerBytes += name.length + value.length + 4));
    // The token is in the body, not the headers: these stay far under nginx's default 4 KB buffer
    // (about 1 KB: the security headers, the cleared session cookie and the logout-state cookie).
    expect(idToken.length).toBeGreaterThan(4096);
    expect(headerBytes).toBeLessThan(2048);
    expect(await stack.redis.client.exists(key)).toBe(0);
    expect(browser.cookie(stack.app.url, SESSION_COOKIE)).toBeUndefined();

    const form = endSessionForm(await logout.text())!;
    expect(form.action).toBe(`${stack.provider.issuer}/session/end`);
    expect(form.fields.id_token_hint).toBe(idToken);
    expect(form.fields.client_id).toBe(CLIENT_ID);
    expect(form.fields.post_logout_redirect_uri).toBe(`${stack.app.url}/`);
    const back = await confirmProviderLogout(
      browser,
      await browser.navigate(form.action, { method: "POST", form: form.fields }),
    );
    expect(back.url).toBe(`${stack.app.url}/?state=${form.fields.state}`);
    // The provider did end its session here (its cookie is SameSite=None), but after a POST the app cannot know
    // that from the return alone (test/interop.test.ts shows a Lax provider returning the same way), so it says less.
    expect(back.html).toContain('data-notice="provider-returned"');
  });
});
