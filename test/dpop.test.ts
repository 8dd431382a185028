/**
 * DPoP (RFC 9449, OIDC_DPOP=on) against the real development provider, which
 * here requires a server nonce in every proof: the sign-in binds the tokens
 * to a key made for the session, kept sealed in its token record only; two
 * app processes refresh once between them with proofs signed with that key;
 * a proof with another key is refused; logout deletes the key with the rest.
 */
import * as client from "openid-client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseEncryptionKeys, sealToken } from "../app/platform/token-encryption.server.ts";
import { decodeTokens, encodeTokens } from "../app/session/token-record.server.ts";
import { startDevProvider, type DevProvider } from "../server/dev-oidc-provider/index.ts";
import { Browser } from "./support/browser.ts";
import { postLogout, SESSION_COOKIE, signIn, startSignIn, submitLogin } from "./support/flows.ts";
import { freePort } from "./support/ports.ts";
import { readSession, sessionId, sessionKey, tokenKey } from "./support/redis-keys.ts";
import {
  CLIENT_ID,
  CLIENT_SECRET,
  startApp,
  startStack,
  startTestRedis,
  type App,
  type TestRedis,
} from "./support/stack.ts";
import { startTamperingProxy } from "./support/tampering-proxy.ts";

const ENCRYPTION_KEYS = `k1:${Buffer.alloc(32, 7).toString("base64")}`;
const { keys } = parseEncryptionKeys(ENCRYPTION_KEYS);

let redis: TestRedis;
let provider: DevProvider;
let proxy: Awaited<ReturnType<typeof startTamperingProxy>>;
let apps: App[];
const providerLog: string[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  const [providerPort, proxyPort, port1, port2] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const urls = [port1, port2].map((p) => `http://localhost:${p}`);
  provider = await startDevProvider({
    port: providerPort,
    issuer: `http://127.0.0.1:${proxyPort}`,
    client: {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: urls.map((u) => `${u}/auth/callback`),
      postLogoutRedirectUris: urls.map((u) => `${u}/`),
    },
    dpopNonces: true,
    log: (line) => providerLog.push(line),
  });
  proxy = await startTamperingProxy(providerPort, proxyPort);
  apps = await Promise.all(
    [port1, port2].map((port) =>
      startApp(
        { REDIS_URL: redis.url, OIDC_ISSUER: proxy.url, OIDC_DPOP: "on", TOKEN_ENCRYPTION_KEYS: ENCRYPTION_KEYS },
        port,
      ),
    ),
  );
});
afterAll(async () => {
  for (const app of apps ?? []) await app.stop();
  await proxy?.close();
  await provider?.close();
  await redis?.stop();
});

/** Every value in Redis, whatever its type, as raw bytes (a type not read here fails the test). */
async function everythingInRedis(): Promise<Buffer> {
  const found = await redis.client.keys("*"); // a test's own Redis: KEYS is fine here
  const values = await Promise.all(
    found.map(async (key): Promise<Buffer[]> => {
      const type = await redis.client.type(key);
      if (type === "string") return [(await redis.client.getBuffer(key)) ?? Buffer.alloc(0)];
      if (type === "zset") return redis.client.zrangeBuffer(key, "0", "-1");
      if (type === "hash") return Object.values(await redis.client.hgetallBuffer(key));
      if (type === "set") return redis.client.smembersBuffer(key);
      if (type === "list") return redis.client.lrangeBuffer(key, "0", "-1");
      throw new Error(`${key}: a ${type} this test does not read`);
    }),
  );
  return Buffer.concat(values.flat());
}

/** RFC 7638 thumbprint of an EC JWK. */
async function thumbprint(jwk: JsonWebKey) {
  const members = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return Buffer.from(await crypto.subtle.digest("SHA-256", Buffer.from(members))).toString("base64url");
}

