/**
 * /metrics after real journeys (issue 13): a sign-in, pages, a logout, a
 * forged callback and a rate-limited request against a real app, provider and
 * Redis, then the counters and histograms read back from the metrics port and
 * from the main port behind METRICS_TOKEN.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import { postLogout, SESSION_COOKIE, signIn } from "./support/flows.ts";
import { scrape } from "./support/metrics.ts";
import { freePort } from "./support/ports.ts";
import { sessionId } from "./support/redis-keys.ts";
import { startStack, type Stack } from "./support/stack.ts";
import { until } from "./support/until.ts";

const TOKEN = "metrics-token-0123456789abcdef0123456789";
let stack: Stack;
let metricsUrl: string;

beforeAll(async () => {
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  stack = await startStack({
    appEnv: {
      METRICS_PORT: String(port),
      METRICS_TOKEN: TOKEN,
      RATE_LIMIT_LOGOUT: "2",
      SESSION_SWEEP_INTERVAL: "1",
    },
  });
});
afterAll(async () => {
  await stack?.stop();
});

it("counts a sign-in, a logout, a forged callback, a rate-limited logout and the Redis commands behind them", async () => {
  const browser = new Browser();
  const { landed } = await signIn(browser, stack.app.url);
  expect(landed.status).toBe(200);
  expect((await browser.request(`${stack.app.url}/account`)).status).toBe(200);
  expect((await postLogout(browser, stack.app.url)).status).toBe(302);
  const forged = await fetch(`${stack.app.url}/auth/callback?code=x&state=forged`);
  expect(forged.status).toBe(400);
  // RATE_LIMIT_LOGOUT=2: the logout above and this one pass, the third is refused.
  expect((await postLogout(new Browser(), stack.app.url)).status).toBe(302);
  const refused = await postLogout(new Browser(), stack.app.url);
  expect(refused.status).toBe(429);

  const m = await scrape(metricsUrl);
  expect(m.value("rro_sessions_created_total", { via: "sign_in" })).toBe(1);
  expect(m.value("rro_sessions_ended_total", { reason: "logout" })).toBe(1);
  expect(m.value("rro_sign_in_failures_total", { code: "unknown_state" })).toBe(1);
  expect(m.value("rro_rate_limited_total", { limit: "logout" })).toBe(1);
  const requests = (route: string, method: string, status: string) =>
    m.value("rro_http_request_duration_seconds_count", { route, method, status });
  expect(requests("/login", "POST", "302")).toBe(1);
  expect(requests("/auth/callback", "GET", "302")).toBe(1);
  expect(requests("/auth/callback", "GET", "400")).toBe(1);
  expect(requests("/account", "GET", "200")).toBeGreaterThanOrEqual(2); // the landing page and the visit
  expect(requests("/logout", "POST", "429")).toBe(1);
  // A path a client makes up does not become a label of its own.
  await fetch(`${stack.app.url}/made-up-${Date.now()}`);
  const after = await scrape(metricsUrl);
  expect(after.text).not.toMatch(/made-up/);
  expect(
    after.value("rro_http_request_duration_seconds_count", { route: "unmatched", method: "GET", status: "404" }),
  ).toBe(1);
  // The hot path's read and the sign-in's writes, timed.
  expect(m.value("rro_redis_command_duration_seconds_count", { command: "getex" })).toBeGreaterThanOrEqual(2);
  expect(m.value("rro_redis_command_duration_seconds_count", { command: "set" })).toBeGreaterThanOrEqual(1);
  expect(m.value("rro_redis_command_errors_total", { command: "getex", kind: "connection" })).toBe(0);
  // Node's own: memory, event loop.
  expect(m.value("process_resident_memory_bytes")).toBeGreaterThan(0);
});

it("counts a session that ended inside Redis as idle, once, within a sweep interval", async () => {
  const browser = new Browser();
  const { landed } = await signIn(browser, stack.app.url);
  expect(landed.status).toBe(200);
  const id = sessionId(browser.cookie(stack.app.url, SESSION_COOKIE)!);
  // What its idle timeout would do (SESSION_IDLE_TIMEOUT is at least a minute).
  await stack.redis.client.del(`rro:sess:{${id}}`, `rro:tok:{${id}}`);
  const idle = async () => (await scrape(metricsUrl)).value("rro_sessions_ended_total", { reason: "idle" });
  expect(await until(async () => (await idle()) === 1, 10_000)).toBe(true);
  await new Promise((r) => setTimeout(r, 2_100)); // two more sweeps
  expect(await idle()).toBe(1);
  expect(stack.app.stdout()).toMatch(/"idle":1,"absolute":0,"msg":"\[sessions\] swept sessions ended in Redis"/);
});

it("serves /metrics on the main port only to the bearer token", async () => {
  const anonymous = await fetch(`${stack.app.url}/metrics`);
  expect(anonymous.status).toBe(404);
  expect(await anonymous.text()).not.toMatch(/rro_/);
  const wrong = await fetch(`${stack.app.url}/metrics`, { headers: { Authorization: `Bearer ${TOKEN.slice(1)}x` } });
  expect(wrong.status).toBe(404);
  const m = await scrape(`${stack.app.url}/metrics`, TOKEN);
  expect(m.text).toMatch(/^# HELP rro_sessions_created_total /m);
  expect((await fetch(metricsUrl.replace("/metrics", "/other"))).status).toBe(404);
});

it("counts Redis command errors during an outage", async () => {
  const browser = new Browser();
  await signIn(browser, stack.app.url);
  await stack.redis.server.stop();
  try {
    expect((await browser.request(`${stack.app.url}/account`)).status).toBe(503);
    const m = await scrape(metricsUrl);
    expect(m.value("rro_redis_command_errors_total", { command: "getex", kind: "connection" })).toBeGreaterThanOrEqual(
      1,
    );
    expect(m.value("rro_redis_command_errors_total", { command: "getex", kind: "reply" })).toBe(0);
  } finally {
    await stack.redis.restart();
  }
});
