/**
 * The outcome every hostile case must also have, beyond its own status and
 * page: no session record created, destroyed or changed in Redis (nor any other
 * key of the app), no stack trace in the answer, and no secret in the answer or
 * in anything the app printed. Take a `snapshot` before the hostile request,
 * then call `expectHarmless` with what came back.
 */
import type { Redis } from "ioredis";
import { expect } from "vitest";
import { CLIENT_ID, CLIENT_SECRET, SESSION_SECRET, type App } from "../support/stack.ts";

/** The parts a hostile case looks at: a Stack, or a test's own Redis and app. */
export interface Target {
  redis: { client: Redis };
  app: App;
}

export interface Snapshot {
  /** How much the app had printed. */
  outputAt: number;
  /** Every key under the app's prefix (sessions, their indexes, locks, jti). */
  keys: string[];
  /** Session record → its raw value. */
  sessions: Map<string, string | null>;
}

async function scan(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return keys.sort();
}

/**
 * What Redis holds now (SCAN, never KEYS), and where the app's output stands.
 * Rate-limit counters are left out: counting a hostile request is what they
 * are for. They are bounded instead: one per limit and address, each living
 * one window at most.
 */
export async function snapshot(target: Target): Promise<Snapshot> {
  const redis = target.redis.client;
  const all = await scan(redis, "rro:*");
  const counters = all.filter((k) => k.startsWith("rro:rate:"));
  expect(counters.length, `rate-limit counters: ${counters.join(", ")}`).toBeLessThanOrEqual(4);
  for (const key of counters) {
    const ttl = await redis.pttl(key);
    expect(ttl > 0 && ttl <= 600_000, `${key} lives one window at most (${ttl} ms left)`).toBe(true);
  }
  const keys = all.filter((k) => !counters.includes(k));
  // Session records: the hot ones and the token records (bytes: compared as base64).
  const sessionKeys = keys.filter((k) => /^rro:(sess|tok):/.test(k));
  const values = sessionKeys.length > 0 ? (await redis.mgetBuffer(sessionKeys)).map((v) => v?.toString("base64")) : [];
  return {
    outputAt: target.app.output().length,
    keys,
    sessions: new Map(sessionKeys.map((k, i) => [k, values[i] ?? null])),
  };
}

/** No key created or deleted, and every session record byte for byte as it was. */
export async function expectRedisUnchanged(target: Target, before: Snapshot) {
  const after = await snapshot(target);
  expect(after.keys, "keys created or deleted").toEqual(before.keys);
  for (const [key, value] of before.sessions)
    expect(after.sessions.get(key), `session record ${key} changed`).toBe(value);
}

const STACK_TRACE = [
  /\n\s+at \S/, // a V8 stack frame
  /\bat \S*\s*\(?\S*\.(?:[cm]?js|tsx?):\d+:\d+/, // "at fn (file.js:1:2)"
  /node_modules/,
  /\b(?:Type|Reference|Syntax|Range|OperationProcessing|Client|Redis\w*|SignIn)?Error: /,
];

export function expectNoStackTrace(text: string, label = "answer") {
  for (const pattern of STACK_TRACE) expect(text, `${label} matches ${pattern}`).not.toMatch(pattern);
}

/** The test stack's secrets (client secret, its Basic credentials, session secret) plus `more` (tokens, live cookies). */
export function secretsOf(more: Array<string | undefined> = []): string[] {
  const basic = Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString("base64");
  const values = [CLIENT_SECRET, basic, SESSION_SECRET];
  for (const value of more) {
    if (!value) continue;
    values.push(value, decodeURIComponent(value));
    const parts = value.split(".");
    if (parts.length === 3 && parts[2]!.length >= 16) values.push(parts[2]!); // a JWT's signature alone
  }
  return [...new Set(values)].filter((v) => v.length >= 16);
}

export function expectNoSecret(text: string, secrets: string[], label = "answer") {
  for (const secret of secrets)
    expect(text.includes(secret), `${label} contains the secret ${secret.slice(0, 12)}…`).toBe(false);
}

/**
 * The common tail of every hostile case: Redis as it was, no stack trace or
 * secret in `bodies`, no secret in anything the app ever printed, no stack
 * trace printed since the snapshot (an error path nobody handled), and the
 * app still running.
 */
export async function expectHarmless(
  target: Target,
  before: Snapshot,
  bodies: string | string[],
  more: Array<string | undefined> = [],
) {
  await expectRedisUnchanged(target, before);
  const secrets = secretsOf(more);
  for (const body of [bodies].flat()) {
    expectNoStackTrace(body);
    expectNoSecret(body, secrets);
  }
  const output = target.app.output();
  expectNoSecret(output, secrets, "the app's output");
  expectNoStackTrace(output.slice(before.outputAt), "the app's output");
  expect(target.app.process.exitCode, "the app exited").toBeNull();
}