async function keyPairOf(jwk: JsonWebKey): Promise<CryptoKeyPair> {
  const alg = { name: "ECDSA", namedCurve: "P-256" };
  const pub = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
  return {
    privateKey: await crypto.subtle.importKey("jwk", { ...pub, d: jwk.d }, alg, false, ["sign"]),
    publicKey: await crypto.subtle.importKey("jwk", pub, alg, true, ["verify"]),
  };
}

async function anotherPrivateJwk(): Promise<JsonWebKey> {
  const pair = await client.randomDPoPKeyPair("ES256", { extractable: true });
  const { kty, crv, x, y, d } = await crypto.subtle.exportKey("jwk", pair.privateKey);
  return { kty, crv, x, y, d };
}

async function introspect(token: string) {
  const response = await fetch(`${proxy.url}/token/introspection`, {
    method: "POST",
    headers: {
      Authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ token }),
  });
  return (await response.json()) as { active: boolean; token_type?: string; cnf?: { jkt?: string } };
}

/** The provider's configuration as a client of its own (the test's), for userinfo calls. */
async function providerConfig() {
  return client.discovery(new URL(proxy.url), CLIENT_ID, CLIENT_SECRET, undefined, {
    execute: [client.allowInsecureRequests],
  });
}

async function signedIn(app: App) {
  const browser = new Browser();
  const { landed } = await signIn(browser, app.url);
  expect(landed.status).toBe(200);
  const cookie = browser.cookie(app.url, SESSION_COOKIE)!;
  const session = (await readSession(redis.client, cookie, ENCRYPTION_KEYS))!;
  return { browser, cookie, session, jwk: JSON.parse(session.dpopKey) as JsonWebKey };
}

/** Makes the stored access token expire in 5 s (inside the refresh margin). */
async function expireSoon(cookie: string) {
  const key = sessionKey(cookie);
  const hot = JSON.parse((await redis.client.get(key))!);
  await redis.client.set(
    key,
    JSON.stringify({ ...hot, accessTokenExpiresAt: Math.floor(Date.now() / 1000) + 5 }),
    "KEEPTTL",
  );
}

const getAccount = (app: App, browser: Browser) =>
  fetch(`${app.url}/account`, { headers: { Cookie: browser.cookieHeader(app.url) }, redirect: "manual" });

it("signs in with DPoP: the access token is bound to the session's key, kept sealed in its token record and nowhere else", async () => {
  const browser = new Browser();
  const loginForm = await startSignIn(browser, apps[0]!.url);
  // Between the redirect and the callback, the key waits in the pre-sign-in record, sealed.
  const preSignIn = browser.cookie(apps[0]!.url, SESSION_COOKIE)!;
  const flows = JSON.parse((await redis.client.get(sessionKey(preSignIn)))!).flows as Record<
    string,
    { dpopKey: string }
  >;
  const [flow] = Object.values(flows);
  expect(flow!.dpopKey).toMatch(/^enc:v1:k1:/);
  // The provider offers PAR (its default), so dpop_jkt went in the pushed request, not the browser's URL; that the
  // provider bound the code to it shows in "a code exchange with another key than the sign-in started with…".
  expect(proxy.lastUrl("/auth")).toMatch(
    /^\/auth\?request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A[^&]+&client_id=[^&]+$/,
  );
  expect(proxy.count("/request")).toBeGreaterThan(0);
  expect((await everythingInRedis()).includes('"d":')).toBe(false);

  proxy.resetCounts();
  const landed = await submitLogin(browser, loginForm, "alice", "alice-password");
  expect(landed.status).toBe(200);
  expect(new URL(landed.url).pathname).toBe("/account");
  // A fresh process has no nonce yet: the provider challenges the first proof, the retry carries its nonce.
  expect(proxy.count("/token")).toBe(2);
  expect(providerLog.join("\n")).toContain("use_dpop_nonce");
  expect(
    proxy
      .received()
      .filter((r) => r.path === "/token")
      .every((r) => typeof r.headers.dpop === "string"),
  ).toBe(true);

  const cookie = browser.cookie(apps[0]!.url, SESSION_COOKIE)!;
  const session = (await readSession(redis.client, cookie, ENCRYPTION_KEYS))!;
  expect(session.tokenType).toBe("DPoP");
  const jwk = JSON.parse(session.dpopKey) as JsonWebKey;
  expect(typeof jwk.d).toBe("string");
  const introspected = await introspect(session.accessToken);
  expect(introspected).toMatchObject({ active: true, token_type: "DPoP" });
  expect(introspected.cnf?.jkt).toBe(await thumbprint(jwk));

  // The pre-sign-in record (and its copy of the key) is gone; the hot record, the cookie and Redis's bytes hold no key.
  expect(await redis.client.exists(sessionKey(preSignIn))).toBe(0);
  const hot = (await redis.client.get(sessionKey(cookie)))!;
  expect(hot).not.toContain("dpop");
  expect(hot).not.toContain(jwk.d!);
  expect(browser.cookieHeader(apps[0]!.url)).not.toContain(jwk.d!);
  const raw = await everythingInRedis();
  expect(raw.includes('"d":')).toBe(false);
  expect(raw.includes(jwk.d!)).toBe(false);

  // The same process remembers the provider's nonce: the next sign-in needs no challenge.
  proxy.resetCounts();
  await signedIn(apps[0]!);
  expect(proxy.count("/token")).toBe(1);
});

