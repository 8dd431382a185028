/**
 * The Redis design's cookie and hot path: the cookie under 200 bytes at every
 * token size, and a signed-in request that changes nothing costs one round
 * trip to Redis (GETEX of the small hot record and EXPIRE of the token record,
 * pipelined), at most 400 bytes from Redis whatever the tokens weigh, no
 * write of data and no Set-Cookie (counted with INFO commandstats and stats).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import { SESSION_COOKIE, setCookieFor, signIn, startSignIn, submitLogin } from "./support/flows.ts";
import { startStack, type Stack } from "./support/stack.ts";

let stack: Stack;
beforeAll(async () => {
  // No background sweep (SESSION_SWEEP_INTERVAL): the counts below are of the requests alone.
  stack = await startStack({ appEnv: { SESSION_SWEEP_INTERVAL: "0" } });
});
afterAll(async () => {
  await stack?.stop();
});

/** Calls per command since the last CONFIG RESETSTAT, without the test's own INFO/CONFIG calls. */
async function commandCalls(): Promise<Record<string, number>> {
  const info = await stack.redis.client.info("commandstats");
  const calls: Record<string, number> = {};
  for (const [, name, count] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (!/^(info|config)\b/.test(name!)) calls[name!] = Number(count);
  }
  return calls;
}

/** Since the last CONFIG RESETSTAT: bytes Redis sent, and the reads it processed (a pipeline arrives as one), without this INFO's own. */
async function traffic() {
  const info = await stack.redis.client.info("stats");
  const stat = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, "m").exec(info)![1]);
  return { bytesOut: stat("total_net_output_bytes") - "+OK\r\n".length, reads: stat("total_reads_processed") - 1 };
}

it.each([0, 10, 50, 150, 400])("keeps Set-Cookie and Cookie under 200 bytes with %i group claims", async (groups) => {
  const browser = new Browser();
  const { landed } = await signIn(browser, stack.app.url, `groups-${groups}`);
  expect(landed.html).toMatch(new RegExp(`data-testid="group-count">${groups}<`));
  const setCookie = setCookieFor(
    landed.hops.find((h) => h.url.includes("/auth/callback"))!.setCookies,
    SESSION_COOKIE,
  )!;
  expect(Buffer.byteLength(`Set-Cookie: ${setCookie}`)).toBeLessThan(200);
  expect(Buffer.byteLength(`Cookie: ${landed.sentCookie}`)).toBeLessThan(200);
});

it.each([0, 150, 400])(
  "serves a signed-in page with %i group claims in one round trip to Redis, under 400 bytes, writing nothing",
  async (groups) => {
    const browser = new Browser();
    await signIn(browser, stack.app.url, `groups-${groups}`);
    await stack.redis.client.config("RESETSTAT");
    for (let i = 0; i < 5; i++) {
      const response = await browser.request(`${stack.app.url}/`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain(`>Groups ${groups}<`);
      expect(response.headers.getSetCookie()).toEqual([]);
    }
    const { bytesOut, reads } = await traffic();
    expect(await commandCalls()).toEqual({ getex: 5, expire: 5 });
    expect(reads).toBe(5);
    expect(bytesOut / 5).toBeLessThanOrEqual(400);
  },
);

it("a change to the session is what writes: the sign-in's exact commands", async () => {
  const browser = new Browser();
  const loginForm = await startSignIn(browser, stack.app.url);
  await stack.redis.client.config("RESETSTAT");
  await submitLogin(browser, loginForm, "alice", "alice-password");
  // Callback: the callback rate limit (one EVALSHA of rate-limiter-flexible's script: SET NX, INCRBY,
  // PTTL of its counter); GETEX + EXPIRE (the flow's session); one DEL of its records (it has no index entries);
  // one MULTI per index (ZADD, prune, EXPIRE), then one MULTI writing the token record and the hot
  // record (SET NX each). Then /account: GETEX + EXPIRE, and GET of the tokens and STRLEN of both
  // records, which that page shows.
  expect(await commandCalls()).toEqual({
    getex: 2,
    expire: 4,
    del: 1,
    multi: 3,
    exec: 3,
    zadd: 2,
    zremrangebyscore: 2,
    set: 3,
    get: 1,
    strlen: 2,
    evalsha: 1,
    incrby: 1,
    pttl: 1,
  });
});
