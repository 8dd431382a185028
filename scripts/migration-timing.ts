/**
 * tsx scripts/migration-timing.ts — how long the request that moves a cookie
 * session into Redis takes (SESSION_MIGRATION=cookie), measured from outside:
 * a user signs in while the app runs the cookie design; MIGRATION_COUNT
 * (default 300) distinct legacy cookies are made from that session the way
 * the cookie design signs them; the app restarts on Redis with migration on;
 * each cookie's first request (answered 307 with the new cookie) is timed,
 * then, for comparison, the same number of ordinary signed-in requests.
 * Prints p50, p90, p99 and max in milliseconds.
 */
import { createCookie } from "@remix-run/node";
import { Browser } from "../test/support/browser.ts";
import { SESSION_COOKIE, signIn } from "../test/support/flows.ts";
import { restartApp, SESSION_SECRET, startStack } from "../test/support/stack.ts";

const COUNT = Number(process.env.MIGRATION_COUNT ?? 300);
const stack = await startStack({ appEnv: { SESSION_STORE: "cookie" } });
const browser = new Browser();
await signIn(browser, stack.app.url, "groups-10");
const legacy = createCookie(SESSION_COOKIE, { secrets: [SESSION_SECRET] });
const data = (await legacy.parse(`${SESSION_COOKIE}=${browser.cookie(stack.app.url, SESSION_COOKIE)}`)) as Record<
  string,
  unknown
>;
// Distinct cookies (each migrates once): the same session, a different sign-in second each.
const cookies = await Promise.all(
  Array.from(
    { length: COUNT },
    async (_, i) => (await legacy.serialize({ ...data, signedInAt: Number(data.signedInAt) - i })).split(";")[0]!,
  ),
);
await restartApp(stack, { SESSION_STORE: "redis", SESSION_MIGRATION: "cookie" });

async function time(cookie: string, expected: number) {
  const started = performance.now();
  const response = await fetch(`${stack.app.url}/account`, { headers: { cookie }, redirect: "manual" });
  await response.arrayBuffer();
  if (response.status !== expected) throw new Error(`expected ${expected}, got ${response.status}`);
  return { ms: performance.now() - started, setCookie: response.headers.getSetCookie() };
}
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    [50, 90, 99].map((p) => `p${p} ${percentile(sorted, p).toFixed(1)}`).join(", ") +
    `, max ${sorted.at(-1)!.toFixed(1)} ms`
  );
};

for (let i = 0; i < 20; i++) await time(cookies[cookies.length - 1 - i]!, 307); // warm-up (and those are moved)
const migrations: number[] = [];
const moved: string[] = [];
for (const cookie of cookies.slice(0, COUNT - 20)) {
  const { ms, setCookie } = await time(cookie, 307);
  migrations.push(ms);
  moved.push(setCookie.find((c) => c.startsWith(`${SESSION_COOKIE}=`))!.split(";")[0]!);
}
const ordinary: number[] = [];
for (const cookie of moved) ordinary.push((await time(cookie, 200)).ms);
await stack.stop();
console.log(`[migration] ${migrations.length} migrating requests (307 with the new cookie): ${summary(migrations)}`);
console.log(`[migration] the same sessions' next requests (200, /account):         ${summary(ordinary)}`);
process.exit(0);
