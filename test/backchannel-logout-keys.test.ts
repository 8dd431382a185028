/**
 * The provider's keys behind back-channel logout, counted at a proxy in front
 * of the real development provider (the app's issuer is the proxy's URL):
 * tokens whose key id the provider never published are refused with 400 and
 * a warning, and however many arrive they cost at most one fetch of the key
 * set per 30 s cooldown, which also finds a key the provider has just
 * published; a key set that cannot be fetched (a 5xx, an answer that is not
 * JSON, the provider unreachable) is a 503 the provider may retry, logged as
 * an error without a stack, tried again no sooner than 5 s later, and once
 * the keys are back the same token is accepted.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { SignJWT } from "jose";
import type { JWK } from "oidc-provider";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { DevProvider } from "../server/dev-oidc-provider/index.ts";
import { expectRefusalLogged, linesOf, newRequestId } from "./support/app-log.ts";
import { signedInBrowser, postLogoutToken } from "./support/flows.ts";
import { freePort } from "./support/ports.ts";
import { readSession } from "./support/redis-keys.ts";
import { CLIENT_ID, startApp, startTestProvider, startTestRedis, type App, type TestRedis } from "./support/stack.ts";
import { startTamperingProxy } from "./support/tampering-proxy.ts";

const EVENT = "http://schemas.openid.net/event/backchannel-logout";
const KID = "test-signing-key";
/** jose's cooldown after a successful fetch, as app/oidc/provider-keys.server.ts sets it, and its backoff after a failure. */
const COOLDOWN_MS = 30_000;
const BACKOFF_MS = 5_000;
const rsa = () => generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
const providerKey = rsa();
const attackerKey = rsa();
const rotatedKey = rsa();

let redis: TestRedis;
let provider: DevProvider;
let proxy: Awaited<ReturnType<typeof startTamperingProxy>>;
let app: App;
let ports: { app: number; provider: number; proxy: number };
let env: Record<string, string>;

beforeAll(async () => {
  redis = await startTestRedis();
  const [appPort, providerPort, proxyPort] = await Promise.all([freePort(), freePort(), freePort()]);
  ports = { app: appPort, provider: providerPort, proxy: proxyPort };
  const jwk = { ...(providerKey.export({ format: "jwk" }) as JWK), kid: KID, use: "sig", alg: "RS256" };
  provider = await startTestProvider(`http://localhost:${appPort}`, {
    port: providerPort,
    issuer: `http://127.0.0.1:${proxyPort}`,
    signingKey: jwk,
  });
  proxy = await startTamperingProxy(providerPort, proxyPort);
  env = { REDIS_URL: redis.url, OIDC_ISSUER: proxy.url };
  app = await startApp(env, appPort);
});
afterAll(async () => {
  await app?.stop();
  await proxy?.close();
  await provider?.close();
  await redis?.stop();
});

async function signedIn() {
  const { cookie, key } = await signedInBrowser(app.url);
  const record = (await readSession(redis.client, cookie))!;
  return { key, sid: record.sid as string };
}

function logoutToken(claims: Record<string, unknown>, key: KeyObject = providerKey, kid = KID): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: proxy.url,
    aud: CLIENT_ID,
    iat: now,
    exp: now + 120,
    jti: randomUUID(),
    events: { [EVENT]: {} },
    ...claims,
  })
    .setProtectedHeader({ alg: "RS256", kid, typ: "logout+jwt" })
    .sign(key);
}

/** A token a forger could make: well-formed, signed by a key the provider never had, under a kid it never published. */
const forged = (sid: string) => logoutToken({ sid }, attackerKey, `unpublished-${randomUUID()}`);

async function post(token: string) {
  const reqId = newRequestId();
  const response = await postLogoutToken(app.url, token, reqId);
  return {
    status: response.status,
    retryAfter: response.headers.get("Retry-After"),
    body: await response.json(),
    reqId,
  };
}

const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));

