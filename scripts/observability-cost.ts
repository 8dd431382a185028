/**
 * npm run observability-cost — what metrics and traces cost a signed-in page,
 * side by side in one run: four copies of the app (Redis design) against one
 * redis-server and the development provider, differing only in
 *   - plain:   neither (the default);
 *   - metrics: METRICS_TOKEN set, so requests and Redis commands are timed;
 *   - tracing: OTEL_EXPORTER_OTLP_ENDPOINT set, spans sent (OTLP http/protobuf,
 *              the SDK's default batching) to a collector in this process
 *              that discards them;
 *   - both.
 * The page and load of `npm run compare`'s throughput figure: GET / signed in
 * as a user with 50 group claims, 10 connections. Rounds of autocannon, each round
 * visiting the copies in a rotated order, so that a noisy machine slows all of
 * them alike; the median of the rounds, and each copy's ratio to plain. Rate
 * limits and session sweeps are off in every copy (one address, many
 * requests; the figures are of the requests alone). Prints the figures and
 * writes observability-cost.json to OBSERVABILITY_OUT (default: print only).
 * OBSERVABILITY_QUICK=1: 2-second runs, one round (what the test suite runs).
 */
import { writeFileSync } from "node:fs";
import autocannon from "autocannon";
import { startDevProvider } from "../server/dev-oidc-provider/index.ts";
import { Browser } from "../test/support/browser.ts";
import { SESSION_COOKIE, signIn } from "../test/support/flows.ts";
import { startOtlpCollector } from "../test/support/otlp-collector.ts";
import { freePort } from "../test/support/ports.ts";
import { CLIENT_ID, CLIENT_SECRET, startApp, startTestRedis } from "../test/support/stack.ts";

const QUICK = process.env.OBSERVABILITY_QUICK === "1";
const OUT = process.env.OBSERVABILITY_OUT;
const SECONDS = QUICK ? 2 : 10;
const ROUNDS = QUICK ? 1 : 5;
const CONNECTIONS = 10;
const USER = "groups-50";
const METRICS_TOKEN = "observability-cost-metrics-token-0123456789";
const VARIANTS = ["plain", "metrics", "tracing", "both"] as const;
type Variant = (typeof VARIANTS)[number];

const log = (line: string) => console.log(`[observability-cost] ${line}`);
const cleanups: Array<() => Promise<void>> = [];
const stopAll = async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
};

try {
  const redis = await startTestRedis();
  cleanups.push(redis.stop);
  const ports = Object.fromEntries(await Promise.all(VARIANTS.map(async (v) => [v, await freePort()] as const)));
  const urlOf = (v: Variant) => `http://localhost:${ports[v]}`;
  const provider = await startDevProvider({
    port: 0,
    client: {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: VARIANTS.map((v) => `${urlOf(v)}/auth/callback`),
      postLogoutRedirectUris: VARIANTS.map((v) => `${urlOf(v)}/`),
    },
    log: () => {},
  });
  cleanups.push(provider.close);
  const sink = await startOtlpCollector({ keep: false });
  cleanups.push(sink.close);
  const common = {
    REDIS_URL: redis.url,
    OIDC_ISSUER: provider.issuer,
    RATE_LIMIT_SIGN_IN: "0",
    RATE_LIMIT_CALLBACK: "0",
    RATE_LIMIT_LOGOUT: "0",
    RATE_LIMIT_BACKCHANNEL: "0",
    SESSION_SWEEP_INTERVAL: "0",
  };
  const metricsEnv = { METRICS_TOKEN };
  const tracingEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url };
  const envs: Record<Variant, Record<string, string>> = {
    plain: {},
    metrics: metricsEnv,
    tracing: tracingEnv,
    both: { ...metricsEnv, ...tracingEnv },
  };
  const cookies = {} as Record<Variant, string>;
  for (const variant of VARIANTS) {
    const app = await startApp({ ...common, ...envs[variant] }, ports[variant]);
    cleanups.push(app.stop);
    const browser = new Browser();
    await signIn(browser, app.url, USER);
    cookies[variant] = `${SESSION_COOKIE}=${browser.cookie(app.url, SESSION_COOKIE)}`;
    // Each copy is what it says: /metrics answers the token only where metrics are on.
    const scrape = await fetch(`${app.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
    await scrape.body?.cancel();
    if ((scrape.status === 200) !== "METRICS_TOKEN" in envs[variant])
      throw new Error(`${variant}: /metrics answered ${scrape.status}`);
    log(`${variant}: ${app.url}, signed in`);
  }

  const load = (variant: Variant, duration: number) =>
    autocannon({
      url: `${urlOf(variant)}/`,
      connections: CONNECTIONS,
      duration,
      headers: { cookie: cookies[variant] },
    });
  for (const variant of VARIANTS) await load(variant, 1); // warm-up: JIT, connections, the first spans
  const runs: Record<Variant, Array<{ rps: number; p50: number; p99: number; non2xx: number }>> = {
    plain: [],
    metrics: [],
    tracing: [],
    both: [],
  };
  for (let round = 0; round < ROUNDS; round++) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
    for (const variant of order) {
      const result = await load(variant, SECONDS);
      runs[variant].push({
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        non2xx: result.non2xx + result.errors + result.timeouts,
      });
    }
    log(`round ${round + 1}/${ROUNDS}: ${order.join(", ")}`);
  }

  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  const figures = Object.fromEntries(
    VARIANTS.map((variant) => {
      const r = runs[variant];
      return [
        variant,
        {
          requests_per_s: Math.round(median(r.map((x) => x.rps))),
          latency_p50_ms: median(r.map((x) => x.p50)),
          latency_p99_ms: median(r.map((x) => x.p99)),
          non_2xx: r.reduce((sum, x) => sum + x.non2xx, 0),
        },
      ];
    }),
  ) as Record<Variant, { requests_per_s: number; latency_p50_ms: number; latency_p99_ms: number; non_2xx: number }>;
  const report = {
    rounds: ROUNDS,
    seconds_per_run: SECONDS,
    connections: CONNECTIONS,
    ...figures,
    ratio_vs_plain: Object.fromEntries(
      VARIANTS.map((v) => [v, Number((figures[v].requests_per_s / figures.plain.requests_per_s).toFixed(3))]),
    ),
    otlp_exports_received: sink.requests.length,
    otlp_bytes_received: sink.requests.reduce((sum, r) => sum + r.bytes, 0),
  };
  console.log("");
  console.log("| copy | requests/s (median) | ratio to plain | p50 ms | p99 ms | non-2xx |");
  console.log("|---|---|---|---|---|---|");
  for (const v of VARIANTS)
    console.log(
      `| ${v} | ${figures[v].requests_per_s} | ${report.ratio_vs_plain[v]} | ${figures[v].latency_p50_ms} | ${figures[v].latency_p99_ms} | ${figures[v].non_2xx} |`,
    );
  console.log("");
  if (OUT) writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await stopAll();
}
