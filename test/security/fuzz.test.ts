/**
 * A fuzz run (seeded, so a failure can be replayed with FUZZ_SEED): 3,000
 * random or mutated session cookies and 2,000 random callback query strings
 * against the running app, half of the callbacks carrying the state of a real
 * sign-in in progress (with its cookie) so they reach openid-client's checks
 * and the provider's token endpoint. Whatever arrives: no 500, no crash, no
 * session created or changed, no stack trace or secret in any answer or in the
 * app's output; a cookie signs in only when the cookie parser reads it as
 * exactly the valid one.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { Browser } from "../support/browser.ts";
import { SESSION_COOKIE, signIn, startSignIn } from "../support/flows.ts";
import { readSession } from "../support/redis-keys.ts";
import { startStack, type Stack } from "../support/stack.ts";
import { expectHarmless, expectNoSecret, expectNoStackTrace, secretsOf, snapshot } from "./assertions.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261122);
const COOKIES = 3000;
const CALLBACKS = 2000;
/** Each run is a few thousand requests: over 60 s on a busy 2-core machine. */
const FUZZ = { timeout: 300_000 };

let stack: Stack;
let validCookie: string;
beforeAll(async () => {
  // One address sends thousands of callbacks here: the callback rate limit would answer most of them
  // with 429 before the handler under test saw them (test/request-limits.test.ts tests the limits).
  stack = await startStack({ appEnv: { RATE_LIMIT_CALLBACK: "0", RATE_LIMIT_SIGN_IN: "0" } });
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
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const text = (max: number) => {
    const alphabet = pick(ALPHABETS);
    return Array.from(
      { length: Math.floor(random() * max) },
      () => alphabet[Math.floor(random() * alphabet.length)],
    ).join("");
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
  /** Random parameters; with `flow`, its real state (and often the real iss), so the checks behind the state run. */
  const query = (flow?: { state: string; issuer: string }) => {
    const params = new URLSearchParams();
    for (const name of ["code", "state", "error", "error_description", "iss", "session_state", text(6)]) {
      if (random() < 0.6) params.append(name, text(pick([4, 43, 300])));
      if (random() < 0.05) params.append(name, text(8)); // a repeated parameter
    }
    if (!flow) return random() < 0.2 ? text(200) : params.toString();
    params.set("state", flow.state);
    if (random() < 0.5) params.set("iss", flow.issuer);
    return params.toString();
  };
  return { random, cookieValue, query };
}

/** The session cookie's value as the app's cookie parser reads it: up to `;`, trimmed, unquoted, URI-decoded. */
function asParsed(value: string) {
  let parsed = value.split(";")[0]!.replace(/^[ \t]+|[ \t]+$/g, "");
  if (parsed.length >= 2 && parsed.startsWith('"') && parsed.endsWith('"')) parsed = parsed.slice(1, -1);
  try {
    return parsed.includes("%") ? decodeURIComponent(parsed) : parsed;
  } catch {
    return parsed;
  }
}

async function inBatches<T, R>(items: T[], size: number, send: (item: T) => Promise<R>) {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) results.push(...(await Promise.all(items.slice(i, i + size).map(send))));
  return results;
}

it(`${COOKIES} random session cookies never cause a 500 or a session (seed ${SEED})`, FUZZ, async () => {
  const { cookieValue } = generator(SEED);
  const cookies = Array.from({ length: COOKIES }, cookieValue);
  const secrets = secretsOf([validCookie]);
  const before = await snapshot(stack);
  const statuses = await inBatches(cookies, 50, async (value) => {
    const response = await fetch(`${stack.app.url}/account`, {
      headers: { Cookie: `${SESSION_COOKIE}=${value}` },
      redirect: "manual",
    });
    const body = await response.text();
    expectNoStackTrace(body);
    if (response.status !== 200) expectNoSecret(body, secrets);
    return response.status;
  });
  const unexpected = cookies.filter((_, i) => ![200, 302].includes(statuses[i]!));
  expect(unexpected.slice(0, 5)).toEqual([]);
  // Signed in only with the valid cookie as the parser reads it (an edit that left it whole, or cut after a ';').
  const signedInWith = cookies.filter((_, i) => statuses[i] === 200);
  expect(signedInWith.filter((value) => asParsed(value) !== asParsed(validCookie)).slice(0, 5)).toEqual([]);
  await expectHarmless(stack, before, [], [validCookie]);
});

it(`${CALLBACKS} random callback query strings never cause a 500 or a session (seed ${SEED + 1})`, FUZZ, async () => {
  const { random, query } = generator(SEED + 1);
  const browser = new Browser();
  await startSignIn(browser, stack.app.url);
  const preSignIn = browser.cookie(stack.app.url, SESSION_COOKIE)!;
  const record = (await readSession(stack.redis.client, preSignIn))!;
  const flow = { state: Object.keys(record.flows)[0]!, issuer: stack.provider.issuer };
  const inputs = Array.from({ length: CALLBACKS }, () =>
    random() < 0.5 ? { search: query(flow), cookie: preSignIn } : { search: query() },
  );
  const secrets = secretsOf([preSignIn, validCookie]);

  const before = await snapshot(stack);
  const answers = await inBatches(inputs, 25, async ({ search, cookie }) => {
    const response = await fetch(`${stack.app.url}/auth/callback?${search}`, {
      headers: cookie ? { Cookie: `${SESSION_COOKIE}=${cookie}` } : {},
      redirect: "manual",
    });
    const body = await response.text();
    expectNoStackTrace(body);
    expectNoSecret(body, secrets);
    return {
      status: response.status,
      code: /data-code="([a-z_]+)"/.exec(body)?.[1],
      setCookie: response.headers.has("Set-Cookie"),
    };
  });
  const unexpected = inputs.filter((_, i) => answers[i]!.status !== 400 || answers[i]!.setCookie);
  expect(unexpected.slice(0, 5)).toEqual([]);
  const codes = new Set(answers.map((a) => a.code));
  // Every refusal is a sign-in error the app knows; the real state's inputs reached the checks behind it.
  expect(
    [...codes].filter(
      (c) =>
        !["missing_state", "unknown_state", "provider_error", "invalid_response", "token_exchange_failed"].includes(c!),
    ),
  ).toEqual([]);
  expect(codes).toContain("invalid_response");
  expect(codes).toContain("provider_error");
  expect(codes).toContain("token_exchange_failed");
  await expectHarmless(stack, before, [], [preSignIn, validCookie]);
});
