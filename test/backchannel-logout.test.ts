/**
 * OpenID Connect Back-Channel Logout 1.0: a logout at the provider (its own
 * logout page) ends the app session through the real provider's logout
 * token; valid tokens end the sessions of their sid or sub. Refused, with 400
 * (never a 503 the provider would retry), a warning naming the refusal's code
 * and no stack in the log, and nothing destroyed: tokens forged with another
 * key, with a key id the provider never published, unsigned (alg none) or
 * HMAC-signed, expired, too old, issued in the future, for another audience,
 * from another issuer, with a nonce, without the back-channel event, without
 * sid and sub, with another typ, without jti, replayed, and garbage of many
 * shapes; so are requests that are not a form POST of one logout_token.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { SignJWT } from "jose";
import type { JWK } from "oidc-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectRefusalLogged, newRequestId } from "./support/app-log.ts";
import { confirmProviderLogout, signedInBrowser, postLogoutToken } from "./support/flows.ts";
import { readSession } from "./support/redis-keys.ts";
import { scrape } from "./support/metrics.ts";
import { CLIENT_ID, startStack, type Stack } from "./support/stack.ts";

const METRICS_TOKEN = "metrics-token-0123456789abcdef0123456789";
const metric = async (name: string, labels: Record<string, string>) =>
  (await scrape(`${stack.app.url}/metrics`, METRICS_TOKEN)).value(name, labels);

const EVENT = "http://schemas.openid.net/event/backchannel-logout";
const KID = "test-signing-key";
const rsa = () => generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
const providerKey = rsa();
const attackerKey = rsa();

let stack: Stack;
beforeAll(async () => {
  const jwk = { ...(providerKey.export({ format: "jwk" }) as JWK), kid: KID, use: "sig", alg: "RS256" };
  stack = await startStack({ appEnv: { METRICS_TOKEN }, providerOptions: { signingKey: jwk } });
});
afterAll(async () => {
  await stack?.stop();
});

async function signedIn(username = "alice") {
  const { browser, cookie, key } = await signedInBrowser(stack.app.url, username);
  const record = (await readSession(stack.redis.client, cookie))!;
  return { browser, key, sid: record.sid as string, sub: record.user.sub as string };
}

function logoutToken(
  claims: Record<string, unknown>,
  options: {
    key?: KeyObject | Uint8Array;
    typ?: string | null;
    omit?: string[];
    alg?: string;
    kid?: string | null;
  } = {},
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
  const header = {
    alg: options.alg ?? "RS256",
    ...(options.kid === null ? {} : { kid: options.kid ?? KID }),
    ...(options.typ === null ? {} : { typ: options.typ ?? "logout+jwt" }),
  };
  return new SignJWT(payload).setProtectedHeader(header).sign(options.key ?? providerKey);
}

const b64 = (value: unknown) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** A token made by hand: any header and payload, and a signature (default none at all). */
function handMade(header: unknown, payload: unknown, signature = "") {
  return `${b64(header)}.${b64(payload)}.${signature}`;
}

/** A well-formed payload for a hand-made token. */
function claimsFor(sid: string) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: stack.provider.issuer, aud: CLIENT_ID, iat: now, jti: randomUUID(), events: { [EVENT]: {} }, sid };
}

