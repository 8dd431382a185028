/**
 * The OpenID Foundation's relying-party test modules that no other test file
 * covers, one `it` per module, named after it (docs/conformance.md links each
 * name; test/docs.test.ts checks they exist). A man-in-the-middle proxy in
 * front of the development provider rewrites what the suite's test provider
 * would send: ID tokens without `sub` or `iat`, or without `kid` (one key
 * published, then several), a discovery document naming another issuer, and
 * refresh responses whose new ID token is about another sign-in (OpenID
 * Connect Core §12.2). This test owns the provider's signing key, so each
 * rewritten token is validly signed and each refusal is its claim's.
 */
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import type { JWK } from "oidc-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDevProvider, type DevProvider } from "../server/dev-oidc-provider/index.ts";
import { Browser } from "./support/browser.ts";
import { SESSION_COOKIE, signIn } from "./support/flows.ts";
import { freePort } from "./support/ports.ts";
import { readSession, sessionKey, tokenKey } from "./support/redis-keys.ts";
import { CLIENT_ID, CLIENT_SECRET, startApp, startTestRedis, type App, type TestRedis } from "./support/stack.ts";
import { startTamperingProxy } from "./support/tampering-proxy.ts";
import {
  expectRefused as expectIdTokenRefused,
  signInWithIdToken as signInWithTamperedIdToken,
} from "./support/id-token-tampering.ts";
import { expectNoStackTrace, snapshot } from "./security/assertions.ts";

const KID = "provider-key";
const rsa = () => generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
const providerKey = rsa();

let redis: TestRedis;
let provider: DevProvider;
let proxy: Awaited<ReturnType<typeof startTamperingProxy>>;
let app: App;
let appEnv: Record<string, string>;

