/**
 * Logouts that a failover cannot undo (REDIS_WAIT_REPLICAS): a primary and a
 * replica watched by three real Sentinels, the replica replicating through a
 * link that can hold its stream back (a slow network, a busy replica). Two
 * app processes share them: one WAITs for a replica after ending a session,
 * the other does not and is the control, so each test shows what WAIT
 * changes. docs/operations.md#durable-logouts-on-replicated-redis
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Browser } from "../support/browser.ts";
import { postLogout, SESSION_COOKIE, signIn, signedInBrowser } from "../support/flows.ts";
import { RedisSessionStore } from "../../app/session/session-store.server.ts";
import {
  replicationInfo,
  startRedisSentinel,
  until,
  type ReplicationLink,
  type TestSentinel,
} from "../support/redis-topologies.ts";
import { startApp, startStack, type App, type Stack } from "../support/stack.ts";

const WAIT_TIMEOUT_MS = 1000;
/** How long a test holds the replication stream back before letting it through. */
const LAG_MS = 300;

let sentinel: TestSentinel;
let link: ReplicationLink;
let stack: Stack;
/** Same Redis, same secrets, REDIS_WAIT_REPLICAS unset: logs out without waiting. */
let control: App;
let replica: Redis;
beforeAll(async () => {
  sentinel = await startRedisSentinel("rro-primary", { holdableReplication: true });
  link = sentinel.replication!;
  const redisEnv = {
    REDIS_URL: "redis://127.0.0.1",
    REDIS_SENTINELS: sentinel.sentinelList,
    REDIS_SENTINEL_MASTER: sentinel.master,
  };
  stack = await startStack({
    appEnv: { ...redisEnv, REDIS_WAIT_REPLICAS: "1", REDIS_WAIT_TIMEOUT: String(WAIT_TIMEOUT_MS) },
  });
  control = await startApp({ ...redisEnv, OIDC_ISSUER: stack.provider.issuer });
  replica = new Redis({ host: "127.0.0.1", port: sentinel.replica.port, maxRetriesPerRequest: 1 });
  // A first logout on each app (provider discovery, first connections), so that the tests time only the logout.
  for (const app of [stack.app, control]) {
    const browser = new Browser();
    await signIn(browser, stack.app.url, "groups-0");
    await postLogout(browser, app.url);
  }
}, 90_000);
afterAll(async () => {
  replica?.disconnect();
  await control?.stop();
  await stack?.stop();
  await sentinel?.stop();
});