async function post(token: string, reqId = newRequestId()) {
  const response = await postLogoutToken(stack.app.url, token, reqId);
  return {
    status: response.status,
    cacheControl: response.headers.get("Cache-Control"),
    body: await response.json(),
    reqId,
  };
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
    const ended = () => metric("rro_backchannel_logouts_total", { outcome: "ended" });
    const sessionsEnded = () => metric("rro_sessions_ended_total", { reason: "backchannel" });
    const [endedBefore, sessionsBefore] = [await ended(), await sessionsEnded()];
    const { status, cacheControl, body } = await post(await logoutToken({ sid: target.sid, sub: target.sub }));
    expect({ status, cacheControl, body }).toEqual({ status: 200, cacheControl: "no-store", body: {} });
    expect(await stack.redis.client.exists(target.key)).toBe(0);
    expect(await stack.redis.client.exists(other.key)).toBe(1);
    expect([(await ended()) - endedBefore, (await sessionsEnded()) - sessionsBefore]).toEqual([1, 1]);
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

type Make = (s: { sid: string; sub: string }) => Promise<string> | string;
const now = () => Math.floor(Date.now() / 1000);

describe("refused logout tokens: 400, a warning with the refusal's code and no stack, nothing destroyed", () => {
  const cases: Array<[string, Make, string, RegExp]> = [
    [
      "forged (another key, same kid)",
      (s) => logoutToken({ sid: s.sid }, { key: attackerKey }),
      "bad_signature",
      /signature/,
    ],
    [
      "signed by a key the provider never published, under a kid it never published",
      (s) => logoutToken({ sid: s.sid }, { key: attackerKey, kid: "never-published" }),
      "unknown_key",
      /never-published/,
    ],
    [
      "forged, without a kid",
      (s) => logoutToken({ sid: s.sid }, { key: attackerKey, kid: null }),
      "bad_signature",
      /signature/,
    ],
    [
      "unsigned (alg none)",
      (s) => handMade({ alg: "none", typ: "logout+jwt" }, claimsFor(s.sid)),
      "alg_not_accepted",
      /none/,
    ],
    [
      "unsigned, alg NONE in capitals",
      (s) => handMade({ alg: "NONE", kid: KID }, claimsFor(s.sid)),
      "alg_not_accepted",
      /none/i,
    ],
    [
      "signed with HMAC (HS256), as if the provider's public key were a secret",
      (s) => logoutToken({ sid: s.sid }, { alg: "HS256", key: new TextEncoder().encode("k".repeat(32)) }),
      "alg_not_accepted",
      /HS256/,
    ],
    [
      "signed with an algorithm the provider does not advertise (RS512)",
      (s) => logoutToken({ sid: s.sid }, { alg: "RS512" }),
      "alg_not_accepted",
      /RS512/,
    ],
    [
      "with a signature part left empty",
      (s) => handMade({ alg: "RS256", kid: KID }, claimsFor(s.sid)),
      "bad_signature",
      /no signature/,
    ],
    ["expired", (s) => logoutToken({ sid: s.sid, iat: now() - 600, exp: now() - 300 }), "expired", /exp/],
    [
      "issued too long ago (no exp)",
      (s) => logoutToken({ sid: s.sid, iat: now() - 3600 }, { omit: ["exp"] }),
      "too_old",
      /iat/,
    ],
    [
      "issued in the future",
      (s) => logoutToken({ sid: s.sid, iat: now() + 600, exp: now() + 900 }),
      "issued_in_future",
      /future/,
    ],
    ["without iat", (s) => logoutToken({ sid: s.sid }, { omit: ["iat"] }), "missing_iat", /iat/],
    ["not valid yet (nbf)", (s) => logoutToken({ sid: s.sid, nbf: now() + 600 }), "not_yet_valid", /nbf/],
    ["for another audience", (s) => logoutToken({ sid: s.sid, aud: "someone-else" }), "wrong_audience", /aud/],
    ["without an audience", (s) => logoutToken({ sid: s.sid }, { omit: ["aud"] }), "wrong_audience", /aud/],
    ["from another issuer", (s) => logoutToken({ sid: s.sid, iss: "https://evil.example" }), "wrong_issuer", /iss/],
    [
      "from the issuer spelled otherwise (a trailing slash)",
      (s) => logoutToken({ sid: s.sid, iss: `${stack.provider.issuer}/` }),
      "wrong_issuer",
      /exactly/,
    ],
    ["with a nonce", (s) => logoutToken({ sid: s.sid, nonce: "n" }), "nonce_present", /nonce/],
    [
      "without the back-channel event",
      (s) => logoutToken({ sid: s.sid, events: { "http://example.com/other": {} } }),
      "missing_event",
      /events/,
    ],
    ["without events", (s) => logoutToken({ sid: s.sid }, { omit: ["events"] }), "missing_event", /events/],
    [
      "with the event as a string",
      (s) => logoutToken({ sid: s.sid, events: { [EVENT]: "yes" } }),
      "missing_event",
      /events/,
    ],
    ["without sid and sub", () => logoutToken({}, { omit: ["sub"] }), "missing_sid_and_sub", /sid, sub/],
    ["with a sid that is not a string", (s) => logoutToken({ sid: 42, sub: s.sub }), "malformed_claim", /sid/],
    ["without jti", (s) => logoutToken({ sid: s.sid }, { omit: ["jti"] }), "missing_jti", /jti/],
    [
      "with a typ of another kind of token",
      (s) => logoutToken({ sid: s.sid }, { typ: "at+jwt" }),
      "unexpected_typ",
      /typ/,
    ],
    ["not a JWT at all", () => "not-a-jwt", "malformed_logout_token", /not a signed JWT/],
    ["three dots", () => "...", "malformed_logout_token", /not a signed JWT/],
    ["three parts that are not base64url", () => "a*b.c$d.e!f", "malformed_logout_token", /not a signed JWT/],
    [
      "a header that is not JSON",
      (s) => `${b64("not json")}.${b64(claimsFor(s.sid))}.c2ln`,
      "malformed_logout_token",
      /header/,
    ],
    [
      "a header that is a JSON array",
      (s) => handMade(["RS256"], claimsFor(s.sid), "c2ln"),
      "malformed_logout_token",
      /header/,
    ],
    [
      "a payload that is JSON null",
      () => handMade({ alg: "RS256", kid: KID }, null, "c2ln"),
      "malformed_logout_token",
      /payload/,
    ],
    [
      "a payload that is not UTF-8",
      () => `${b64({ alg: "RS256" })}.${Buffer.from([0xff, 0xfe, 0x7b]).toString("base64url")}.c2ln`,
      "malformed_logout_token",
      /payload/,
    ],
    ["encrypted (five parts)", () => "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", "malformed_logout_token", /encrypted/],
  ];
  it.each(cases)("%s", async (_name, make, code, reason) => {
    const session = await signedIn();
    const result = await post(await make(session));
    expect(result.status).toBe(400);
    expect(result.cacheControl).toBe("no-store");
    expect(result.body.error).toBe("invalid_request");
    expect(result.body.error_description).toMatch(reason);
    expect(await stack.redis.client.exists(session.key)).toBe(1);
    await expectRefusalLogged(stack.app, result.reqId, code);
  });

  it("a replayed token (same jti) is refused the second time", async () => {
    const first = await signedIn();
    const token = await logoutToken({ sub: first.sub });
    expect((await post(token)).status).toBe(200);
    const second = await signedIn();
    const refused = () => metric("rro_backchannel_logouts_total", { outcome: "refused" });
    const before = await refused();
    const replay = await post(token);
    expect(replay.status).toBe(400);
    expect((await refused()) - before).toBe(1);
    expect(replay.body.error_description).toMatch(/already used/);
    expect(await stack.redis.client.exists(second.key)).toBe(1);
    await expectRefusalLogged(stack.app, replay.reqId, "replayed");
  });

  it("a request that is not a form POST of one logout_token is refused for what it is", async () => {
    const send = async (headers: Record<string, string>, body?: string) => {
      const reqId = newRequestId();
      const response = await fetch(`${stack.app.url}/auth/backchannel-logout`, {
        method: "POST",
        headers: { ...headers, "X-Request-Id": reqId },
        body,
      });
      return { status: response.status, body: await response.json(), reqId };
    };
    const token = await logoutToken({ sub: "nobody" });
    const form = "application/x-www-form-urlencoded";
    const requests: Array<[Record<string, string>, string | undefined, string]> = [
      [{}, undefined, "wrong_content_type"],
      [{ "Content-Type": "application/json" }, JSON.stringify({ logout_token: token }), "wrong_content_type"],
      [{ "Content-Type": "text/plain" }, `logout_token=${token}`, "wrong_content_type"],
      [{ "Content-Type": "multipart/form-data; boundary=x" }, "garbage", "wrong_content_type"],
      [{ "Content-Type": form }, "", "missing_logout_token"],
      [{ "Content-Type": form }, "logout_token=", "missing_logout_token"],
      [
        { "Content-Type": `${form}; charset=UTF-8` },
        `logout_token=${token}&logout_token=${token}`,
        "multiple_logout_tokens",
      ],
    ];
    for (const [headers, body, code] of requests) {
      const result = await send(headers, body);
      expect([code, result.status, result.body.error]).toEqual([code, 400, "invalid_request"]);
      await expectRefusalLogged(stack.app, result.reqId, code);
    }
  });

  it("GET is not allowed, nor PUT", async () => {
    expect((await fetch(`${stack.app.url}/auth/backchannel-logout`)).status).toBe(405);
    const put = await fetch(`${stack.app.url}/auth/backchannel-logout`, {
      method: "PUT",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ logout_token: await logoutToken({ sub: "nobody" }) }),
    });
    expect(put.status).toBe(405);
  });
});
