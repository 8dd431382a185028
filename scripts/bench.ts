/**
 * npm run bench — what a session costs in Redis, and whether the hot path
 * stays flat as tokens grow and sessions pile up. Against a fresh Redis (from
 * redis/redis.conf, append-only off for the run):
 *
 * 1. At 0, 10, 150 and 400 group claims: a user signs in through the real
 *    provider; its hot and token records are measured; Redis memory per
 *    session is measured over BENCH_FILL sessions of that shape written by
 *    the app's own session store (each its own user and provider session, so
 *    both index entries count); and the signed-in home page is loaded, in
 *    rotated rounds across the levels, for requests/s and the bytes Redis
 *    sends per request (INFO stats total_net_output_bytes / the requests'
 *    hot-record reads, one GETEX each).
 * 2. At 10 groups: 10 000, then 1 000 000 sessions in Redis, and requests/s at each.
 *
 * Writes docs/compare/bench-report.md and .json (or BENCH_OUT).
 * BENCH_QUICK=1: fewer sessions, shorter runs (the test suite runs it so).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import autocannon from "autocannon";
import type { HotSessionData, SessionTokens } from "../app/session/session-data.ts";
import { RedisSessionStore, type RedisRunner } from "../app/session/session-store.server.ts";
import { decodeTokens, encodeTokens } from "../app/session/token-record.server.ts";
import { Browser } from "../test/support/browser.ts";
import { SESSION_COOKIE, signIn } from "../test/support/flows.ts";
import { readSession } from "../test/support/redis-keys.ts";
import { startStack } from "../test/support/stack.ts";

const QUICK = process.env.BENCH_QUICK === "1";
const OUT = path.resolve(process.env.BENCH_OUT ?? "docs/compare");
const GROUP_LEVELS = [0, 10, 150, 400];
const FILL = Number(process.env.BENCH_FILL ?? (QUICK ? 2_000 : 20_000));
const COUNT_LEVELS = QUICK ? [1_000, 10_000] : [10_000, 1_000_000];
const COUNT_GROUPS = 10;
const LOAD_SECONDS = QUICK ? 2 : 10;
const WARMUP_SECONDS = QUICK ? 1 : 5;
const ROUNDS = QUICK ? 1 : 3;
const CONNECTIONS = 10;
const log = (line: string) => console.log(`[bench] ${line}`);

// The requests alone: no background sweep reading Redis in the middle of a measurement (SESSION_SWEEP_INTERVAL),
// and no rate limit on the many sign-ins from this one address.
const stack = await startStack({
  appEnv: { SESSION_SWEEP_INTERVAL: "0", RATE_LIMIT_SIGN_IN: "0", RATE_LIMIT_CALLBACK: "0", RATE_LIMIT_LOGOUT: "0" },
});
const { redis } = stack;
const appUrl = stack.app.url;
// A throwaway Redis: no append-only file, so a multi-GB AOF rewrite does not run in the middle of a measurement.
await redis.client.config("SET", "appendonly", "no");

/** The app's own session store on the test's connection: fillers are written exactly as sign-ins write sessions. */
const store = new RedisSessionStore<HotSessionData, SessionTokens>({
  redis: ((operation) => operation(redis.client)) as RedisRunner,
  prefix: "rro:",
  idleTimeout: 1800,
  maxAge: 8 * 3600,
  cold: { encode: (tokens, id) => encodeTokens(tokens, id, []), decode: (stored, id) => decodeTokens(stored, id, []) },
});

const usedMemory = async () => Number(/^used_memory:(\d+)/m.exec(await redis.client.info("memory"))![1]);
const stat = (info: string, name: string) => Number(new RegExp(`^${name}:(\\d+)`, "m").exec(info)![1]);

let sessionsInRedis = 0;

/** `count` sessions shaped like `hot` and `tokens` (ids of the same length), each its own user and provider session. */
async function fill(count: number, hot: HotSessionData, tokens: SessionTokens, tag: string) {
  const same = (id: string, like = "") => id.padEnd(like.length, "x");
  for (let done = 0; done < count;) {
    const batch = Math.min(2_000, count - done);
    await Promise.all(
      Array.from({ length: batch }, (_, i) => {
        const n = done + i;
        const user = { ...hot.user!, sub: same(`${tag}-${n}`, hot.user!.sub) };
        return store.create({ ...hot, user, sid: same(`${tag}-sid-${n}`, hot.sid) }, tokens, 3600);
      }),
    );
    done += batch;
  }
  sessionsInRedis += count;
}

