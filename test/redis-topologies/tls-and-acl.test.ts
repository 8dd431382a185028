/**
 * `rediss://` with an ACL user and a database number, against a real
 * TLS-only redis-server whose default user is off and whose app user may
 * touch only `rro:*` keys: the app verifies the server's certificate (a CA
 * it was not told about is refused, and says so without the password).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { Browser } from "../support/browser.ts";
import { postLogout, SESSION_COOKIE, signIn } from "../support/flows.ts";
import { sessionKey } from "../support/redis-keys.ts";
import { startTlsRedis, type TestTlsRedis } from "../support/redis-topologies.ts";
import { startStack, type Stack } from "../support/stack.ts";

let redis: TestTlsRedis;
const stacks: Stack[] = [];
beforeAll(async () => {
  redis = await startTlsRedis();
}, 60_000);
afterAll(async () => {
  for (const stack of stacks) await stack.stop();
  await redis?.stop();
});

async function start(appEnv: Record<string, string>) {
  const stack = await startStack({ appEnv });
  stacks.push(stack);
  return stack;
}
const url = () => `rediss://${redis.user}:${redis.password}@127.0.0.1:${redis.node.port}/3`;

it("signs in and out over TLS as the ACL user, in database 3", async () => {
  const stack = await start({ REDIS_URL: url(), NODE_EXTRA_CA_CERTS: redis.caFile });
  const browser = new Browser();
  const { landed } = await signIn(browser, stack.app.url);
  expect(landed.status).toBe(200);
  const key = sessionKey(browser.cookie(stack.app.url, SESSION_COOKIE)!);
  const [db3, db0] = [redis.client(3), redis.client(0)];
  try {
    expect(await db3.exists(key)).toBe(1);
    expect(await db0.exists(key)).toBe(0);
    expect((await fetch(`${stack.app.url}/readyz`)).status).toBe(200);
    expect((await postLogout(browser, stack.app.url)).status).toBe(302);
    expect(await db3.exists(key)).toBe(0);
  } finally {
    db3.disconnect();
    db0.disconnect();
  }
  expect(stack.app.output()).not.toContain(redis.password);
});

it("refuses a server whose certificate it cannot verify, and says which dependency is failing", async () => {
  const stack = await start({ REDIS_URL: url() }); // no NODE_EXTRA_CA_CERTS: the test CA is unknown
  const ready = await fetch(`${stack.app.url}/readyz`);
  expect(ready.status).toBe(503);
  expect(await ready.text()).toMatch(/redis/i);
  const signInPage = await fetch(`${stack.app.url}/login?returnTo=/account`, {
    method: "POST",
    headers: { Origin: stack.app.url },
    redirect: "manual",
  });
  expect(signInPage.status).toBe(503);
  expect(stack.app.output()).toMatch(/certificate/i);
  expect(stack.app.output()).not.toContain(redis.password);
});