/** Signed in through the app (cookies are per host: the control app on another port sees the same ones). */
const signedIn = (username: string) => signedInBrowser(stack.app.url, username);
/** What the app logged about its Redis connections (where Redis is left out). */
const redisLog = () =>
  stack.app
    .stdout()
    .split("\n")
    .filter((line) => line.includes('"msg":"[redis]'))
    .map((line) => (JSON.parse(line) as { msg: string }).msg.replace(/ Sentinel \S+ \(primary "[^"]+"\)/, ""));
/** /account with a given session cookie: 200 signed in, 302 to sign-in. */
async function accountWith(cookie: string) {
  const browser = new Browser();
  browser.setCookie(stack.app.url, SESSION_COOKIE, cookie);
  return (await browser.request(`${stack.app.url}/account`)).status;
}
const offset = async (port: number) =>
  /(?:master_repl_offset|slave_repl_offset):(\d+)/.exec(await replicationInfo(port))?.[1];
const caughtUp = () =>
  until(
    "the replica to catch up",
    async () => (await offset(sentinel.replica.port)) === (await offset(sentinel.primary.port)),
  );
async function timed<T>(work: () => Promise<T>) {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

it("with REDIS_WAIT_REPLICAS=1 the delete is on the replica when the logout answer arrives, though replication lags; without, it is not", async () => {
  const waited = await signedIn("alice");
  const unwaited = await signedIn("groups-1");
  await caughtUp();

  link.hold();
  const letThrough = setTimeout(() => link.release(), LAG_MS);
  const logout = await timed(() => postLogout(waited.browser, stack.app.url));
  const onReplica = await replica.exists(waited.key); // straight after the answer
  clearTimeout(letThrough);
  link.release();
  expect(logout.value.status).toBe(302);
  expect(onReplica).toBe(0);
  expect(logout.ms).toBeGreaterThanOrEqual(LAG_MS - 50); // the answer waited for the replica

  link.hold();
  const controlLogout = await postLogout(unwaited.browser, control.url);
  const stillOnReplica = await replica.exists(unwaited.key);
  link.release();
  expect(controlLogout.status).toBe(302);
  expect(stillOnReplica).toBe(1); // answered while the replica still held the session
  await caughtUp();
  expect(await replica.exists(unwaited.key)).toBe(0);
});

it("when no replica acknowledges in time, the logout still completes, a warning gives the counts, and other requests are not held up", async () => {
  const person = await signedIn("groups-2");
  const bystander = await signedIn("groups-3");
  await caughtUp();

  link.hold();
  const logout = timed(() => postLogout(person.browser, stack.app.url));
  await new Promise((r) => setTimeout(r, 100)); // the logout's WAIT is blocking by now
  const page = await timed(() => bystander.browser.request(`${stack.app.url}/account`));
  const { value: response, ms } = await logout;
  const onReplica = await replica.exists(person.key);
  link.release();

  expect(response.status).toBe(302);
  expect(response.headers.get("Location")).toMatch(/\/session\/end\?/); // on to the provider, as ever
  expect(ms).toBeGreaterThanOrEqual(WAIT_TIMEOUT_MS - 50);
  expect(page.value.status).toBe(200);
  expect(page.ms).toBeLessThan(WAIT_TIMEOUT_MS / 2); // the WAIT blocks its own connection, not the app's
  expect(onReplica).toBe(1); // the window that remains: the primary has the delete, the replica not yet
  const warning = stack.app
    .stdout()
    .split("\n")
    .find((line) => line.includes("replicas acknowledged"));
  expect(JSON.parse(warning!)).toMatchObject({
    level: "warn",
    acknowledged: 0,
    wanted: 1,
    sessions: 1,
    msg: expect.stringContaining(
      `WAIT: 0 of 1 replicas acknowledged the end of 1 session within ${WAIT_TIMEOUT_MS} ms`,
    ),
  });
  expect(await accountWith(person.cookie)).toBe(302);
  await until("the replica to get the delete", async () => (await replica.exists(person.key)) === 0);
});

it("when replication keeps up, every WAIT is acknowledged without a warning (the latency printed, not asserted)", async () => {
  await caughtUp();
  // The store alone, on the Sentinel primary: DEL + WAIT 1 on a connection of its own, against DEL.
  const primaryPort = await sentinel.primaryPort();
  const [shared, waiting] = [new Redis({ port: primaryPort }), new Redis({ port: primaryPort })];
  const store = (durable: boolean) =>
    new RedisSessionStore<{ user: { sub: string }; expiresAt: number }, string>({
      redis: (operation) => operation(shared),
      prefix: "bench:",
      idleTimeout: 600,
      maxAge: 600,
      cold: { encode: (cold) => Buffer.from(cold), decode: (stored) => stored.toString() },
      durableDeletes: durable
        ? { replicas: 1, timeoutMs: WAIT_TIMEOUT_MS, redis: (operation) => operation(waiting) }
        : undefined,
    });
  const stores = { wait: store(true), none: store(false) };
  const storeTimes: Record<"wait" | "none", number[]> = { wait: [], none: [] };
  const acknowledged = new Set<number>();
  try {
    for (let i = 0; i < 300; i++) {
      for (const which of ["wait", "none"] as const) {
        const hot = { user: { sub: `bench-${i}` }, expiresAt: Math.floor(Date.now() / 1000) + 600 };
        const id = await stores[which].create(hot, "tokens", 600);
        const { value, ms } = await timed(() => stores[which].destroy(id, hot));
        if (value) acknowledged.add(value.acknowledged);
        if (i >= 20) storeTimes[which].push(ms); // after a warm-up
      }
    }
  } finally {
    shared.disconnect();
    waiting.disconnect();
  }
  expect([...acknowledged]).toEqual([1]); // the replica acknowledged every one

  // Through the app: POST /logout, alternating between the app that waits and the one that does not, both
  // warmed alike first (every sign-in goes through the first one), and the first rounds not counted.
  const warm = await signedIn("groups-9");
  for (let i = 0; i < 100; i++)
    for (const app of [stack.app, control]) await warm.browser.request(`${app.url}/account`);
  const [ROUNDS, WARM_ROUNDS] = [20, 5];
  const warnings = () => stack.app.stdout().split("replicas acknowledged").length;
  const warningsBefore = warnings();
  const people = [];
  for (let i = 0; i < 2 * ROUNDS; i++) people.push(await signedIn(`groups-${10 + i}`));
  await caughtUp();
  const appTimes: Record<"wait" | "none", number[]> = { wait: [], none: [] };
  for (let i = 0; i < ROUNDS; i++) {
    for (const [which, app, person] of [
      ["wait", stack.app, people[2 * i]!],
      ["none", control, people[2 * i + 1]!],
    ] as const) {
      const { value, ms } = await timed(() => postLogout(person.browser, app.url));
      expect(value.status).toBe(302);
      if (i >= WARM_ROUNDS) appTimes[which].push(ms);
    }
  }
  expect(warnings()).toBe(warningsBefore); // the replica acknowledged every logout in time

  const quantile = (list: number[], q: number) => [...list].sort((a, b) => a - b)[Math.floor(q * (list.length - 1))]!;
  const figures = (list: number[]) =>
    `median ${quantile(list, 0.5).toFixed(2)} ms, p90 ${quantile(list, 0.9).toFixed(2)} ms`;
  console.log(
    `[durable-logout] the store's delete of a session, ${storeTimes.wait.length} each: with WAIT 1 ${figures(storeTimes.wait)}; ` +
      `without ${figures(storeTimes.none)}\n` +
      `[durable-logout] POST /logout, ${appTimes.wait.length} each: with WAIT 1 ${figures(appTimes.wait)}; without ${figures(appTimes.none)}`,
  );
});

it("a failover right after a logout does not bring the session back; without WAIT it does", async () => {
  const waited = await signedIn("groups-4");
  const unwaited = await signedIn("groups-5");
  const pending = await signedIn("groups-7");
  const bystander = await signedIn("groups-6");
  await caughtUp();

  // The replica lags 300 ms behind: the WAITing app answers once it has the delete. (Without WAIT it would
  // answer at once, and the delete would still be held back below when the primary dies.)
  link.hold();
  const letThrough = setTimeout(() => link.release(), LAG_MS);
  expect((await postLogout(waited.browser, stack.app.url)).status).toBe(302);
  clearTimeout(letThrough);
  // The control app answers at once; the primary then dies before the replica hears of that logout,
  // and while the WAIT of a third logout is pending.
  link.hold();
  expect((await postLogout(unwaited.browser, control.url)).status).toBe(302);
  const cutShort = postLogout(pending.browser, stack.app.url);
  await new Promise((r) => setTimeout(r, 200)); // its WAIT (up to 1 s) is pending by now
  link.cut();
  await sentinel.primary.crash();
  const crashed = Date.now();

  await until(
    "a Sentinel to promote the replica",
    async () => (await sentinel.primaryPort()) === sentinel.replica.port,
    30_000,
  );
  const promoted = Date.now();
  await until("the app to reach the new primary", async () => (await accountWith(bystander.cookie)) === 200, 15_000);
  console.log(
    `[durable-logout] failover: promoted ${promoted - crashed} ms after the crash; the app served sessions again ${Date.now() - promoted} ms later. ` +
      `Its Redis log: ${JSON.stringify(redisLog())}`,
  );

  expect(await accountWith(waited.cookie)).toBe(302); // signed out it stays
  expect(await replica.exists(waited.key)).toBe(0);
  expect(await accountWith(unwaited.cookie)).toBe(200); // the control: its logout was undone by the failover
  expect(await replica.exists(unwaited.key)).toBe(1);

  // The logout whose WAIT the crash cut short was not reported done: 503, the cookie kept, and indeed the session lives.
  const interrupted = await cutShort;
  expect(interrupted.status).toBe(503);
  expect(interrupted.headers.getSetCookie().join()).not.toContain(`${SESSION_COOKIE}=;`);
  expect(await accountWith(pending.cookie)).toBe(200);
});
