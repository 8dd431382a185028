/**
 * The ID token is checked, not just decoded. A man-in-the-middle proxy in
 * front of the provider rewrites the token endpoint's answer: the ID token
 * re-signed with an attacker's key, stripped to `alg: none`, MACed with the
 * provider's public key (algorithm confusion), or, since this test owns the
 * provider's signing key, validly signed with a wrong `aud`, a wrong `iss`, an
 * `exp` in the past (beyond openid-client's 30 s clock tolerance), or a wrong
 * or missing `nonce`. Each ends on the sign-in error page naming the check,
 * creates no session, and leaks no token.
 */
import { createHmac, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import type { JWK } from "oidc-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDevProvider, type DevProvider } from "../../server/dev-oidc-provider/index.ts";
import { Browser } from "../support/browser.ts";
import { signIn } from "../support/flows.ts";
import { freePort } from "../support/ports.ts";
import { CLIENT_ID, CLIENT_SECRET, startApp, startTestRedis, type App, type TestRedis } from "../support/stack.ts";
import { startTamperingProxy } from "../support/tampering-proxy.ts";
import {
  expectRefused as expectIdTokenRefused,
  signInWithIdToken as signInWithTamperedIdToken,
} from "../support/id-token-tampering.ts";

const KID = "provider-key";
const rsa = () => generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
const providerKey = rsa();
const attackerKey = rsa();

let redis: TestRedis;
let provider: DevProvider;
let proxy: Awaited<ReturnType<typeof startTamperingProxy>>;
let app: App;

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
  app = await startApp({ REDIS_URL: redis.url, OIDC_ISSUER: proxy.url }, appPort);
});
afterAll(async () => {
  await app?.stop();
  await proxy?.close();
  await provider?.close();
  await redis?.stop();
});

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const decode = (segment: string) => JSON.parse(Buffer.from(segment, "base64url").toString()) as Record<string, unknown>;

/** RS256 over header and claims with `key` (the provider's own, unless said otherwise). */
function signRs256(header: Record<string, unknown>, claims: Record<string, unknown>, key: KeyObject = providerKey) {
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${sign("sha256", Buffer.from(input), key).toString("base64url")}`;
}

/** The token's claims changed by `edit`, validly signed with the provider's key and kid. */
const resigned = (edit: (claims: Record<string, unknown>) => void) => (idToken: string) => {
  const [header, payload] = idToken.split(".");
  const claims = decode(payload!);
  edit(claims);
  return signRs256(decode(header!), claims);
};

/** Same header and claims, signed with a key the provider never published. */
function signedByAttacker(idToken: string) {
  const [header, payload] = idToken.split(".");
  return `${header}.${payload}.${sign("sha256", Buffer.from(`${header}.${payload}`), attackerKey).toString("base64url")}`;
}

function unsigned(idToken: string) {
  return `${b64url({ alg: "none", typ: "JWT" })}.${idToken.split(".")[1]}.`;
}

/** HS256 keyed with the provider's public key (PEM): the classic algorithm-confusion forgery. */
function macedWithPublicKey(idToken: string) {
  const input = `${b64url({ alg: "HS256", typ: "JWT", kid: KID })}.${idToken.split(".")[1]}`;
  const pem = createPublicKey(providerKey).export({ format: "pem", type: "spki" });
  return `${input}.${createHmac("sha256", pem).update(input).digest("base64url")}`;
}

/** A full sign-in as alice whose token endpoint answer carries `rewrite(id_token)` instead of its ID token. */
const signInWithIdToken = (rewrite: (idToken: string) => string) =>
  signInWithTamperedIdToken({ app, redis, proxy }, rewrite);

/** The refusal every case ends with: 400, the check named (in the log too), nothing created, nothing leaked. */
const expectRefused = (result: Awaited<ReturnType<typeof signInWithIdToken>>, named: string) =>
  expectIdTokenRefused({ redis, app }, result, named, { logged: true });

describe("controls", () => {
  it("signs in through the proxy when nothing is tampered with", async () => {
    const { landed } = await signIn(new Browser(), app.url);
    expect(landed.url).toBe(`${app.url}/account`);
  });

  it("signs in with the ID token re-signed with the provider's key, claims unchanged (so each refusal below is its claim's)", async () => {
    const { page } = await signInWithIdToken(resigned(() => {}));
    expect(page.url).toBe(`${app.url}/account`);
    expect(page.status).toBe(200);
  });
});

describe("signature", () => {
  it("refuses an ID token signed with a key the provider did not publish", async () => {
    await expectRefused(await signInWithIdToken(signedByAttacker), "signature");
  });

  it("refuses an unsigned ID token (alg: none)", async () => {
    await expectRefused(await signInWithIdToken(unsigned), "unexpected JWT &quot;alg&quot; header parameter");
  });

  it("refuses HS256 keyed with the provider's public key (algorithm confusion)", async () => {
    await expectRefused(await signInWithIdToken(macedWithPublicKey), "unexpected JWT &quot;alg&quot; header parameter");
  });
});

describe("claims, validly signed by the provider's key", () => {
  it("refuses a wrong aud", async () => {
    await expectRefused(
      await signInWithIdToken(resigned((c) => (c.aud = "another-client"))),
      "unexpected JWT &quot;aud&quot; (audience) claim value",
    );
  });

  it("refuses a wrong iss", async () => {
    await expectRefused(
      await signInWithIdToken(resigned((c) => (c.iss = "https://evil.example"))),
      "unexpected JWT &quot;iss&quot; (issuer) claim value",
    );
  });

  it("refuses an ID token that expired 2 minutes ago (beyond the 30 s clock tolerance)", async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(
      await signInWithIdToken(resigned((c) => Object.assign(c, { iat: now - 720, exp: now - 120 }))),
      "unexpected JWT &quot;exp&quot; (expiration time) claim value, expiration is past current timestamp",
    );
  });

  it("refuses a wrong nonce", async () => {
    await expectRefused(
      await signInWithIdToken(resigned((c) => (c.nonce = "a-nonce-from-another-sign-in"))),
      "unexpected ID Token &quot;nonce&quot; claim value",
    );
  });

  it("refuses a missing nonce", async () => {
    await expectRefused(
      await signInWithIdToken(resigned((c) => delete c.nonce)),
      "JWT &quot;nonce&quot; (nonce) claim missing",
    );
  });
});
