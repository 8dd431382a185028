/**
 * `npm run chaos` in its quick mode (CHAOS_QUICK=1), as CI runs it: Redis and
 * an app instance killed under signed-in load behind a real nginx, then the
 * figures it prints are read back and checked against the bounds,
 * independently of the script's own verdicts.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { expect, it } from "vitest";

/** The summary table's rows: figure id → numeric value, bound as printed, verdict. */
function parseSummary(stdout: string) {
  const rows = new Map<string, { value: number; bound: string; verdict: string }>();
  for (const line of stdout.split("\n")) {
    const cells = /^\| ([a-z_]+\.[a-z0-9_]+) \| (-?[\d.]+|Infinity)[^|]* \| ([^|]*) \| ([^|]*) \|/.exec(line);
    if (cells) rows.set(cells[1]!, { value: Number(cells[2]), bound: cells[3]!.trim(), verdict: cells[4]!.trim() });
  }
  return rows;
}

it(
  "chaos (quick): no errors under load, nothing left in Redis, sessions survive instance, Redis and app restarts",
  { timeout: 320_000 }, // about 20 s on an idle machine, over 110 s at a load of 20 on 2 cores
  () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", "scripts/chaos.ts"], {
      cwd: path.resolve(import.meta.dirname, ".."),
      env: { ...process.env, CHAOS_QUICK: "1", CHAOS_USERS: "40" },
      encoding: "utf8",
      timeout: 300_000,
    });
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.status, output).toBe(0);
    const figures = parseSummary(result.stdout);
    const value = (id: string) => {
      expect(figures.has(id), `figure ${id} missing from:\n${output}`).toBe(true);
      return figures.get(id)!.value;
    };

    // a. load: every journey completed; only the remembered back-channel jti keys are left.
    expect(value("load.users")).toBe(40);
    expect(value("load.errors")).toBe(0);
    expect(value("load.leftover_keys")).toBe(0);
    expect(value("load.jti_keys")).toBeLessThanOrEqual(40);
    expect(value("load.requests")).toBeGreaterThan(40 * 10);
    expect(value("load.requests_per_s")).toBeGreaterThan(0);
    expect(value("load.latency_p50_ms")).toBeLessThanOrEqual(value("load.latency_max_ms"));

    // b. two instances behind nginx.
    expect(value("instances.pair_errors")).toBe(0);
    expect(value("instances.valid_on_other")).toBe(3);
    expect(value("instances.logout_seen_by_other")).toBe(3);
    expect(value("kill_instance.requests")).toBeGreaterThan(0);
    expect(value("kill_instance.sessions_lost")).toBe(0);

    // c. Redis killed mid-load: quick 503s only, back within 2 s, nothing lost, nothing replayed.
    expect(value("redis_outage.requests")).toBeGreaterThan(0);
    expect(value("redis_outage.not_503")).toBe(0);
    expect(value("redis_outage.latency_max_ms")).toBeLessThanOrEqual(3000);
    expect(value("redis_outage.recovery_ms")).toBeLessThanOrEqual(2000);
    expect(value("redis_outage.replayed_commands")).toBe(0);
    expect(value("redis_outage.app_exits")).toBe(0);
    expect(value("redis_outage.sessions_lost")).toBe(0);
    expect(value("redis_outage.sessions_after_restart")).toBeGreaterThanOrEqual(
      value("redis_outage.sessions_before_kill"),
    );

    // d. app restart.
    expect(value("app_restart.unclean_exits")).toBe(0);
    expect(value("app_restart.sessions_lost")).toBe(0);
    expect(value("app.unexpected_exits")).toBe(0);

    // Every bounded figure carries the script's own verdict, and none failed.
    const bounded = [...figures].filter(([, f]) => f.bound !== "—");
    expect(bounded.length).toBeGreaterThanOrEqual(14);
    expect(bounded.filter(([, f]) => f.verdict !== "ok").map(([id]) => id)).toEqual([]);
    expect(result.stdout).toContain("every figure within its bounds");
  },
);