it("the bound access token works with a proof of the session's key and is refused with a proof of another key", async () => {
  const { session, jwk } = await signedIn(apps[0]!);
  const config = await providerConfig();
  const sub = JSON.parse(Buffer.from(session.idToken.split(".")[1]!, "base64url").toString()).sub as string;
  const own = client.getDPoPHandle(config, await keyPairOf(jwk));
  expect((await client.fetchUserInfo(config, session.accessToken, sub, { DPoP: own })).sub).toBe(sub);
  const other = client.getDPoPHandle(config, await keyPairOf(await anotherPrivateJwk()));
  const refused = await client.fetchUserInfo(config, session.accessToken, sub, { DPoP: other }).catch((e) => e);
  expect(refused).toBeInstanceOf(client.WWWAuthenticateChallengeError);
  expect((refused as client.WWWAuthenticateChallengeError).status).toBe(401);
  // Nor as a plain Bearer token.
  const bearer = await fetch(`${proxy.url}/me`, { headers: { Authorization: `Bearer ${session.accessToken}` } });
  expect(bearer.status).toBe(401);
});

it("a code exchange with another key than the sign-in started with is refused: a 400 page, no session written", async () => {
  const browser = new Browser();
  const loginForm = await startSignIn(browser, apps[0]!.url);
  const preSignIn = browser.cookie(apps[0]!.url, SESSION_COOKIE)!;
  const key = sessionKey(preSignIn);
  const record = JSON.parse((await redis.client.get(key))!);
  for (const flow of Object.values(record.flows) as Array<{ dpopKey: string }>) {
    flow.dpopKey = sealToken(keys[0]!, "dpopKey", JSON.stringify(await anotherPrivateJwk()));
  }
  await redis.client.set(key, JSON.stringify(record), "KEEPTTL");
  const tokenKeysBefore = (await redis.client.keys("rro:tok:*")).length;
  const landed = await submitLogin(browser, loginForm, "alice", "alice-password");
  expect(landed.status).toBe(400);
  expect(landed.html).not.toMatch(/at .*\.(ts|js):\d+/); // no stack trace
  expect(providerLog.at(-1)).toMatch(/grant\.error .*invalid_grant.*does not match dpop_jkt/);
  expect((await redis.client.keys("rro:tok:*")).length).toBe(tokenKeysBefore);
  expect(browser.cookie(apps[0]!.url, SESSION_COOKIE)).toBe(preSignIn); // still the pre-sign-in session
});

