/**
 * Signing-key rotation at the provider, with the app running throughout (one
 * process, never restarted): the development provider first adds a new key
 * and signs with it while still publishing the old one, then removes the old
 * one, keeping its sessions and grants. New sign-ins and the provider's
 * back-channel logout tokens, signed with the new key, are accepted at once;
 * once the key set the app cached is older than OIDC_JWKS_MAX_AGE, tokens
 * signed with the removed key (an ID token at the callback, a logout token)
 * are refused with the usual answers and change nothing; a person signed in
 * before the rotation still logs out, at the provider too, though the
 * provider refuses the old ID token as `id_token_hint`. ID tokens without
 * `kid`: the one published key, or each of several, is tried.
 * docs/decisions/020-provider-key-rotation-and-jwks-refresh.md
 */
import { randomUUID, sign, createPrivateKey, type KeyObject } from "node:crypto";
import { decodeProtectedHeader, SignJWT } from "jose";
import type { JWK } from "oidc-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSigningKey, type DevProvider } from "../server/dev-oidc-provider/index.ts";
import { expectRefusalLogged, logLines, newRequestId } from "./support/app-log.ts";
import { Browser } from "./support/browser.ts";
import {
  confirmProviderLogout,
  isLoginForm,
  postLogout,
  SESSION_COOKIE,
  startSignIn,
  signedInBrowser,
  postLogoutToken as sendLogoutToken,
} from "./support/flows.ts";
import { freePort } from "./support/ports.ts";
import { readSession } from "./support/redis-keys.ts";
import { CLIENT_ID, startApp, startTestProvider, startTestRedis, type App, type TestRedis } from "./support/stack.ts";
import { startTamperingProxy } from "./support/tampering-proxy.ts";
import { signInWithIdToken as signInWithTamperedIdToken } from "./support/id-token-tampering.ts";
import { expectHarmless } from "./security/assertions.ts";

/** OIDC_JWKS_MAX_AGE for this app, in seconds: how long a removed key may still verify here. */
const MAX_AGE_S = 15;
const EVENT = "http://schemas.openid.net/event/backchannel-logout";

const oldKey: JWK = { ...generateSigningKey(), kid: "key-1" };
const newKey: JWK = { ...generateSigningKey(), kid: "key-2" };
const thirdKey: JWK = { ...generateSigningKey(), kid: "key-3" };
const privateKey = (jwk: JWK): KeyObject =>
  createPrivateKey({ key: jwk as import("node:crypto").JsonWebKey, format: "jwk" });
const attackerKey = privateKey(generateSigningKey());

let redis: TestRedis;
let provider: DevProvider;
let proxy: Awaited<ReturnType<typeof startTamperingProxy>>;
let app: App;
let endSessionEndpoint: string;

beforeAll(async () => {
  redis = await startTestRedis();
  const [appPort, providerPort, proxyPort] = await Promise.all([freePort(), freePort(), freePort()]);
  provider = await startTestProvider(`http://localhost:${appPort}`, {
    port: providerPort,
    issuer: `http://127.0.0.1:${proxyPort}`,
    signingKey: oldKey,
  });
  proxy = await startTamperingProxy(providerPort, proxyPort);
  app = await startApp({ REDIS_URL: redis.url, OIDC_ISSUER: proxy.url, OIDC_JWKS_MAX_AGE: String(MAX_AGE_S) }, appPort);
  const discovery = (await (await fetch(`${proxy.url}/.well-known/openid-configuration`)).json()) as Record<
    string,
    string
  >;
  endSessionEndpoint = discovery.end_session_endpoint!;
});
afterAll(async () => {
  await app?.stop();
  await proxy?.close();
  await provider?.close();
  await redis?.stop();
});

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const decode = (segment: string) => JSON.parse(Buffer.from(segment, "base64url").toString()) as Record<string, unknown>;

/** The same claims, RS256-signed with `key` under `kid` (none: no kid in the header). */
const resignedWith = (key: KeyObject, kid: string | undefined) => (idToken: string) => {
  const header = { alg: "RS256", typ: "JWT", ...(kid === undefined ? {} : { kid }) };
  const input = `${b64url(header)}.${b64url(decode(idToken.split(".")[1]!))}`;
  return `${input}.${sign("sha256", Buffer.from(input), key).toString("base64url")}`;
};

/** A sign-in as alice whose token endpoint answer carries `rewrite(id_token)`; Redis as it was before the login form was sent. */
const signInWithIdToken = (rewrite: (idToken: string) => string) =>
  signInWithTamperedIdToken({ app, redis, proxy }, rewrite);

