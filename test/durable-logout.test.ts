/**
 * REDIS_WAIT_REPLICAS=1 against one redis-server, which has no replica: every
 * way a signed-in session is ended (logout, the sessions page, a back-channel
 * logout, a refresh token the provider refused) waits out REDIS_WAIT_TIMEOUT,
 * gets 0 replicas, logs a warning with the counts, and still ends the
 * session; a sign-in does not wait. Its complement, `min-replicas-to-write`,
 * makes Redis refuse writes, which the app answers as an outage. With
 * replicas and a failover: test/redis-topologies/durable-logout.test.ts.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import { confirmProviderLogout, postLogout, SESSION_COOKIE, signedInBrowser } from "./support/flows.ts";
import { readSession } from "./support/redis-keys.ts";
import { CLIENT_ID, CLIENT_SECRET, startStack, type Stack } from "./support/stack.ts";
import { until } from "./support/until.ts";

const WAIT_TIMEOUT_MS = 150;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ appEnv: { REDIS_WAIT_REPLICAS: "1", REDIS_WAIT_TIMEOUT: String(WAIT_TIMEOUT_MS) } });
});
afterAll(async () => {
  await stack?.stop();
});

const signedIn = (username = "alice") => signedInBrowser(stack.app.url, username);
/** The app's WAIT warnings so far, as logged (JSON). */
const warnings = () =>
  stack.app
    .stdout()
    .split("\n")
    .filter((line) => line.includes("replicas acknowledged"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
const account = async (browser: Browser) => (await browser.request(`${stack.app.url}/account`)).status;

it("a logout waits out the timeout, gets no replica, says so, and signs out all the same", async () => {
  const before = warnings().length;
  const { browser, key } = await signedIn();
  expect(warnings()).toHaveLength(before); // signing in ended the pre-sign-in session without waiting

  const started = Date.now();
  const response = await postLogout(browser, stack.app.url);
  const ms = Date.now() - started;
  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toMatch(/\/session\/end\?/);
  expect(response.headers.getSetCookie().join()).toContain(`${SESSION_COOKIE}=;`);
  expect(ms).toBeGreaterThanOrEqual(WAIT_TIMEOUT_MS - 10);
  expect(await stack.redis.client.exists(key)).toBe(0);
  expect(warnings().slice(before)).toEqual([
    expect.objectContaining({
      level: "warn",
      acknowledged: 0,
      wanted: 1,
      sessions: 1,
      waitedMs: expect.any(Number),
      msg: `[session] WAIT: 0 of 1 replicas acknowledged the end of 1 session within ${WAIT_TIMEOUT_MS} ms; deleted on the primary, but a failover now could bring it back`,
    }),
  ]);
  expect(await account(browser)).toBe(302);
});

it("ending other sessions on /sessions waits once for all of them, and ends them", async () => {
  const [mine, ...others] = [await signedIn("groups-1"), await signedIn("groups-1"), await signedIn("groups-1")];
  const before = warnings().length;
  const ended = await mine!.browser.request(`${stack.app.url}/sessions`, {
    method: "POST",
    headers: { Origin: stack.app.url },
    form: { intent: "end-others" },
  });
  expect(ended.headers.get("Location")).toBe("/sessions?ended=2");
  expect(warnings().slice(before)).toEqual([expect.objectContaining({ acknowledged: 0, wanted: 1, sessions: 2 })]);
  for (const { key } of others) expect(await stack.redis.client.exists(key)).toBe(0);
  expect([await account(others[0]!.browser), await account(others[1]!.browser), await account(mine!.browser)]).toEqual([
    302, 302, 200,
  ]);
});

it("a back-channel logout waits too, and ends the session", async () => {
  const { browser, key } = await signedIn("groups-2");
  const before = warnings().length;
  await confirmProviderLogout(browser, await browser.navigate(`${stack.provider.issuer}/session/end`));
  expect(await until(async () => (await stack.redis.client.exists(key)) === 0, 5000)).toBe(true);
  expect(await until(async () => warnings().length > before, 5000)).toBe(true);
  expect(warnings().slice(before)).toEqual([expect.objectContaining({ acknowledged: 0, sessions: 1 })]);
  expect(await account(browser)).toBe(302);
});

it("a refresh token the provider refused ends the session the same way", async () => {
  const { browser, cookie, key } = await signedIn("groups-3");
  const record = (await readSession(stack.redis.client, cookie))!;
  const hot = JSON.parse((await stack.redis.client.get(key))!) as Record<string, unknown>;
  // The access token about to expire, its refresh token revoked at the provider.
  await stack.redis.client.set(
    key,
    JSON.stringify({ ...hot, accessTokenExpiresAt: Math.floor(Date.now() / 1000) + 5 }),
    "KEEPTTL",
  );
  const revoked = await fetch(`${stack.provider.issuer}/token/revocation`, {
    method: "POST",
    headers: {
      Authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ token: record.refreshToken, token_type_hint: "refresh_token" }),
  });
  expect(revoked.status).toBe(200);
  const before = warnings().length;
  expect(await account(browser)).toBe(302);
  expect(stack.app.output()).toContain("refused the refresh token (invalid_grant)");
  expect(warnings().slice(before)).toEqual([expect.objectContaining({ acknowledged: 0, sessions: 1 })]);
  expect(await stack.redis.client.exists(key)).toBe(0);
});

it("with min-replicas-to-write and no replica, Redis refuses writes (NOREPLICAS): 503 and Retry-After, and a logout keeps the cookie", async () => {
  const { browser, key } = await signedIn("groups-4");
  await stack.redis.client.config("SET", "min-replicas-to-write", "1");
  try {
    const signInAttempt = await new Browser().request(`${stack.app.url}/login?returnTo=%2Faccount`, {
      method: "POST",
      headers: { Origin: stack.app.url },
    });
    expect(signInAttempt.status).toBe(503);
    expect(signInAttempt.headers.get("Retry-After")).toBe("5");
    const logout = await postLogout(browser, stack.app.url);
    expect(logout.status).toBe(503);
    expect(logout.headers.getSetCookie().join()).not.toContain(`${SESSION_COOKIE}=;`);
    expect(await stack.redis.client.exists(key)).toBe(1);
  } finally {
    await stack.redis.client.config("SET", "min-replicas-to-write", "0");
  }
  expect((await postLogout(browser, stack.app.url)).status).toBe(302);
});