it("a sign-in whose kept DPoP key cannot be read is refused with a 400 page, nothing written", async () => {
  const browser = new Browser();
  const loginForm = await startSignIn(browser, apps[0]!.url);
  const key = sessionKey(browser.cookie(apps[0]!.url, SESSION_COOKIE)!);
  const record = JSON.parse((await redis.client.get(key))!);
  for (const flow of Object.values(record.flows) as Array<{ dpopKey: string }>) flow.dpopKey = "enc:v1:k1:broken";
  await redis.client.set(key, JSON.stringify(record), "KEEPTTL");
  const tokenKeysBefore = (await redis.client.keys("rro:tok:*")).length;
  proxy.resetCounts();
  const landed = await submitLogin(browser, loginForm, "alice", "alice-password");
  expect(landed.status).toBe(400);
  expect(landed.html).toContain("The key this sign-in started with cannot be read");
  expect(proxy.count("/token")).toBe(0);
  expect((await redis.client.keys("rro:tok:*")).length).toBe(tokenKeysBefore);
});

it("50 concurrent requests across two processes refresh once, with a proof of the session's key, nonces answered", async () => {
  // Each process has met the provider's nonce by now (the second through a sign-in of its own).
  await signedIn(apps[1]!);
  const { browser, cookie, session, jwk } = await signedIn(apps[0]!);
  await expireSoon(cookie);
  proxy.resetCounts();
  const seenBefore = proxy.received().length;
  proxy.delay("/token", 300);
  const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => getAccount(apps[i % 2]!, browser))).finally(
    () => proxy.delay("/token", 0),
  );
  expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
  expect(proxy.count("/token")).toBe(1);
  const [refresh] = proxy
    .received()
    .slice(seenBefore)
    .filter((r) => r.path === "/token");
  const proof = String(refresh!.headers.dpop).split(".");
  const header = JSON.parse(Buffer.from(proof[0]!, "base64url").toString());
  const payload = JSON.parse(Buffer.from(proof[1]!, "base64url").toString());
  expect(await thumbprint(header.jwk)).toBe(await thumbprint(jwk));
  expect(typeof payload.nonce).toBe("string"); // sent from the start: no challenge needed

  const refreshed = (await readSession(redis.client, cookie, ENCRYPTION_KEYS))!;
  expect(refreshed.accessToken).not.toBe(session.accessToken);
  expect(refreshed.tokenType).toBe("DPoP");
  expect(refreshed.dpopKey).toBe(session.dpopKey); // the same key for the session's life
  expect((await introspect(refreshed.accessToken)).cnf?.jkt).toBe(await thumbprint(jwk));
});

it("a refresh in a fresh process answers the provider's nonce challenge", async () => {
  const { browser, cookie, jwk } = await signedIn(apps[0]!);
  await expireSoon(cookie);
  // A new process in place of the second one: it has not met the provider's nonce.
  await apps[1]!.stop();
  apps[1] = await startApp(
    { REDIS_URL: redis.url, OIDC_ISSUER: proxy.url, OIDC_DPOP: "on", TOKEN_ENCRYPTION_KEYS: ENCRYPTION_KEYS },
    apps[1]!.port,
  );
  proxy.resetCounts();
  const response = await getAccount(apps[1]!, browser);
  expect(response.status).toBe(200);
  expect(proxy.count("/token")).toBe(2); // challenged, then answered
  const refreshed = (await readSession(redis.client, cookie, ENCRYPTION_KEYS))!;
  expect((await introspect(refreshed.accessToken)).cnf?.jkt).toBe(await thumbprint(jwk));
});

it("a refresh whose DPoP proof the provider refuses ends the session cleanly", async () => {
  const { browser, cookie } = await signedIn(apps[0]!);
  await expireSoon(cookie);
  // A proof that does not verify (its signature altered on the way), as one signed with another key than its header names.
  proxy.rewriteHeaders("/token", (headers) => {
    const [h, p, s] = String(headers.dpop).split(".");
    return { ...headers, dpop: `${h}.${p}.${s!.startsWith("A") ? "B" : "A"}${s!.slice(1)}` };
  });
  try {
    const response = await getAccount(apps[0]!, browser);
    expect(response.status).toBe(302);
    expect(response.headers.get("Location")).toMatch(/^\/login\?returnTo=/);
  } finally {
    proxy.rewriteHeaders("/token", undefined);
  }
  expect(await redis.client.exists(sessionKey(cookie), tokenKey(cookie))).toBe(0);
  expect(apps[0]!.output()).toContain("refused the refresh token (invalid_dpop_proof)");
});

