/**
 * The ID token is checked, not just decoded: a token whose signature was made
 * with another key, or with `alg: none`, on the way from the provider's token
 * endpoint ends on the sign-in error page and creates no session.
 */
import { generateKeyPairSync, sign } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startDevProvider, type DevProvider } from "../server/dev-oidc-provider/index.ts";
import { Browser } from "./support/browser.ts";
import { signIn, startSignIn, submitLogin } from "./support/flows.ts";
import { freePort } from "./support/ports.ts";
import { sessionKeys } from "./support/redis-keys.ts";
import { CLIENT_ID, CLIENT_SECRET, startApp, startTestRedis, type App, type TestRedis } from "./support/stack.ts";
import { startTamperingProxy } from "./support/tampering-proxy.ts";

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
    client: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${appUrl}/auth/callback`], postLogoutRedirectUris: [`${appUrl}/`] },
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
const attacker = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;

/** Same header and claims, signed with a key the provider never published. */
function resignWithAttackerKey(idToken: string) {
  const [header, payload] = idToken.split(".");
  const signature = sign("sha256", Buffer.from(`${header}.${payload}`), attacker).toString("base64url");
  return `${header}.${payload}.${signature}`;
}

function unsigned(idToken: string) {
  const payload = idToken.split(".")[1];
  return `${b64url({ alg: "none", typ: "JWT" })}.${payload}.`;
}

async function signInThroughTamperedTokenResponse(rewrite: (idToken: string) => string) {
  proxy.tamper = (body) => ({ ...body, id_token: rewrite(String(body.id_token)) });
  try {
    const browser = new Browser();
    const before = await sessionKeys(redis.client);
    const page = await submitLogin(browser, await startSignIn(browser, app.url), "alice", "alice-password");
    return { page, added: (await sessionKeys(redis.client)).filter((k) => !before.includes(k)) };
  } finally {
    proxy.tamper = undefined;
  }
}

it("signs in through the proxy when nothing is tampered with (control)", async () => {
  const { landed } = await signIn(new Browser(), app.url);
  expect(landed.url).toBe(`${app.url}/account`);
});

it("refuses an ID token signed with a key the provider did not publish", async () => {
  const { page, added } = await signInThroughTamperedTokenResponse(resignWithAttackerKey);
  expect(page.status).toBe(400);
  expect(page.html).toContain('data-code="invalid_response"');
  expect(page.html).toMatch(/signature/i);
  for (const key of added) expect(JSON.parse((await redis.client.get(key))!).user).toBeUndefined();
});

it("refuses an unsigned ID token (alg: none)", async () => {
  const { page, added } = await signInThroughTamperedTokenResponse(unsigned);
  expect(page.status).toBe(400);
  expect(page.html).toContain('data-code="invalid_response"');
  for (const key of added) expect(JSON.parse((await redis.client.get(key))!).user).toBeUndefined();
});
