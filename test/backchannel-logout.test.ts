/**
 * OpenID Connect Back-Channel Logout 1.0: a logout at the provider (its own
 * logout page) ends the app session through the real provider's logout
 * token; valid tokens end the sessions of their sid or sub; forged, expired,
 * replayed, wrong-audience, with-nonce and missing-event tokens (all signed
 * with the provider's own key, except the forged one) are refused with 400
 * and destroy nothing.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { SignJWT } from "jose";
import type { JWK } from "oidc-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import { confirmProviderLogout, SESSION_COOKIE, signIn } from "./support/flows.ts";
import { sessionKey, readSession } from "./support/redis-keys.ts";
import { CLIENT_ID, startStack, type Stack } from "./support/stack.ts";

const EVENT = "http://schemas.openid.net/event/backchannel-logout";
const KID = "test-signing-key";
const rsa = () => generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
const providerKey = rsa();
const attackerKey = rsa();

let stack: Stack;
beforeAll(async () => {
  const jwk = { ...(providerKey.export({ format: "jwk" }) as JWK), kid: KID, use: "sig", alg: "RS256" };
  stack = await startStack({ providerOptions: { signingKey: jwk } });
});
afterAll(async () => {
  await stack?.stop();
});

async function signedIn(username = "alice") {
  const browser = new Browser();
  await signIn(browser, stack.app.url, username);
  const cookie = browser.cookie(stack.app.url, SESSION_COOKIE)!;
  const key = sessionKey(cookie);
  const record = (await readSession(stack.redis.client, cookie))!;
  return { browser, key, sid: record.sid as string, sub: record.user.sub as string };
}

function logoutToken(
  claims: Record<string, unknown>,
  options: { key?: KeyObject; typ?: string | null; omit?: string[] } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    iss: stack.provider.issuer,
    aud: CLIENT_ID,
    iat: now,
    exp: now + 120,
    jti: randomUUID(),
    events: { [EVENT]: {} },
    ...claims,
  };
  for (const name of options.omit ?? []) delete payload[name];
  const header = { alg: "RS256", kid: KID, ...(options.typ === null ? {} : { typ: options.typ ?? "logout+jwt" }) };
  return new SignJWT(payload).setProtectedHeader(header).sign(options.key ?? providerKey);
}

async function post(token: string) {
  const response = await fetch(`${stack.app.url}/auth/backchannel-logout`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ logout_token: token }),
  });
  return { status: response.status, cacheControl: response.headers.get("Cache-Control"), body: await response.json() };
}

describe("from the real provider", () => {
  it("puts the provider's sid in the session", async () => {
    const { sid } = await signedIn();
    expect(sid).toMatch(/.{10,}/);
  });

  it("a logout on the provider's own page ends the app session", async () => {
    const { browser, key } = await signedIn();
    const confirmation = await browser.navigate(`${stack.provider.issuer}/session/end`);
    await confirmProviderLogout(browser, confirmation);
    expect(await stack.redis.client.exists(key)).toBe(0);
    expect((await browser.request(`${stack.app.url}/account`)).status).toBe(302);
    expect(stack.app.output()).toMatch(/\[backchannel-logout\] ended 1 session/);
  });
});

describe("valid logout tokens", () => {
  it("end every session of the sid, and only those, with 200 and no-store", async () => {
    const target = await signedIn();
    const other = await signedIn(); // the same person in another browser: another provider session (sid)
    expect(other.sid).not.toBe(target.sid);
    const result = await post(await logoutToken({ sid: target.sid, sub: target.sub }));
    expect(result).toEqual({ status: 200, cacheControl: "no-store", body: {} });
    expect(await stack.redis.client.exists(target.key)).toBe(0);
    expect(await stack.redis.client.exists(other.key)).toBe(1);
  });

  it("with sid and a sub that is not that session's user, end nothing", async () => {
    const target = await signedIn();
    expect((await post(await logoutToken({ sid: target.sid, sub: "somebody-else" }))).status).toBe(200);
    expect(await stack.redis.client.exists(target.key)).toBe(1);
  });

  it("with only sub, end all of that user's sessions", async () => {
    const first = await signedIn();
    const second = await signedIn();
    expect((await post(await logoutToken({ sub: first.sub }))).status).toBe(200);
    expect(await stack.redis.client.exists(first.key)).toBe(0);
    expect(await stack.redis.client.exists(second.key)).toBe(0);
  });

  it("are accepted with typ JWT (Keycloak) or no typ, and when the sessions are already gone", async () => {
    const { sid } = await signedIn();
    expect((await post(await logoutToken({ sid }, { typ: "JWT" }))).status).toBe(200);
    expect((await post(await logoutToken({ sid }, { typ: null }))).status).toBe(200);
    expect((await post(await logoutToken({ sid, exp: undefined }, { omit: ["exp"] }))).status).toBe(200);
  });
});

describe("refused logout tokens destroy nothing", () => {
  const cases: Array<[string, (s: { sid: string; sub: string }) => Promise<string>, RegExp]> = [
    ["forged (another key, same kid)", (s) => logoutToken({ sid: s.sid }, { key: attackerKey }), /signature/],
    [
      "expired",
      (s) =>
        logoutToken({ sid: s.sid, iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 300 }),
      /exp/,
    ],
    [
      "issued too long ago (no exp)",
      (s) => logoutToken({ sid: s.sid, iat: Math.floor(Date.now() / 1000) - 3600 }, { omit: ["exp"] }),
      /iat|age/,
    ],
    ["for another audience", (s) => logoutToken({ sid: s.sid, aud: "someone-else" }), /aud/],
    ["from another issuer", (s) => logoutToken({ sid: s.sid, iss: "https://evil.example" }), /iss/],
    ["with a nonce", (s) => logoutToken({ sid: s.sid, nonce: "n" }), /nonce/],
    [
      "without the back-channel event",
      (s) => logoutToken({ sid: s.sid, events: { "http://example.com/other": {} } }),
      /events/,
    ],
    ["without events", (s) => logoutToken({ sid: s.sid }, { omit: ["events"] }), /events/],
    ["without sid and sub", () => logoutToken({}, { omit: ["sub"] }), /sid, sub/],
    ["with a typ of another kind of token", (s) => logoutToken({ sid: s.sid }, { typ: "at+jwt" }), /typ/],
    ["not a JWT at all", async () => "not-a-jwt", /rejected/],
  ];
  it.each(cases)("%s", async (_name, make, reason) => {
    const session = await signedIn();
    const result = await post(await make(session));
    expect(result.status).toBe(400);
    expect(result.cacheControl).toBe("no-store");
    expect(result.body.error).toBe("invalid_request");
    expect(result.body.error_description).toMatch(reason);
    expect(await stack.redis.client.exists(session.key)).toBe(1);
  });

  it("a replayed token (same jti) is refused the second time", async () => {
    const first = await signedIn();
    const token = await logoutToken({ sub: first.sub });
    expect((await post(token)).status).toBe(200);
    const second = await signedIn();
    const replay = await post(token);
    expect(replay.status).toBe(400);
    expect(replay.body.error_description).toMatch(/already used/);
    expect(await stack.redis.client.exists(second.key)).toBe(1);
  });

  it("a token signed with a key id the provider does not publish (yet) is a retryable 503", async () => {
    const session = await signedIn();
    const token = await new SignJWT({
      iss: stack.provider.issuer,
      aud: CLIENT_ID,
      iat: Math.floor(Date.now() / 1000),
      jti: randomUUID(),
      events: { [EVENT]: {} },
      sid: session.sid,
    })
      .setProtectedHeader({ alg: "RS256", kid: "a-rotated-key", typ: "logout+jwt" })
      .sign(attackerKey);
    const result = await post(token);
    expect(result.status).toBe(503);
    expect(await stack.redis.client.exists(session.key)).toBe(1);
  });

  it("a missing token is refused, and GET is not allowed", async () => {
    const missing = await fetch(`${stack.app.url}/auth/backchannel-logout`, { method: "POST" });
    expect(missing.status).toBe(400);
    expect((await fetch(`${stack.app.url}/auth/backchannel-logout`)).status).toBe(405);
  });
});