/** Calls of one command since the last CONFIG RESETSTAT, from INFO commandstats. */
const calls = (info: string, command: string) =>
  Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, "m").exec(info)?.[1] ?? 0);

async function load(cookie: string, seconds = LOAD_SECONDS) {
  await redis.client.config("RESETSTAT");
  const result = await autocannon({
    url: `${appUrl}/`,
    connections: CONNECTIONS,
    duration: seconds,
    headers: { cookie },
  });
  // One reply holds both counters, taken at the same moment.
  const info = (await redis.client.call("INFO", "stats", "commandstats")) as string;
  // Per hot-path read (one GETEX each signed-in request), not per request autocannon counted: requests
  // still in flight when a run ends are not counted by autocannon, but their reads reach Redis, in this
  // window or the next one. On a busy machine (a few hundred requests in 2 s) they added up to 50 %.
  const reads = calls(info, "getex");
  const bytesOut = stat(info, "total_net_output_bytes") - "+OK\r\n".length; // less CONFIG RESETSTAT's reply
  return {
    requests_per_s: Math.round(result.requests.average),
    latency_p50_ms: result.latency.p50,
    latency_p99_ms: result.latency.p99,
    non_2xx: result.non2xx,
    redis_bytes_per_request: Math.round(bytesOut / Math.max(1, reads)),
  };
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

// ---------- 1: by group claims ----------
const levels = [];
for (const groups of GROUP_LEVELS) {
  const browser = new Browser();
  await signIn(browser, appUrl, `groups-${groups}`);
  const sessionCookie = browser.cookie(appUrl, SESSION_COOKIE)!;
  // readSession joins the two records: the token record's fields out, the hot record's left.
  const { idToken, accessToken, refreshToken, tokenType, dpopKey, ...hot } = (await readSession(
    redis.client,
    sessionCookie,
  ))!;
  const tokens = { idToken, accessToken, refreshToken, tokenType, dpopKey };
  const before = await usedMemory();
  await fill(FILL, hot, tokens, `g${groups}`);
  const perSession = Math.round(((await usedMemory()) - before) / FILL);
  levels.push({
    groups,
    cookie: browser.cookieHeader(appUrl),
    id_token_bytes: Buffer.byteLength(idToken ?? ""),
    hot_record_bytes: Buffer.byteLength(JSON.stringify(hot)),
    token_record_bytes: encodeTokens(tokens, "x".repeat(22), []).length,
    memory_per_session_bytes: perSession,
  });
  log(`${groups} groups: ${perSession} bytes of Redis per session (index entries included)`);
}
for (const level of levels) await load(level.cookie, WARMUP_SECONDS); // V8 optimizes for the first seconds under load
const runs = new Map<number, Array<Awaited<ReturnType<typeof load>>>>(levels.map((l) => [l.groups, []]));
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order each round so that no level always runs first or last.
  for (const level of [...levels.slice(round % levels.length), ...levels.slice(0, round % levels.length)]) {
    runs.get(level.groups)!.push(await load(level.cookie));
  }
}
const byGroups = levels.map(({ cookie: _cookie, ...level }) => {
  const r = runs.get(level.groups)!;
  const result = {
    ...level,
    requests_per_s: median(r.map((x) => x.requests_per_s)),
    latency_p50_ms: median(r.map((x) => x.latency_p50_ms)),
    latency_p99_ms: median(r.map((x) => x.latency_p99_ms)),
    non_2xx: r.reduce((a, x) => a + x.non_2xx, 0),
    redis_bytes_per_request: median(r.map((x) => x.redis_bytes_per_request)),
  };
  log(
    `${level.groups} groups: ${result.requests_per_s} req/s, ${result.redis_bytes_per_request} bytes from Redis per request`,
  );
  return result;
});
const at = (groups: number) => byGroups.find((l) => l.groups === groups)!;
const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;