beforeAll(async () => {
  redis = await startTestRedis();
  const [providerPort, proxyPort, appPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const appUrl = `http://localhost:${appPort}`;
  provider = await startDevProvider({
    port: providerPort,
    issuer: `http://127.0.0.1:${proxyPort}`,
    client: {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: [`${appUrl}/auth/callback`],
      postLogoutRedirectUris: [`${appUrl}/`],
    },
    signingKey: { ...(providerKey.export({ format: "jwk" }) as JWK), kid: KID, use: "sig", alg: "RS256" },
    log: () => {},
  });
  proxy = await startTamperingProxy(providerPort, proxyPort);
  appEnv = { REDIS_URL: redis.url, OIDC_ISSUER: proxy.url };
  app = await startApp(appEnv, appPort);
});
afterAll(async () => {
  await app?.stop();
  await proxy?.close();
  await provider?.close();
  await redis?.stop();
});

/** A fresh app process (nothing cached: discovery, the provider's keys), same port and configuration. */
async function restartApp() {
  await app.stop();
  app = await startApp(appEnv, app.port);
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const decode = (segment: string) => JSON.parse(Buffer.from(segment, "base64url").toString()) as Record<string, unknown>;
const now = () => Math.floor(Date.now() / 1000);

function signRs256(header: Record<string, unknown>, claims: Record<string, unknown>, key: KeyObject = providerKey) {
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${sign("sha256", Buffer.from(input), key).toString("base64url")}`;
}

/** The token with its claims and header changed, validly signed with the provider's key. */
const resigned =
  (
    editClaims: (claims: Record<string, unknown>) => void,
    editHeader: (header: Record<string, unknown>) => void = () => {},
  ) =>
  (idToken: string) => {
    const [header, payload] = idToken
      .split(".")
      .slice(0, 2)
      .map((part) => decode(part)) as [Record<string, unknown>, Record<string, unknown>];
    editClaims(payload);
    editHeader(header);
    return signRs256(header, payload);
  };

/** A sign-in as alice whose token response carries `rewrite(id_token)`; what Redis held before, and the tokens. */
const signInWithIdToken = (rewrite: (idToken: string) => string) =>
  signInWithTamperedIdToken({ app, redis, proxy }, rewrite, { expectLoginForm: true });

/** The sign-in refusal: 400 on the callback naming the check, no cookie, nothing in Redis, nothing leaked. */
const expectRefused = (result: Awaited<ReturnType<typeof signInWithIdToken>>, named: string) =>
  expectIdTokenRefused({ redis, app }, result, named);

describe("Basic RP: the ID token", () => {
  it("oidcc-client-test-missing-sub: refuses an ID token without sub", async () => {
    await expectRefused(
      await signInWithIdToken(resigned((c) => delete c.sub)),
      "JWT &quot;sub&quot; (subject) claim missing",
    );
  });

  it("oidcc-client-test-missing-aud: refuses an ID token without aud", async () => {
    await expectRefused(
      await signInWithIdToken(resigned((c) => delete c.aud)),
      "JWT &quot;aud&quot; (audience) claim missing",
    );
  });

  it("oidcc-client-test-invalid-sig-es256: refuses an ID token signed ES256 with a key the provider did not publish", async () => {
    const ecKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const es256 = (idToken: string) => {
      const input = `${b64url({ alg: "ES256", typ: "JWT", kid: KID })}.${idToken.split(".")[1]}`;
      return `${input}.${sign("sha256", Buffer.from(input), { key: ecKey, dsaEncoding: "ieee-p1363" }).toString("base64url")}`;
    };
    await expectRefused(await signInWithIdToken(es256), "unexpected JWT &quot;alg&quot; header parameter");
  });

  it("oidcc-client-test-missing-iat: refuses an ID token without iat", async () => {
    await expectRefused(
      await signInWithIdToken(resigned((c) => delete c.iat)),
      "JWT &quot;iat&quot; (issued at) claim missing",
    );
  });

  it("oidcc-client-test-kid-absent-single-jwks: accepts an ID token without kid when the provider publishes one key", async () => {
    const { page } = await signInWithIdToken(
      resigned(
        () => {},
        (h) => delete h.kid,
      ),
    );
    expect(page.status).toBe(200);
    expect(page.url).toBe(`${app.url}/account`);
  });
});

describe("Basic RP: the token request", () => {
  it("oidcc-client-test-client-secret-basic: authenticates at the token endpoint with client_secret_basic", async () => {
    const from = proxy.received().length;
    const { landed } = await signIn(new Browser(), app.url);
    expect(landed.url).toBe(`${app.url}/account`);
    const tokenRequests = proxy
      .received()
      .slice(from)
      .filter((r) => r.path === "/token");
    expect(tokenRequests).toHaveLength(1);
    // RFC 6749 2.3.1: each part form-encoded, then Base64.
    const [scheme, credentials] = String(tokenRequests[0]!.headers.authorization).split(" ");
    expect(scheme).toBe("Basic");
    const [id, secret] = Buffer.from(credentials!, "base64").toString().split(":").map(decodeURIComponent);
    expect([id, secret]).toEqual([CLIENT_ID, CLIENT_SECRET]);
  });
});

describe("refresh: the new ID token must be about the same sign-in (OpenID Connect Core 12.2)", () => {
  /** Signed in as alice, the stored access token about to expire (inside the refresh margin). */
  async function signedInWithExpiringToken() {
    const browser = new Browser();
    await signIn(browser, app.url);
    const cookie = browser.cookie(app.url, SESSION_COOKIE)!;
    const key = sessionKey(cookie);
    const record = (await readSession(redis.client, cookie))!;
    const hot = JSON.parse((await redis.client.get(key))!);
    await redis.client.set(key, JSON.stringify({ ...hot, accessTokenExpiresAt: now() + 5 }), "KEEPTTL");
    return { browser, cookie, key, record };
  }

  /**
   * A request that refreshes, the refresh response's ID token (the one it
   * carries, or the signed-in one when it carries none) replaced by
   * `edit(claims)` re-signed with the provider's key, issued now.
   */
  async function refreshWith(
    edit: (claims: Record<string, unknown>) => void,
    finish: (idToken: string) => string = (idToken) => idToken,
  ) {
    const session = await signedInWithExpiringToken();
    const sent: string[] = [];
    proxy.tamper = (body) => {
      const base = typeof body.id_token === "string" ? body.id_token : session.record.idToken;
      const idToken = finish(
        resigned((c) => {
          Object.assign(c, { iat: now(), exp: now() + 600 });
          edit(c);
        })(base),
      );
      sent.push(idToken, String(body.access_token), String(body.refresh_token));
      return { ...body, id_token: idToken };
    };
    const before = await snapshot({ redis, app });
    try {
      const response = await session.browser.request(`${app.url}/account`);
      expect(sent, "the refresh reached the token endpoint").toHaveLength(3);
      return { ...session, response, before, sent };
    } finally {
      proxy.tamper = undefined;
    }
  }

  /** Refused: the session ends (both records), the person is sent to sign in, the log names the check, nothing leaked. */
  async function expectRefreshRefused(result: Awaited<ReturnType<typeof refreshWith>>, named: RegExp) {
    expect(result.response.status).toBe(302);
    expect(result.response.headers.get("Location")).toMatch(/^\/login\?returnTo=/);
    expect(await redis.client.exists(result.key, tokenKey(result.cookie))).toBe(0);
    const line = app
      .stdout()
      .split("\n")
      .filter((l) => l.includes("[refresh] the refresh response failed validation"))
      .at(-1);
    expect(line).toMatch(named);
    expect(line).toContain("ending the session");
    const output = app.output().slice(result.before.outputAt);
    expectNoStackTrace(output, "the app's output");
    for (const token of result.sent) expect(app.output().includes(token), "a token in the log").toBe(false);
    // Signing in again works.
    const { landed } = await signIn(new Browser(), app.url);
    expect(landed.url).toBe(`${app.url}/account`);
  }

  it("control: a refresh whose ID token is re-signed with the same claims is accepted and stored", async () => {
    const result = await refreshWith(() => {});
    expect(result.response.status).toBe(200);
    const stored = (await readSession(redis.client, result.cookie))!;
    expect(stored.idToken).toBe(result.sent[0]);
    expect(stored.accessTokenExpiresAt).toBeGreaterThan(now() + 60);
  });

  it("refuses a refreshed ID token whose signature does not verify (the app's own signature check, after openid-client's)", async () => {
    const flipped = (idToken: string) => {
      const [header, payload, signature] = idToken.split(".") as [string, string, string];
      const bytes = Buffer.from(signature, "base64url");
      bytes[0] = bytes[0]! ^ 0xff;
      return `${header}.${payload}.${bytes.toString("base64url")}`;
    };
    await expectRefreshRefused(await refreshWith(() => {}, flipped), /signature verification failed|does not verify/);
  });

  it("oidcc-client-test-refresh-token-invalid-issuer: refuses a refreshed ID token from another issuer", async () => {
    await expectRefreshRefused(
      await refreshWith((c) => (c.iss = "https://evil.example")),
      /unexpected JWT \\"iss\\" \(issuer\) claim value/,
    );
  });

  it("oidcc-client-test-refresh-token-invalid-sub: refuses a refreshed ID token about another user", async () => {
    await expectRefreshRefused(
      await refreshWith((c) => (c.sub = "mallory")),
      /the refreshed ID token's \\"sub\\" is not the signed-in one's/,
    );
  });

  it("oidcc-client-test-refresh-token-invalid-aud: refuses a refreshed ID token for another audience, or for one more", async () => {
    await expectRefreshRefused(
      await refreshWith((c) => (c.aud = "another-client")),
      /unexpected JWT \\"aud\\" \(audience\) claim value/,
    );
    // openid-client accepts this one (its aud includes this client, azp names it); the comparison with the signed-in token does not.
    await expectRefreshRefused(
      await refreshWith((c) => Object.assign(c, { aud: [CLIENT_ID, "another-client"], azp: CLIENT_ID })),
      /the refreshed ID token's \\"aud\\" is not the signed-in one's/,
    );
  });

  it("oidcc-client-test-refresh-token-invalid-azp: refuses a refreshed ID token with an azp the signed-in one did not have", async () => {
    await expectRefreshRefused(
      await refreshWith((c) => (c.azp = "another-client")),
      /the refreshed ID token has an \\"azp\\" the signed-in one did not have/,
    );
  });
});

describe("a fresh process", () => {
  it("oidcc-client-test-discovery-jwks-uri-keys: verifies the ID token with the keys of the jwks_uri its discovery document names", async () => {
    proxy.resetCounts();
    await restartApp(); // nothing cached
    const { landed } = await signIn(new Browser(), app.url);
    expect(landed.url).toBe(`${app.url}/account`);
    expect(proxy.count("/.well-known/openid-configuration")).toBeGreaterThanOrEqual(1);
    expect(proxy.count("/jwks"), "the key set was fetched from jwks_uri to verify the ID token").toBe(1);
  });

  it("oidcc-client-test-kid-absent-multiple-jwks: tries each key for an ID token without kid when the provider publishes several", async () => {
    const second = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" });
    proxy.tamperJson("/jwks", (body) => ({
      // The foreign key first: the provider's own key is not the first one tried.
      keys: [{ ...second, kid: "second-key", use: "sig", alg: "RS256" }, ...(body.keys as unknown[])],
    }));
    try {
      proxy.resetCounts();
      await restartApp(); // no key set cached
      // With its kid, the token names its key among the two: signed in.
      const { landed } = await signIn(new Browser(), app.url);
      expect(landed.url).toBe(`${app.url}/account`);
      expect(proxy.count("/jwks"), "the key set with two keys was fetched").toBe(1);
      // Without it, each key of the type is tried: the provider's own verifies it.
      const { page } = await signInWithIdToken(
        resigned(
          () => {},
          (h) => delete h.kid,
        ),
      );
      expect(page.status).toBe(200);
      expect(page.url).toBe(`${app.url}/account`);
    } finally {
      proxy.tamperJson("/jwks", undefined);
    }
  });

  it("oidcc-client-test-discovery-issuer-mismatch: refuses a discovery document naming another issuer, and recovers once it is right", async () => {
    const discovery = "/.well-known/openid-configuration";
    proxy.tamperJson(discovery, (body) => ({ ...body, issuer: "https://evil.example" }));
    let page;
    const before = await snapshot({ redis, app });
    try {
      await restartApp(); // no discovery cached
      page = await new Browser().navigate(`${app.url}/login?returnTo=%2Faccount`, {
        method: "POST",
        headers: { Origin: app.url },
      });
    } finally {
      proxy.tamperJson(discovery, undefined);
    }
    expect(page.status).toBe(500);
    expect(page.url).toBe(`${app.url}/login?returnTo=%2Faccount`);
    expect(page.html).toContain('data-code="provider_misconfigured"');
    expect(page.html).toContain("check OIDC_ISSUER");
    expect(page.html).not.toContain("evil.example/");
    expect(page.hops.at(-1)!.setCookies).toEqual([]);
    expect(app.output()).toMatch(/issuer/);
    // The redirect to the provider never happened; nothing was stored.
    expect((await snapshot({ redis, app })).keys).toEqual(before.keys);
    expectNoStackTrace(page.html);
    // A discovery failure is retried 2 s later: with the right document, signing in works.
    await new Promise((r) => setTimeout(r, 2_500));
    const { landed } = await signIn(new Browser(), app.url);
    expect(landed.url).toBe(`${app.url}/account`);
  });
});
