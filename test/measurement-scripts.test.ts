/**
 * `npm run compare` and `npm run bench` in their quick modes: they run end to
 * end against the real parts and write reports whose figures say what the
 * designs do. (The figures of a full run are in docs/compare/.)
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";

const out = mkdtempSync(path.join(os.tmpdir(), "rro-reports-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function run(script: string, env: Record<string, string>) {
  const result = spawnSync(process.execPath, ["--import", "tsx", script], {
    cwd: path.resolve(import.meta.dirname, ".."),
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 400_000, // compare took 130 s, bench 87 s, at a load of 15 to 20 on 2 cores
  });
  expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
}

it("compare: writes the report, JSON and chart, with the designs' real behaviour", { timeout: 420_000 }, () => {
  run("scripts/compare.ts", { COMPARE_QUICK: "1", COMPARE_OUT: out });
  const report = JSON.parse(readFileSync(path.join(out, "compare-report.json"), "utf8"));
  expect(report.cookie_bytes.redis_max_cookie_header).toBeLessThan(200);
  // The hot record alone per request, whatever the tokens weigh (0 and 50 groups here).
  expect(report.cookie_bytes.redis_max_bytes_from_redis_per_request).toBeGreaterThan(100);
  expect(report.cookie_bytes.redis_max_bytes_from_redis_per_request).toBeLessThanOrEqual(400);
  expect(report.cookie_bytes.cookie_design_max_needed_cookie_header).toBeGreaterThan(4096);
  expect(report.throughput.ratio_redis_vs_cookie).toBeGreaterThan(0);
  expect(report.throughput.ratio_redis_vs_ceiling).toBeGreaterThan(0);
  for (const name of ["ceiling", "cookie", "redis"]) {
    expect(report.throughput[name].non_2xx).toBe(0);
    expect(report.throughput[name].requests_per_s).toBeGreaterThan(0);
  }
  const at50 = report.sizes.find((s: { groups: number }) => s.groups === 50);
  expect(at50.cookie.signin_error).toBe("session_too_large");
  expect(at50.cookie.chromium.needed_cookie_kept).toBe(false);
  expect(at50.redis.chromium.signed_in).toBe(true);
  expect(report.revocation.cookie.signed_in_after_logout).toBe(true);
  expect(report.revocation.redis.signed_in_after_logout).toBe(false);
  expect(readFileSync(path.join(out, "compare-chart.svg"), "utf8")).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
  expect(readFileSync(path.join(out, "compare-report.md"), "utf8")).toContain("Redis / cookie");
});

it(
  "bench: reports memory per session, bytes per request and requests/s by group claims and by session count",
  { timeout: 420_000 },
  () => {
    run("scripts/bench.ts", { BENCH_QUICK: "1", BENCH_OUT: out });
    const report = JSON.parse(readFileSync(path.join(out, "bench-report.json"), "utf8"));
    expect(report.by_groups.map((l: { groups: number }) => l.groups)).toEqual([0, 10, 150, 400]);
    for (const level of report.by_groups) {
      expect(level.requests_per_s).toBeGreaterThan(0);
      expect(level.non_2xx).toBe(0);
      // A session costs at least its two records, and not absurdly more (the index entries and Redis's own overhead).
      const records = level.hot_record_bytes + level.token_record_bytes;
      expect(level.memory_per_session_bytes).toBeGreaterThan(records);
      expect(level.memory_per_session_bytes).toBeLessThan(records * 3);
      // The hot path reads the hot record alone, whatever the tokens weigh.
      expect(level.redis_bytes_per_request).toBeGreaterThan(level.hot_record_bytes);
      expect(level.redis_bytes_per_request).toBeLessThanOrEqual(400);
    }
    expect(report.by_sessions.map((l: { sessions: number }) => l.sessions)).toEqual([1_000, 10_000]);
    for (const level of report.by_sessions) expect(level.non_2xx).toBe(0);
    expect(report.ratio_requests_400_vs_0_groups).toBeGreaterThan(0);
    expect(existsSync(path.join(out, "bench-report.md"))).toBe(true);
  },
);

it(
  "observability-cost: the four copies answer every request, and the traced ones export spans",
  { timeout: 420_000 },
  () => {
    const file = path.join(out, "observability-cost.json");
    run("scripts/observability-cost.ts", { OBSERVABILITY_QUICK: "1", OBSERVABILITY_OUT: file });
    const report = JSON.parse(readFileSync(file, "utf8"));
    for (const name of ["plain", "metrics", "tracing", "both"]) {
      expect(report[name].non_2xx).toBe(0);
      expect(report[name].requests_per_s).toBeGreaterThan(0);
      expect(report.ratio_vs_plain[name]).toBeGreaterThan(0);
    }
    // Each ratio is that copy's requests/s over the plain copy's, as printed.
    for (const name of ["metrics", "tracing", "both"])
      expect(report.ratio_vs_plain[name]).toBeCloseTo(report[name].requests_per_s / report.plain.requests_per_s, 2);
    expect(report.otlp_exports_received).toBeGreaterThan(0);
  },
);

it(
  "sign-in-cost: every copy signs people in (PAR required, and a provider that knows the client only by its key)",
  { timeout: 420_000 },
  () => {
    const file = path.join(out, "sign-in-cost.json");
    run("scripts/sign-in-cost.ts", { SIGN_IN_COST_QUICK: "1", SIGN_IN_COST_OUT: file });
    const report = JSON.parse(readFileSync(file, "utf8"));
    expect(report.sign_ins_each).toBe(10);
    for (const name of ["baseline", "par", "dpop", "private_key_jwt", "all"]) {
      expect(report[name].median_ms).toBeGreaterThan(0);
      expect(report[name].p90_ms).toBeGreaterThanOrEqual(report[name].median_ms);
    }
    for (const name of ["par", "dpop", "private_key_jwt", "all"])
      expect(report.extra_median_ms_over_baseline[name]).toBeCloseTo(
        report[name].median_ms - report.baseline.median_ms,
        0,
      );
  },
);