it(
  "50 tokens with key ids the provider never published each get 400 and a warning, and cost at most one key-set fetch per cooldown; " +
    "the fetch after the cooldown also finds a key the provider has just published",
  async () => {
    const session = await signedIn();
    const fetchedAt = Date.now(); // the sign-in fetched the keys (for its ID token), before this
    proxy.resetCounts();

    expect((await post(await logoutToken({ sub: "nobody" }))).status).toBe(200);
    expect(proxy.count("/jwks"), "the keys the sign-in fetched serve logout tokens too (one cache, ADR 020)").toBe(0);

    // Within the cooldown: refused at once, from the keys fetched a moment ago.
    const flood = await Promise.all(Array.from({ length: 50 }, async () => post(await forged(session.sid))));
    expect(flood.map((r) => r.status)).toEqual(Array(50).fill(400));
    expect(new Set(flood.map((r) => r.body.error))).toEqual(new Set(["invalid_request"]));
    for (const { reqId } of flood) await expectRefusalLogged(app, reqId, "unknown_key");
    expect(proxy.count("/jwks"), "no fetch within the cooldown").toBe(0);

    // After it, the provider publishes a new key; the next unknown kids cause exactly one refresh, shared by all of them.
    await sleepUntil(fetchedAt + COOLDOWN_MS + 1_000);
    const rotated = { ...(rotatedKey.export({ format: "jwk" }) as JWK), kid: "rotated-key", use: "sig", alg: "RS256" };
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rotatedPublic } = rotated;
    proxy.tamperJson("/jwks", (body) => ({ keys: [...(body.keys as unknown[]), rotatedPublic] }));
    try {
      const second = await Promise.all(Array.from({ length: 50 }, async () => post(await forged(session.sid))));
      expect(second.map((r) => r.status)).toEqual(Array(50).fill(400));
      for (const { reqId } of second.slice(0, 5)) await expectRefusalLogged(app, reqId, "unknown_key");
      expect(proxy.count("/jwks"), "one refresh for all 50").toBe(1);
      // The refresh found the newly published key: a token signed with it is accepted, without another fetch.
      expect((await post(await logoutToken({ sub: "nobody" }, rotatedKey, "rotated-key"))).status).toBe(200);
      expect(proxy.count("/jwks")).toBe(1);
    } finally {
      proxy.tamperJson("/jwks", undefined);
    }
    expect(await redis.client.exists(session.key), "the forgeries destroyed nothing").toBe(1);
  },
  120_000,
);

it(
  "a key set that cannot be fetched is a 503 with Retry-After, an error line without a stack, retried no sooner than 5 s later; " +
    "once the keys are back, the same token is accepted",
  async () => {
    // A new process, after the sign-in (which fetches the keys): no keys cached.
    const session = await signedIn();
    await app.stop();
    app = await startApp(env, ports.app);
    proxy.resetCounts();
    const token = await logoutToken({ sid: session.sid });

    const expectUnavailable = async (result: Awaited<ReturnType<typeof post>>, reason: RegExp) => {
      expect(result.status).toBe(503);
      expect(result.retryAfter).toBe("5");
      expect(result.body).toEqual({ error: "temporarily_unavailable" });
      const lines = await linesOf(app, result.reqId);
      const line = lines.find((l) => l.code === "jwks_unavailable");
      expect(line?.level).toBe("error");
      expect(line?.msg).toMatch(reason);
      for (const l of lines) expect(l.err, `a stack in "${l.msg}"`).toBeUndefined();
    };

    // The provider answers its key set with a 5xx.
    proxy.fail("/jwks", 503);
    await expectUnavailable(await post(token), /HTTP 503/);
    const failedAt = Date.now();
    expect(proxy.count("/jwks")).toBe(1);
    // Within the backoff: no new fetch, whatever the tokens (a known kid, unknown kids).
    const more = await Promise.all([
      ...Array.from({ length: 5 }, async () => post(await logoutToken({ sub: "nobody" }))),
      ...Array.from({ length: 5 }, async () => post(await forged(session.sid))),
    ]);
    expect(more.map((r) => r.status)).toEqual(Array(10).fill(503));
    expect(proxy.count("/jwks"), "no fetch within the backoff").toBe(1);

    // An answer that is not JSON.
    await sleepUntil(failedAt + BACKOFF_MS + 500);
    proxy.fail("/jwks", 200); // 200 with a text body
    await expectUnavailable(await post(token), /not JSON/);
    expect(proxy.count("/jwks")).toBe(2);

    // The provider unreachable.
    await sleepUntil(Date.now() + BACKOFF_MS + 500);
    await proxy.close();
    try {
      await expectUnavailable(await post(token), /ECONNREFUSED|fetch failed/);
    } finally {
      proxy = await startTamperingProxy(ports.provider, ports.proxy);
    }

    // Back: the token the 503s did not use up is accepted (its jti was not kept), and ends the session.
    await sleepUntil(Date.now() + BACKOFF_MS + 500);
    expect(await redis.client.exists(session.key)).toBe(1);
    expect((await post(token)).status).toBe(200);
    expect(await redis.client.exists(session.key)).toBe(0);
    expect(proxy.count("/jwks")).toBe(1);
  },
  90_000,
);