// ---------- 2: by session count ----------
const shape = await (async () => {
  const browser = new Browser();
  await signIn(browser, appUrl, `groups-${COUNT_GROUPS}`);
  const { idToken, accessToken, refreshToken, ...hot } = (await readSession(
    redis.client,
    browser.cookie(appUrl, SESSION_COOKIE)!,
  ))!;
  return { cookie: browser.cookieHeader(appUrl), hot, tokens: { idToken, accessToken, refreshToken } };
})();
const counts = [];
for (const target of COUNT_LEVELS) {
  const started = Date.now();
  await fill(Math.max(0, target - sessionsInRedis), shape.hot, shape.tokens, `n${target}`);
  log(`~${target} sessions in Redis (filled in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  await load(shape.cookie, WARMUP_SECONDS); // after the fill, which had the CPU
  const { redis_bytes_per_request: _bytes, ...result } = await load(shape.cookie);
  counts.push({ sessions: target, ...result });
  log(
    `${target} sessions: ${result.requests_per_s} req/s, p50 ${result.latency_p50_ms} ms, p99 ${result.latency_p99_ms} ms`,
  );
}
await stack.stop();

const lastCount = counts[counts.length - 1]!;
const report = {
  generated_at: new Date().toISOString(),
  quick: QUICK,
  node: process.version,
  settings: {
    fill: FILL,
    connections: CONNECTIONS,
    warmup_seconds: WARMUP_SECONDS,
    load_seconds: LOAD_SECONDS,
    rounds: ROUNDS,
    page: "GET / with a real session",
  },
  by_groups: byGroups,
  ratio_requests_400_vs_0_groups: ratio(at(400).requests_per_s, at(0).requests_per_s),
  by_sessions: counts,
  flatness: ratio(lastCount.requests_per_s, counts[0]!.requests_per_s),
  ten_million_sessions_gib: {
    groups_10: Math.round(((at(10).memory_per_session_bytes * 10_000_000) / 2 ** 30) * 10) / 10,
    groups_150: Math.round(((at(150).memory_per_session_bytes * 10_000_000) / 2 ** 30) * 10) / 10,
  },
};
mkdirSync(OUT, { recursive: true });
writeFileSync(path.join(OUT, "bench-report.json"), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(
  path.join(OUT, "bench-report.md"),
  `# Sessions in Redis at scale — measured

Generated by \`npm run bench\` on ${report.generated_at}${QUICK ? " (quick mode)" : ""}, Node ${process.version}. Redis runs from redis/redis.conf with the append-only file switched off for the run. The load is \`GET /\` with a real session cookie, ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up, then ${ROUNDS} round(s) of ${LOAD_SECONDS} s per level in rotated order (the median is shown).

## By group claims

Each user signs in through the development provider. "Hot record" is what every request reads; "token record" the compressed tokens, read only at logout, refresh and on the account page. Memory per session is Redis's \`used_memory\` growth over ${FILL.toLocaleString("en")} sessions of that shape written by the app's session store, each with its own user and provider session (so both index entries count). Bytes per request: Redis's \`total_net_output_bytes\` over the requests that reached Redis during the run (one \`GETEX\` of the hot record each).

| groups | ID token | hot record | token record | Redis memory per session | Redis bytes per request | requests/s | p50 / p99 (ms) |
|---:|---:|---:|---:|---:|---:|---:|---:|
${byGroups.map((l) => `| ${l.groups} | ${l.id_token_bytes} B | ${l.hot_record_bytes} B | ${l.token_record_bytes} B | ${l.memory_per_session_bytes} B | ${l.redis_bytes_per_request} B | ${l.requests_per_s} | ${l.latency_p50_ms} / ${l.latency_p99_ms} |`).join("\n")}

Requests/s at 400 groups are **${report.ratio_requests_400_vs_0_groups}×** those at 0 groups (one run; the hot record has the same size whatever the tokens weigh). 10 million sessions need about **${report.ten_million_sessions_gib.groups_10} GiB** at 10 groups and **${report.ten_million_sessions_gib.groups_150} GiB** at 150 groups (plus replication and fragmentation headroom).

## By number of sessions (${COUNT_GROUPS} groups)

| sessions in Redis | requests/s | p50 / p99 (ms) |
|---:|---:|---:|
${counts.map((l) => `| ${l.sessions.toLocaleString("en")} | ${l.requests_per_s} | ${l.latency_p50_ms} / ${l.latency_p99_ms} |`).join("\n")}

Requests/s at ${lastCount.sessions.toLocaleString("en")} sessions are ${report.flatness}× those at ${counts[0]!.sessions.toLocaleString("en")}: a session read is one round trip of two hash-table lookups whatever the number of keys (differences of ±15 % between runs are this shared machine's noise).
`,
);
log(`wrote ${path.relative(process.cwd(), OUT)}/bench-report.md and .json`);
process.exit(0);
