/**
 * private_key_jwt (RFC 7523 client assertions): the app signs in and out
 * through the real development provider, which knows the app only by the key
 * set it fetches from the app's /auth/jwks.json; the key set holds public
 * members only; a key rotation in three restarts keeps signing people in at
 * every step and an old session still logs out; a key the provider does not
 * know is refused with the clear client-credentials page, nothing stored; a
 * key setting that does not parse stops the start. Real Redis, provider, app.
 */
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logLines } from "./support/app-log.ts";
import { Browser } from "./support/browser.ts";
import {
  confirmProviderLogout,
  postLogout,
  SESSION_COOKIE,
  signIn,
  startSignIn,
  submitLogin,
} from "./support/flows.ts";
import { freePort } from "./support/ports.ts";
import { sessionKey, sessionKeys } from "./support/redis-keys.ts";
import { startApp, startStack, startTestProvider, startTestRedis, type App, type Stack } from "./support/stack.ts";
import { startTamperingProxy } from "./support/tampering-proxy.ts";

const ecPem = () =>
  generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
const rsaJwk = (kid: string) => ({
  ...generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" }),
  kid,
});
const ecJwk = () => generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k"];

/** The variables of an app signing its client assertions with `keys` (the first signs). */
const keyEnv = (keys: string) => ({
  OIDC_TOKEN_AUTH_METHOD: "private_key_jwt",
  OIDC_CLIENT_KEYS: keys,
  OIDC_CLIENT_SECRET: "", // unset: private_key_jwt refuses a secret
});

