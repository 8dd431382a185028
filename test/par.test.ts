/**
 * Pushed authorization requests (RFC 9126, OIDC_PAR): with a provider that
 * offers them, the browser's redirect carries only client_id and request_uri
 * and the request itself went to the provider over the back channel,
 * client-authenticated with private_key_jwt; without them, `auto` redirects as
 * before and `required` does not start (or, when the provider could not be
 * asked at start, refuses each sign-in with a 503); a PAR endpoint that fails
 * or refuses gives a clear sign-in page, never a 500. Real Redis, provider
 * (behind a counting proxy) and app.
 */
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logLines } from "./support/app-log.ts";
import { Browser } from "./support/browser.ts";
import { isLoginForm, submitLogin } from "./support/flows.ts";
import { sessionKeys } from "./support/redis-keys.ts";
import { CLIENT_ID, startApp, startProxiedStack } from "./support/stack.ts";

/** POST /login, not followed: the redirect to the provider (or the error page). */
async function startLogin(browser: Browser, appUrl: string) {
  return browser.request(`${appUrl}/login?returnTo=%2Faccount`, { method: "POST", headers: { Origin: appUrl } });
}

/** From the app's redirect to the provider on: its login form, the credentials, back on the app. */
async function completeSignIn(browser: Browser, location: string) {
  const form = await browser.navigate(location);
  expect(isLoginForm(form)).toBe(true);
  return submitLogin(browser, form, "alice", "alice-password");
}

/** An error page's status and code, with no stack trace shown. */
async function errorPage(response: Response) {
  const html = await response.text();
  expect(html).not.toMatch(/\bat .*\.(ts|js):\d+/);
  return { status: response.status, code: /data-code="([a-z_]+)"/.exec(html)?.[1], html };
}

const ecPem = () =>
  generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();

describe("a provider that offers PAR, with private_key_jwt", () => {
  let stack: Awaited<ReturnType<typeof startProxiedStack>>;
  beforeAll(async () => {
    stack = await startProxiedStack(
      { pushedAuthorizationRequests: true, tokenEndpointAuthMethod: "private_key_jwt" },
      { OIDC_TOKEN_AUTH_METHOD: "private_key_jwt", OIDC_CLIENT_KEYS: ecPem(), OIDC_CLIENT_SECRET: "" },
    );
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("pushes the request (auto, the default): the browser's redirect carries only client_id and request_uri, and sign-in completes", async () => {
    stack.proxy.resetCounts();
    const browser = new Browser();
    const redirect = await startLogin(browser, stack.app.url);
    expect(redirect.status).toBe(302);
    const location = new URL(redirect.headers.get("Location")!);
    expect(`${location.origin}${location.pathname}`).toBe(`${stack.proxy.url}/auth`);
    expect([...location.searchParams.keys()].sort()).toEqual(["client_id", "request_uri"]);
    expect(location.searchParams.get("client_id")).toBe(CLIENT_ID);
    expect(location.searchParams.get("request_uri")).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    // The provider received the pushed request, authenticated by a client assertion (no Basic header).
    expect(stack.proxy.count("/request")).toBe(1);
    const pushed = stack.proxy
      .received()
      .filter((r) => r.path === "/request")
      .at(-1)!;
    expect([pushed.method, pushed.headers.authorization]).toEqual(["POST", undefined]);

    const landed = await completeSignIn(browser, location.href);
    expect(landed.url).toBe(`${stack.app.url}/account`);
    expect(landed.html).toContain("Alice Example");
    expect(stack.proxy.count("/token")).toBe(1);
  });

  it("with OIDC_PAR=off, redirects with every parameter in the URL, and still signs in", async () => {
    await stack.restartApp({ OIDC_PAR: "off" });
    stack.proxy.resetCounts();
    const browser = new Browser();
    const redirect = await startLogin(browser, stack.app.url);
    const location = new URL(redirect.headers.get("Location")!);
    expect(location.searchParams.get("state")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(location.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(stack.proxy.count("/request")).toBe(0);
    expect((await completeSignIn(browser, location.href)).url).toBe(`${stack.app.url}/account`);
  });

  it("a PAR endpoint that fails or refuses gives a clear sign-in page, not a 500, and no session", async () => {
    await stack.restartApp({});
    const keysBefore = await sessionKeys(stack.redis.client);

    stack.proxy.fail("/request", 503);
    const down = await errorPage(await startLogin(new Browser(), stack.app.url));
    expect([down.status, down.code]).toEqual([503, "provider_unavailable"]);
    stack.proxy.fail("/request", 0);

    // A real refusal: the provider answers the pushed request 400 invalid_request (a redirect_uri not registered).
    await stack.restartApp({ OIDC_REDIRECT_URI: `${stack.app.url}/not-registered` });
    const refused = await errorPage(await startLogin(new Browser(), stack.app.url));
    expect([refused.status, refused.code]).toEqual([502, "pushed_authorization_refused"]);
    expect(refused.html).toContain("pushed authorization request (invalid_request: redirect_uri did not match");
    expect(
      logLines(stack.app).some((l) => l.level === "error" && /^\[sign-in\] pushed_authorization_refused/.test(l.msg)),
    ).toBe(true);
    expect(await sessionKeys(stack.redis.client)).toEqual(keysBefore);
  });
});

describe("a provider without PAR", () => {
  let stack: Awaited<ReturnType<typeof startProxiedStack>>;
  beforeAll(async () => {
    stack = await startProxiedStack({ pushedAuthorizationRequests: false }, {});
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("auto falls back to the usual redirect, every parameter in the URL", async () => {
    stack.proxy.resetCounts();
    const browser = new Browser();
    const redirect = await startLogin(browser, stack.app.url);
    const location = new URL(redirect.headers.get("Location")!);
    for (const name of ["state", "nonce", "code_challenge"]) expect(location.searchParams.get(name)).toBeTruthy();
    expect(location.searchParams.get("request_uri")).toBeNull();
    expect(stack.proxy.count("/request")).toBe(0);
    expect((await completeSignIn(browser, location.href)).url).toBe(`${stack.app.url}/account`);
  });

  it("OIDC_PAR=required does not start, saying why", async () => {
    await stack.app.stop();
    await expect(startApp({ ...stack.env, OIDC_PAR: "required" }, stack.appPort)).rejects.toThrow(
      /OIDC_PAR=required, but the provider http:\/\/127\.0\.0\.1:\d+\/? advertises no pushed_authorization_request_endpoint/,
    );
  });

  it("OIDC_PAR=required with a provider unreachable at start: starts, then refuses each sign-in with a 503 and a log line", async () => {
    stack.proxy.fail("/.well-known/openid-configuration", 503);
    stack.app = await startApp({ ...stack.env, OIDC_PAR: "required" }, stack.appPort);
    expect(stack.app.output()).toMatch(/OIDC_PAR=required: the provider's discovery document could not be read/);
    stack.proxy.fail("/.well-known/openid-configuration", 0);
    await new Promise((resolve) => setTimeout(resolve, 2_100)); // the app retries discovery 2 s after a failure
    stack.proxy.resetCounts();
    const refused = await errorPage(await startLogin(new Browser(), stack.app.url));
    expect([refused.status, refused.code]).toEqual([503, "pushed_authorization_not_offered"]);
    expect(refused.html).toContain("OIDC_PAR");
    expect(stack.proxy.count("/request") + stack.proxy.count("/auth")).toBe(0);
    const line = logLines(stack.app).find((l) => /^\[sign-in\] pushed_authorization_not_offered/.test(l.msg));
    expect(line?.msg).toMatch(/advertises no pushed_authorization_request_endpoint/);
  });
});