/** A signed-in browser, its session's Redis key, provider session id and the kid of its ID token. */
async function signedIn(username = "alice") {
  const { browser, cookie, key, landed } = await signedInBrowser(app.url, username);
  expect(landed.url).toBe(`${app.url}/account`);
  const record = (await readSession(redis.client, cookie))!;
  return {
    browser,
    key,
    sid: record.sid as string,
    idToken: record.idToken as string,
    kid: decodeProtectedHeader(record.idToken as string).kid,
  };
}

const publishedKids = async () =>
  ((await (await fetch(`${proxy.url}/jwks`)).json()) as { keys: JWK[] }).keys.map((key) => key.kid);

async function postLogoutToken(token: string) {
  const reqId = newRequestId();
  const response = await sendLogoutToken(app.url, token, reqId);
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, reqId };
}

async function until(check: () => Promise<boolean>, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a signing-key rotation at the provider, the app running throughout", () => {
  let pid: number | undefined;
  let before: Awaited<ReturnType<typeof signedIn>>; // ends by the provider's back-channel logout
  let stays: Awaited<ReturnType<typeof signedIn>>; // logs out after the old key is gone
  let providerSessionOnly: Browser; // signed in at the provider before the rotation, app cookie dropped
  let removedAt = 0;

  it("before the rotation: sign-ins carry the first key's kid", async () => {
    pid = app.process.pid;
    expect(await publishedKids()).toEqual(["key-1"]);
    before = await signedIn();
    stays = await signedIn("erin");
    const third = await signedIn();
    expect([before.kid, stays.kid, third.kid]).toEqual(["key-1", "key-1", "key-1"]);
    third.browser.jar.get("localhost")!.delete(SESSION_COOKIE);
    providerSessionOnly = third.browser;
  });

  it("the provider adds a new key and signs with it, both published: a new sign-in works at once, one fetch of the keys, no restart", async () => {
    provider.setSigningKeys([newKey, oldKey]);
    expect(await publishedKids()).toEqual(["key-2", "key-1"]);
    proxy.resetCounts();
    const after = await signedIn();
    expect(after.kid, "the provider signs with the new key").toBe("key-2");
    // The app had fetched the keys moments ago (within the 30 s cooldown): the unknown kid fetched them again anyway.
    expect(proxy.count("/jwks")).toBe(1);
    expect(app.process.pid).toBe(pid);
    expect(app.process.exitCode).toBeNull();
    // The provider kept its sessions: a browser signed in there before the rotation skips the login form.
    const again = await startSignIn(providerSessionOnly, app.url);
    expect(isLoginForm(again)).toBe(false);
    expect(again.url).toBe(`${app.url}/account`);
    // And sessions from before the rotation still work in the app.
    expect((await before.browser.navigate(`${app.url}/account`)).url).toBe(`${app.url}/account`);
  });

  it("the provider's back-channel logout token, signed with the new key, ends a session from before the rotation", async () => {
    expect(await redis.client.exists(before.key)).toBe(1);
    // The person logs out at the provider directly: it sends the app a logout token for before.sid.
    const confirmation = await before.browser.navigate(endSessionEndpoint);
    expect(confirmation.status).toBe(200);
    const done = await confirmProviderLogout(before.browser, confirmation);
    expect(done.status).toBe(200);
    await until(async () => (await redis.client.exists(before.key)) === 0, "the back-channel logout ended the session");
    const accepted = logLines(app).filter((line) => line.req?.path === "/auth/backchannel-logout");
    expect(accepted.map((line) => line.res?.statusCode)).toEqual([200]);
    expect((await redis.client.exists(stays.key)) === 1, "only that session").toBe(true);
  });

  it("the provider removes the old key; once the app's cached keys are older than OIDC_JWKS_MAX_AGE, an ID token signed with it is refused at the callback and leaves nothing", async () => {
    provider.setSigningKeys([newKey]);
    removedAt = Date.now();
    expect(await publishedKids()).toEqual(["key-2"]);
    // Until then the app may still hold key-1 (cached before it was removed): the documented window.
    await sleep(MAX_AGE_S * 1000 + 1_000);
    proxy.resetCounts();

    const result = await signInWithIdToken(resignedWith(privateKey(oldKey), "key-1"));
    expect(result.page.status).toBe(400);
    expect(result.page.url).toMatch(new RegExp(`^${app.url}/auth/callback\\?`));
    expect(result.page.html).toContain('data-code="invalid_response"');
    expect(result.page.html).toContain(
      "no key the provider publishes verifies RS256 ID tokens with kid &quot;key-1&quot;",
    );
    expect(proxy.count("/jwks"), "the stale keys were fetched again, once").toBe(1);
    expect(result.page.hops.at(-1)!.setCookies).toEqual([]);
    await expectHarmless({ redis, app }, result.before, result.page.html, result.tokens);

    // The person can sign in again (the provider remembers them: no login form this time).
    const again = await startSignIn(result.browser, app.url);
    expect(again.url).toBe(`${app.url}/account`);
    expect(again.status).toBe(200);
  });

  it("a logout token signed with the removed key gets 400 and ends nothing", async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({
      iss: proxy.url,
      aud: CLIENT_ID,
      iat: now,
      exp: now + 120,
      jti: randomUUID(),
      sid: stays.sid,
      events: { [EVENT]: {} },
    })
      .setProtectedHeader({ alg: "RS256", kid: "key-1", typ: "logout+jwt" })
      .sign(privateKey(oldKey));
    const result = await postLogoutToken(token);
    expect(result.status).toBe(400);
    expect(result.body.error).toBe("invalid_request");
    await expectRefusalLogged(app, result.reqId, "unknown_key");
    expect(await redis.client.exists(stays.key)).toBe(1);
  });

  it("the provider refuses an id_token_hint signed with the removed key (what the app avoids sending)", async () => {
    const url = new URL(endSessionEndpoint);
    url.searchParams.set("id_token_hint", stays.idToken);
    const page = await new Browser().navigate(url.href);
    expect(page.status).toBe(400);
    expect(page.html).toContain("could not validate id_token_hint");
  });

  it("a person signed in before the rotation logs out: the app session ends, and the provider's too, without the stale id_token_hint", async () => {
    expect(stays.kid).toBe("key-1");
    expect(Date.now() - removedAt).toBeGreaterThan(MAX_AGE_S * 1000);
    const logout = await postLogout(stays.browser, app.url);
    expect(logout.status).toBe(302);
    const endSession = new URL(logout.headers.get("Location")!);
    expect(endSession.href.startsWith(endSessionEndpoint)).toBe(true);
    expect(endSession.searchParams.has("id_token_hint")).toBe(false);
    expect(endSession.searchParams.get("client_id")).toBe(CLIENT_ID);
    expect(await redis.client.exists(stays.key), "the app session ended before the provider was asked").toBe(0);
    expect(app.stdout()).toContain("no longer publishes the key that signed this session's ID token");

    const back = await confirmProviderLogout(stays.browser, await stays.browser.navigate(endSession.href));
    expect(back.url).toBe(`${app.url}/?state=${endSession.searchParams.get("state")}`);
    expect(back.html).toContain('data-notice="provider"');
    // The provider's session ended too: signing in again asks for the password.
    expect(isLoginForm(await startSignIn(stays.browser, app.url))).toBe(true);
  });

  it("ID tokens without kid: the one published key verifies them; with several, each is tried, and a foreign signature is still refused", async () => {
    // One key published (key-2).
    const single = await signInWithIdToken(resignedWith(privateKey(newKey), undefined));
    expect(single.page.url).toBe(`${app.url}/account`);

    // Several: the provider adds key-3 (signs with it); a sign-in with its kid makes the app fetch both.
    provider.setSigningKeys([thirdKey, newKey]);
    expect((await signedIn()).kid).toBe("key-3");
    const several = await signInWithIdToken(resignedWith(privateKey(newKey), undefined));
    expect(several.page.url, "key-2, the second of two, verified it").toBe(`${app.url}/account`);

    const forged = await signInWithIdToken(resignedWith(attackerKey, undefined));
    expect(forged.page.status).toBe(400);
    expect(forged.page.html).toContain('data-code="invalid_response"');
    expect(forged.page.html).toContain("signature (without a kid) does not verify");
    await expectHarmless({ redis, app }, forged.before, forged.page.html, forged.tokens);
  });

  it("a rotation while the provider's key set cannot be fetched: the sign-in fails as provider_unavailable (503) and leaves nothing; once the keys are back it works", async () => {
    const fourthKey: JWK = { ...generateSigningKey(), kid: "key-4" };
    provider.setSigningKeys([fourthKey, thirdKey]);
    proxy.fail("/jwks", 503);
    try {
      const result = await signInWithIdToken((idToken) => idToken);
      expect(result.page.status).toBe(503);
      expect(result.page.html).toContain('data-code="provider_unavailable"');
      expect(result.page.hops.at(-1)!.setCookies).toEqual([]);
      await expectHarmless({ redis, app }, result.before, result.page.html, result.tokens);
      const line = logLines(app).find((l) => l.code === "jwks_unavailable" || /could not be fetched/.test(l.msg));
      expect(line?.msg ?? app.stdout().slice(-2000)).toMatch(/HTTP 503/);
    } finally {
      proxy.fail("/jwks", 0);
    }
    await sleep(5_500); // the app waits 5 s after a failed fetch before the next
    expect((await signedIn()).kid).toBe("key-4");
  });
});