/** Redis, the provider (private_key_jwt, jwks_uri the app's /auth/jwks.json) behind a counting proxy, and the app. */
async function startKeyStack(keys: string) {
  const redis = await startTestRedis();
  const [appPort, providerPort, proxyPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const appUrl = `http://localhost:${appPort}`;
  const provider = await startTestProvider(appUrl, {
    tokenEndpointAuthMethod: "private_key_jwt",
    port: providerPort,
    issuer: `http://127.0.0.1:${proxyPort}`,
  });
  const proxy = await startTamperingProxy(providerPort, proxyPort);
  const env = { REDIS_URL: redis.url, OIDC_ISSUER: proxy.url, APP_URL: appUrl };
  const stack = {
    redis,
    proxy,
    app: await startApp({ ...env, ...keyEnv(keys) }, appPort),
    async restartApp(keys: string, more: Record<string, string> = {}) {
      await stack.app.stop();
      stack.app = await startApp({ ...env, ...keyEnv(keys), ...more }, appPort);
    },
    async stop() {
      await stack.app.stop();
      await proxy.close();
      await provider.close();
      await redis.stop();
    },
  };
  return stack;
}

const jwksOf = async (appUrl: string) => {
  const response = await fetch(`${appUrl}/auth/jwks.json`);
  return { response, body: (await response.json()) as { keys: Array<Record<string, unknown>> } };
};

/** How many times this app process was asked for its key set (by the provider). */
const jwksFetches = (app: App) => logLines(app).filter((l) => l.req?.path === "/auth/jwks.json").length;

/** A sign-in that ends on the app's error page: its status and code. */
async function failedSignIn(appUrl: string) {
  const browser = new Browser();
  const page = await submitLogin(browser, await startSignIn(browser, appUrl), "alice", "alice-password");
  expect(page.html).not.toMatch(/\bat .*\.(ts|js):\d+/);
  return [page.status, /data-code="([a-z_]+)"/.exec(page.html)?.[1]];
}

/** The whole sign-in, landed on the account page; the browser holds the session. */
async function signedIn(appUrl: string, username = "alice") {
  const browser = new Browser();
  const { landed } = await signIn(browser, appUrl, username);
  expect(landed.url).toBe(`${appUrl}/account`);
  expect(landed.status).toBe(200);
  return browser;
}

describe("private_key_jwt through the development provider", () => {
  const oldKey = rsaJwk("client-2025");
  const newKey = { ...ecJwk(), kid: "client-2026" };
  const set = (...keys: object[]) => JSON.stringify({ keys });
  let stack: Awaited<ReturnType<typeof startKeyStack>>;
  let firstFetchBy = 0;
  beforeAll(async () => {
    stack = await startKeyStack(set(oldKey));
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("signs in with a client assertion and no secret, and logs out at the app and the provider", async () => {
    stack.proxy.resetCounts();
    const browser = await signedIn(stack.app.url);
    firstFetchBy = Date.now();
    expect(stack.proxy.count("/token")).toBe(1);
    // The token request carried no Basic credentials: the assertion is in the body.
    const tokenRequest = stack.proxy
      .received()
      .filter((r) => r.path === "/token")
      .at(-1)!;
    expect(tokenRequest.headers.authorization).toBeUndefined();
    // The provider learned the key from the app's key set.
    expect(jwksFetches(stack.app)).toBe(1);

    const cookie = browser.cookie(stack.app.url, SESSION_COOKIE)!;
    const logout = await postLogout(browser, stack.app.url);
    expect(logout.status).toBe(302);
    expect(await stack.redis.client.exists(sessionKey(cookie))).toBe(0);
    const endSession = new URL(logout.headers.get("Location")!);
    const back = await confirmProviderLogout(browser, await browser.navigate(endSession.href));
    expect(back.url).toBe(`${stack.app.url}/?state=${endSession.searchParams.get("state")}`);
    expect(back.html).toContain('data-notice="provider"');
  });

  it("publishes the public keys only, with kid, alg and use, cacheable for a minute", async () => {
    const { response, body } = await jwksOf(stack.app.url);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(response.headers.get("Cache-Control")).toBe("public, max-age=60");
    expect(body.keys).toHaveLength(1);
    expect(body.keys[0]).toEqual({
      kty: "RSA",
      n: oldKey.n,
      e: oldKey.e,
      kid: "client-2025",
      alg: "RS256",
      use: "sig",
    });
    expect(Object.keys(body.keys[0]!).filter((m) => PRIVATE_MEMBERS.includes(m))).toEqual([]);
  });

  it(
    "rotates in three restarts ([old, new], [new, old], [new]) signing people in at every step; a session of the old key still logs out",
    { timeout: 240_000 },
    async () => {
      const before = await signedIn(stack.app.url, "erin"); // signed in under the old key
      const beforeCookie = before.cookie(stack.app.url, SESSION_COOKIE)!;

      // Why the first step: the new key signing at once is refused while the provider still holds the set it fetched.
      await stack.restartApp(set(newKey, oldKey));
      expect(await failedSignIn(stack.app.url)).toEqual([500, "client_authentication_failed"]);

      // 1. The new key published second: the old one still signs.
      await stack.restartApp(set(oldKey, newKey));
      let { body } = await jwksOf(stack.app.url);
      expect(body.keys.map((k) => k.kid)).toEqual(["client-2025", "client-2026"]);
      expect(body.keys[1]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256" });
      await signedIn(stack.app.url);

      // The provider keeps a key set it fetched for at least a minute (oidc-provider: max(60 s, max-age)):
      // the operator's "once the provider has fetched it".
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstFetchBy + 62_000 - Date.now())));

      // 2. The new key first: it signs, the old one is still published.
      await stack.restartApp(set(newKey, oldKey));
      ({ body } = await jwksOf(stack.app.url));
      expect(body.keys.map((k) => k.kid)).toEqual(["client-2026", "client-2025"]);
      stack.proxy.resetCounts();
      await signedIn(stack.app.url);
      expect(stack.proxy.count("/token")).toBe(1);
      // The provider's cached set had gone stale: the unknown kid made it fetch the set again, and it found the key.
      expect(jwksFetches(stack.app)).toBe(2); // this test's, above, and the provider's

      // 3. The old key removed.
      await stack.restartApp(set(newKey));
      ({ body } = await jwksOf(stack.app.url));
      expect(body.keys.map((k) => k.kid)).toEqual(["client-2026"]);
      await signedIn(stack.app.url);

      // A session signed in under the old key still logs out: the logout needs no client authentication.
      const logout = await postLogout(before, stack.app.url);
      expect(logout.status).toBe(302);
      expect(new URL(logout.headers.get("Location")!).pathname).toBe("/session/end");
      expect(await stack.redis.client.exists(sessionKey(beforeCookie))).toBe(0);
    },
  );

  it("refreshes tokens with a client assertion too", async () => {
    // A margin longer than the provider's 600 s access tokens: the first page after sign-in refreshes.
    await stack.restartApp(set(newKey), { TOKEN_REFRESH_MARGIN: "3600" });
    stack.proxy.resetCounts();
    const browser = await signedIn(stack.app.url);
    expect(stack.proxy.count("/token")).toBe(2); // the code exchange, then the refresh on /account
    const tokenRequests = stack.proxy
      .received()
      .filter((r) => r.path === "/token")
      .slice(-2);
    expect(tokenRequests.map((r) => r.headers.authorization)).toEqual([undefined, undefined]);
    expect((await browser.request(`${stack.app.url}/account`)).status).toBe(200); // still signed in after the refresh
  });
});

describe("a key the provider does not know", () => {
  let stack: Stack;
  const registered = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" });
  beforeAll(async () => {
    stack = await startStack({
      providerOptions: {
        tokenEndpointAuthMethod: "private_key_jwt",
        clientJwks: { keys: [{ ...registered, kid: "registered", alg: "ES256", use: "sig" }] },
      },
      appEnv: keyEnv(ecPem()),
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("is refused: the clear client-credentials page, no session, no cookie", async () => {
    const keysBefore = await sessionKeys(stack.redis.client);
    const browser = new Browser();
    const page = await submitLogin(browser, await startSignIn(browser, stack.app.url), "alice", "alice-password");
    expect(page.url).toMatch(new RegExp(`^${stack.app.url}/auth/callback\\?`));
    expect(page.status).toBe(500);
    expect(/data-code="([a-z_]+)"/.exec(page.html)?.[1]).toBe("client_authentication_failed");
    expect(page.html).toContain("OIDC_CLIENT_KEYS");
    expect(page.html).not.toMatch(/\bat .*\.(ts|js):\d+/);
    expect(page.hops.at(-1)!.setCookies).toEqual([]);
    // What a failed sign-in leaves today: the pre-sign-in session of the flow, no signed-in one.
    expect(await sessionKeys(stack.redis.client)).toHaveLength(keysBefore.length + 1);
    const account = await browser.request(`${stack.app.url}/account`);
    expect([account.status, account.headers.get("Location")]).toEqual([302, expect.stringMatching(/^\/login/)]);
  });
});

describe("a client key setting that cannot be used", () => {
  it("stops the start with a message naming the variable", async () => {
    const redis = await startTestRedis();
    try {
      const failures: Array<[Record<string, string>, RegExp]> = [
        [
          keyEnv("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"),
          /OIDC_CLIENT_KEYS: PEM block #1 \(PRIVATE KEY\) could not be read/,
        ],
        [
          keyEnv(
            generateKeyPairSync("ec", { namedCurve: "P-256" })
              .publicKey.export({ format: "pem", type: "spki" })
              .toString(),
          ),
          /OIDC_CLIENT_KEYS: PEM block #1 \(PUBLIC KEY\) is a public key/,
        ],
        [
          { ...keyEnv(""), OIDC_CLIENT_KEYS_FILE: "" },
          /OIDC_CLIENT_KEYS \(or OIDC_CLIENT_KEYS_FILE\) is required with OIDC_TOKEN_AUTH_METHOD=private_key_jwt/,
        ],
        [
          { ...keyEnv(ecPem()), OIDC_CLIENT_SECRET: "still-here" },
          /OIDC_CLIENT_SECRET is set, but OIDC_TOKEN_AUTH_METHOD=private_key_jwt never sends it/,
        ],
      ];
      for (const [env, message] of failures) {
        const start = startApp({ REDIS_URL: redis.url, OIDC_ISSUER: "http://127.0.0.1:9", ...env });
        await expect(start).rejects.toThrow(message);
      }
    } finally {
      await redis.stop();
    }
  });
});