it("a refresh with another key than the tokens were bound to: the provider rebinds (a confidential client's refresh token is not key-bound), nothing is half-written", async () => {
  // RFC 9449 §5: refresh tokens of confidential clients are bound by the client's authentication, not the key.
  const { browser, cookie } = await signedIn(apps[0]!);
  const id = sessionId(cookie);
  const ttl = await redis.client.pttl(tokenKey(cookie));
  const tokens = decodeTokens((await redis.client.getBuffer(tokenKey(cookie)))!, id, keys);
  const other = JSON.stringify(await anotherPrivateJwk());
  await redis.client.set(tokenKey(cookie), encodeTokens({ ...tokens, dpopKey: other }, id, keys), "PX", ttl);
  await expireSoon(cookie);
  expect((await getAccount(apps[0]!, browser)).status).toBe(200);
  const refreshed = (await readSession(redis.client, cookie, ENCRYPTION_KEYS))!;
  expect(refreshed.dpopKey).toBe(other);
  expect(refreshed.accessToken).not.toBe(tokens.accessToken);
  expect((await introspect(refreshed.accessToken)).cnf?.jkt).toBe(await thumbprint(JSON.parse(other)));
});

it("a session whose DPoP key cannot be read is kept without refreshing, as an unreadable token record is", async () => {
  const { browser, cookie, session } = await signedIn(apps[0]!);
  const id = sessionId(cookie);
  const ttl = await redis.client.pttl(tokenKey(cookie));
  const tokens = decodeTokens((await redis.client.getBuffer(tokenKey(cookie)))!, id, keys);
  await redis.client.set(tokenKey(cookie), encodeTokens({ ...tokens, dpopKey: '{"kty":"EC"' }, id, keys), "PX", ttl);
  await expireSoon(cookie);
  proxy.resetCounts();
  const response = await getAccount(apps[0]!, browser);
  expect(response.status).toBe(200);
  expect(proxy.count("/token")).toBe(0);
  expect(JSON.parse((await redis.client.get(sessionKey(cookie)))!).refreshable).toBeUndefined();
  expect(apps[0]!.output()).toContain("DPoP key cannot be read");
  expect((await readSession(redis.client, cookie, ENCRYPTION_KEYS))!.refreshToken).toBe(session.refreshToken);
});

it("logout ends the session and deletes its key with its tokens", async () => {
  const { browser, cookie } = await signedIn(apps[0]!);
  const response = await postLogout(browser, apps[0]!.url);
  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toContain("/session/end");
  expect(await redis.client.exists(sessionKey(cookie), tokenKey(cookie))).toBe(0);
});

it("userinfo at sign-in is fetched with a proof of the session's key (claims only in userinfo, nonces required)", async () => {
  const stack = await startStack({
    appEnv: { OIDC_DPOP: "on" },
    providerOptions: { identityClaimsInUserinfoOnly: true, dpopNonces: true },
  });
  try {
    const browser = new Browser();
    const { landed } = await signIn(browser, stack.app.url);
    expect(landed.status).toBe(200);
    const session = (await readSession(stack.redis.client, browser.cookie(stack.app.url, SESSION_COOKIE)!))!;
    expect(session.tokenType).toBe("DPoP");
    // Without the proof the bound token is refused at userinfo, and the profile would be incomplete.
    expect(session.profileIncomplete).toBeUndefined();
    expect(session.user.name).toBe("Alice Example");
    expect(stack.app.output()).not.toContain("userinfo could not be fetched");
  } finally {
    await stack.stop();
  }
});
