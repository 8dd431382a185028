/**
 * The app on a primary and replica watched by three real Sentinels: it finds
 * the primary through them, and when the primary crashes and a Sentinel
 * promotes the replica, the app follows by itself and nobody is signed out.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { Browser } from "../support/browser.ts";
import { postLogout, signedInBrowser } from "../support/flows.ts";
import { replicationInfo, startRedisSentinel, until, type TestSentinel } from "../support/redis-topologies.ts";
import { startStack, type Stack } from "../support/stack.ts";

let sentinel: TestSentinel;
let stack: Stack;
beforeAll(async () => {
  sentinel = await startRedisSentinel();
  stack = await startStack({
    appEnv: {
      REDIS_URL: "redis://127.0.0.1/2",
      REDIS_SENTINELS: sentinel.sentinelList,
      REDIS_SENTINEL_MASTER: sentinel.master,
    },
  });
}, 90_000);
afterAll(async () => {
  await stack?.stop();
  await sentinel?.stop();
});

const signedIn = (username: string) => signedInBrowser(stack.app.url, username);
const accountStatus = async (browser: Browser) => (await browser.request(`${stack.app.url}/account`)).status;
const offset = async (port: number) =>
  /(?:master_repl_offset|slave_repl_offset):(\d+)/.exec(await replicationInfo(port))?.[1];

it("keeps sessions on the primary the Sentinels name, in the database REDIS_URL names", async () => {
  const { key } = await signedIn("groups-1");
  expect(await sentinel.primaryPort()).toBe(sentinel.primary.port);
  const { Redis } = await import("ioredis");
  const primary = new Redis({ host: "127.0.0.1", port: sentinel.primary.port, db: 2 });
  try {
    expect(await primary.exists(key)).toBe(1);
    expect(await primary.select(0).then(() => primary.exists(key))).toBe(0);
  } finally {
    primary.disconnect();
  }
});

it("follows a failover: the promoted replica serves every session, and writes go to it", async () => {
  const people = await Promise.all(["alice", "groups-2", "groups-3"].map(signedIn));
  await until(
    "the replica to catch up",
    async () => (await offset(sentinel.replica.port)) === (await offset(sentinel.primary.port)),
  );

  await sentinel.primary.crash();
  const crashed = Date.now();
  expect([200, 503]).toContain(await accountStatus(people[0]!.browser)); // 503 until the failover: never a sign-out
  await until(
    "a Sentinel to promote the replica",
    async () => (await sentinel.primaryPort()) === sentinel.replica.port,
    30_000,
  );
  const promoted = Date.now();
  await until(
    "the app to reach the new primary",
    async () => (await accountStatus(people[0]!.browser)) === 200,
    15_000,
  );
  console.log(
    `[sentinel] failover: promoted ${promoted - crashed} ms after the crash; app served sessions again ${Date.now() - promoted} ms later`,
  );
  for (const { browser } of people) expect(await accountStatus(browser)).toBe(200);

  const late = await signedIn("groups-4");
  expect(await accountStatus(late.browser)).toBe(200);
  for (const { browser } of [...people, late]) {
    expect((await postLogout(browser, stack.app.url)).status).toBe(302);
    expect(await accountStatus(browser)).toBe(302);
  }
  expect(stack.app.process.exitCode).toBeNull();
});
