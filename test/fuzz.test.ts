/**
 * A fuzz run (seeded, so a failure can be replayed): thousands of random
 * session cookies and random callback query strings against the running app.
 * Whatever arrives, no 500, no crash, and no session is created.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import { SESSION_COOKIE, signIn } from "./support/flows.ts";
import { sessionKeys } from "./support/redis-keys.ts";
import { startStack, type Stack } from "./support/stack.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261122);
let stack: Stack;
let validCookie: string;
beforeAll(async () => {
  stack = await startStack();
  const browser = new Browser();
  await signIn(browser, stack.app.url);
  validCookie = browser.cookie(stack.app.url, SESSION_COOKIE)!;
});
afterAll(async () => {
  await stack?.stop();
});

/** mulberry32: a small seeded PRNG. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABETS = [
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=._-",
  "%\"'\\.;,=<>{}[]()!$&*~`^|@#?:/ ",
  Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join(""),
  Array.from({ length: 96 }, (_, i) => String.fromCharCode(160 + i)).join(""), // Latin-1, still a valid header byte
];

function generator(seed: number) {
  const random = prng(seed);
  const pick = <T,>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const text = (max: number) => {
    const alphabet = pick(ALPHABETS);
    return Array.from({ length: Math.floor(random() * max) }, () => alphabet[Math.floor(random() * alphabet.length)]).join("");
  };
  /** Random text, or the valid cookie with a random edit: the inputs a parser is most likely to trip on. */
  const cookieValue = () => {
    const kind = random();
    if (kind < 0.4) return text(pick([8, 64, 512, 3000]));
    const at = Math.floor(random() * validCookie.length);
    if (kind < 0.6) return validCookie.slice(0, at) + text(4) + validCookie.slice(at + 1);
    if (kind < 0.8) return validCookie.slice(0, at);
    return encodeURIComponent(validCookie) + text(8);
  };
  const query = () => {
    const params = new URLSearchParams();
    for (const name of ["code", "state", "error", "error_description", "iss", "session_state", text(6)]) {
      if (random() < 0.6) params.append(name, text(pick([4, 43, 300])));
    }
    return random() < 0.2 ? text(200) : params.toString();
  };
  return { cookieValue, query };
}

async function inBatches<T>(items: T[], size: number, send: (item: T) => Promise<number>) {
  const statuses: number[] = [];
  for (let i = 0; i < items.length; i += size) statuses.push(...(await Promise.all(items.slice(i, i + size).map(send))));
  return statuses;
}

it(`random session cookies never cause a 500 or a session (seed ${SEED})`, async () => {
  const { cookieValue } = generator(SEED);
  const cookies = Array.from({ length: 3000 }, cookieValue);
  const before = await sessionKeys(stack.redis.client);
  const statuses = await inBatches(cookies, 50, async (value) => {
    const response = await fetch(`${stack.app.url}/account`, { headers: { Cookie: `${SESSION_COOKIE}=${value}` }, redirect: "manual" });
    await response.body?.cancel();
    return response.status;
  });
  const unexpected = cookies.filter((_, i) => ![200, 302, 400, 431].includes(statuses[i]!));
  expect(unexpected.slice(0, 5)).toEqual([]);
  // 200 only for the untouched valid cookie (possible when an edit left it as it was).
  expect(statuses.filter((s) => s === 200).length).toBeLessThan(30);
  expect(await sessionKeys(stack.redis.client)).toEqual(before);
  expect(stack.app.process.exitCode).toBeNull();
});

it(`random callback query strings never cause a 500 or a session (seed ${SEED + 1})`, async () => {
  const { query } = generator(SEED + 1);
  const queries = Array.from({ length: 2000 }, query);
  const before = await sessionKeys(stack.redis.client);
  const statuses = await inBatches(queries, 50, async (search) => {
    const response = await fetch(`${stack.app.url}/auth/callback?${search}`, { redirect: "manual" });
    await response.body?.cancel();
    return response.status;
  });
  const unexpected = queries.filter((_, i) => ![400, 503].includes(statuses[i]!));
  expect(unexpected.slice(0, 5)).toEqual([]);
  expect(await sessionKeys(stack.redis.client)).toEqual(before);
  expect(stack.app.output()).not.toMatch(/\n\s+at .*\.(js|ts):\d+/); // no stack traces logged either
});
