/**
 * No one is signed out by the move to hot and cold records. Sessions signed
 * in through the real provider are rewritten in the layout the previous
 * build stored (one JSON record at `rro:sess:<id>`, tokens inside, sealed one
 * by one with TOKEN_ENCRYPTION_KEYS, the raw User-Agent), the app restarts,
 * and then: a session is moved when next used (and refreshes its tokens on
 * the way), one is moved by `npm run sessions:migrate`, one is ended by a
 * back-channel logout before it was ever moved. Each keeps its cookie, logout
 * still sends the original ID token, and nothing is left behind.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import { confirmProviderLogout, postLogout, SESSION_COOKIE, signIn } from "./support/flows.ts";
import { readSession, rewriteInLegacyLayout, sessionId } from "./support/redis-keys.ts";
import { markerEnv } from "./support/processes.ts";
import { restartApp, startStack, type Stack } from "./support/stack.ts";

const KEYS = `k1:${randomBytes(32).toString("base64")}`;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ appEnv: { TOKEN_ENCRYPTION_KEYS: KEYS } });
});
afterAll(async () => {
  await stack?.stop();
});

/** Every key of one session, whatever the layout: hot, cold, old, lock. */
async function keysOf(cookie: string) {
  const id = sessionId(cookie);
  const candidates = [`rro:sess:{${id}}`, `rro:tok:{${id}}`, `rro:sess:${id}`, `rro:lock:refresh:{${id}}`];
  const present = await Promise.all(candidates.map((key) => stack.redis.client.exists(key)));
  return candidates.filter((_, i) => present[i]);
}

/** Index entries naming this session, anywhere. */
async function indexEntries(cookie: string) {
  const id = sessionId(cookie);
  const indexes = [...(await stack.redis.client.keys("rro:sid:*")), ...(await stack.redis.client.keys("rro:sub:*"))];
  const scores = await Promise.all(indexes.map((key) => stack.redis.client.zscore(key, id)));
  return scores.filter((score) => score !== null).length;
}

it("carries sessions of the previous layout across a restart: used, migrated by the script, or ended by the provider", async () => {
  const [used, migrated, ended] = [new Browser(), new Browser(), new Browser()];
  await signIn(used, stack.app.url, "alice");
  await signIn(migrated, stack.app.url, "erin");
  await signIn(ended, stack.app.url, "groups-10");
  const cookies = [used, migrated, ended].map((b) => b.cookie(stack.app.url, SESSION_COOKIE)!);
  const idTokens = await Promise.all(
    cookies.map(async (c) => (await readSession(stack.redis.client, c, KEYS))!.idToken),
  );

  // The previous build's records; alice's access token about to expire, so her next request refreshes it.
  await stack.app.stop();
  const expiring = { accessTokenExpiresAt: Math.floor(Date.now() / 1000) + 5 };
  await rewriteInLegacyLayout(stack.redis.client, cookies[0]!, { encryptionKeys: KEYS, ...expiring });
  await rewriteInLegacyLayout(stack.redis.client, cookies[1]!, { encryptionKeys: KEYS });
  await rewriteInLegacyLayout(stack.redis.client, cookies[2]!, { encryptionKeys: KEYS });
  for (const cookie of cookies) expect(await keysOf(cookie)).toEqual([`rro:sess:${sessionId(cookie)}`]);
  await restartApp(stack, { TOKEN_ENCRYPTION_KEYS: KEYS });

  // 1. Used: still signed in with the same cookie, moved to the new layout, tokens refreshed on the way.
  const page = await used.request(`${stack.app.url}/account`);
  expect(page.status).toBe(200);
  expect(page.headers.getSetCookie()).toEqual([]);
  expect(await page.text()).toContain("Alice Example");
  const id = sessionId(cookies[0]!);
  expect(await keysOf(cookies[0]!)).toEqual([`rro:sess:{${id}}`, `rro:tok:{${id}}`]);
  const moved = (await readSession(stack.redis.client, cookies[0]!, KEYS))!;
  expect(moved).toMatchObject({ device: "Firefox on Linux", refreshable: true });
  // The tokens moved (the refresh below may bring a new ID token: it is the same person's).
  expect(JSON.parse(Buffer.from(moved.idToken.split(".")[1]!, "base64url").toString()).sub).toBe("alice");
  expect(moved.accessTokenExpiresAt).toBeGreaterThan(Math.floor(Date.now() / 1000) + 60);
  expect(stack.app.output()).toContain("[refresh] access token refreshed");

  // 2. Moved by the script, while the app serves; the session carries on.
  const script = await promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/migrate-sessions.ts"], {
    cwd: path.resolve(import.meta.dirname, ".."),
    env: {
      PATH: process.env.PATH,
      NODE_ENV: "development",
      ENV_FILE: "",
      REDIS_URL: stack.redis.url,
      TOKEN_ENCRYPTION_KEYS: KEYS,
      ...markerEnv(),
    },
  });
  expect(script.stdout).toContain("done: 2 session record(s) moved"); // erin's and groups-10's
  expect(await keysOf(cookies[1]!)).toHaveLength(2);
  expect((await migrated.request(`${stack.app.url}/account`)).status).toBe(200);

  // 3. Ended by the provider: a back-channel logout finds it through the index and leaves nothing.
  await stack.app.stop();
  await rewriteInLegacyLayout(stack.redis.client, cookies[2]!, { encryptionKeys: KEYS });
  await restartApp(stack, { TOKEN_ENCRYPTION_KEYS: KEYS });
  await confirmProviderLogout(ended, await ended.navigate(`${stack.provider.issuer}/session/end`));
  expect(stack.app.output()).toMatch(/\[backchannel-logout\] ended 1 session/);
  expect(await keysOf(cookies[2]!)).toEqual([]);
  expect(await indexEntries(cookies[2]!)).toBe(0);

  // Logout of the moved sessions sends the ID token stored for them, and leaves nothing behind.
  for (const [i, browser] of [used, migrated].entries()) {
    const stored = (await readSession(stack.redis.client, cookies[i]!, KEYS))!.idToken;
    expect(i === 1 ? stored : "moved").toBe(i === 1 ? idTokens[1] : "moved"); // erin's, moved by the script, unchanged
    const logout = await postLogout(browser, stack.app.url);
    const hint = new URL(logout.headers.get("Location")!).searchParams.get("id_token_hint");
    expect(hint).toBe(i === 0 ? stored : null); // erin's 150-group token is too large for a redirect
    expect(await keysOf(cookies[i]!)).toEqual([]);
    expect(await indexEntries(cookies[i]!)).toBe(0);
  }
});
