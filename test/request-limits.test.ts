/**
 * The edges an attacker chooses (issue 13): request bodies are never read past
 * MAX_BODY_BYTES (Content-Length refused before reading, chunked bodies cut
 * off), sign-in starts and the other flows are rate-limited per client
 * address across instances through Redis, and every response carries the
 * security headers. Real app processes, real Redis, real provider.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, startStack, type App, type Stack } from "./support/stack.ts";
import { until } from "./support/until.ts";

let stack: Stack;
/** A second instance sharing the stack's Redis and provider. */
let second: App;
const SIGN_IN_LIMIT = 5;

beforeAll(async () => {
  stack = await startStack({
    appEnv: { RATE_LIMIT_SIGN_IN: String(SIGN_IN_LIMIT), RATE_LIMIT_BACKCHANNEL: "3", TRUST_PROXY: "loopback" },
  });
  second = await startApp({
    REDIS_URL: stack.redis.url,
    OIDC_ISSUER: stack.provider.issuer,
    RATE_LIMIT_SIGN_IN: String(SIGN_IN_LIMIT),
    TRUST_PROXY: "loopback",
  });
});
afterAll(async () => {
  await second?.stop();
  await stack?.stop();
});

/** Peak and current resident memory of a process, in MiB (Linux /proc). */
function memory(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)![1]);
  return { peak: kib("VmHWM") / 1024, now: kib("VmRSS") / 1024 };
}

/**
 * POSTs `size` bytes in 1 MiB chunks, announced by Content-Length or sent
 * chunked; resolves with the status and body the server answered, or the
 * error when the connection was cut before any answer arrived.
 */
function bigPost(
  url: string,
  size: number,
  chunked: boolean,
): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise((resolve) => {
    const chunk = Buffer.alloc(1024 * 1024, "a");
    const request = http.request(url, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        ...(chunked ? { "Transfer-Encoding": "chunked" } : { "Content-Length": String(size) }),
      },
    });
    let answered = false;
    request.on("response", (response) => {
      answered = true;
      let body = "";
      response.setEncoding("utf8").on("data", (text: string) => (body += text));
      response.on("end", () => resolve({ status: response.statusCode, body }));
      response.on("error", () => resolve({ status: response.statusCode, body }));
    });
    request.on("error", (error) => {
      if (!answered) resolve({ error: error.message });
    });
    let sent = 0;
    const write = () => {
      while (sent < size) {
        sent += chunk.length;
        if (!request.write(chunk)) return void request.once("drain", write);
      }
      request.end();
    };
    write();
  });
}

describe("request bodies", () => {
  it("refuses 10 concurrent 64 MiB posts, announced or chunked, with 413 and without reading them", async () => {
    const pid = stack.app.process.pid!;
    const before = memory(pid);
    const target = `${stack.app.url}/auth/backchannel-logout`;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => bigPost(target, 64 * 1024 * 1024, i % 2 === 1)),
    );
    const after = memory(pid);
    console.info(
      `[request-limits] app memory around 10 concurrent 64 MiB posts: RSS ${before.now.toFixed(0)} -> ${after.now.toFixed(0)} MiB, peak ${before.peak.toFixed(0)} -> ${after.peak.toFixed(0)} MiB`,
    );
    for (const result of results) {
      // The client may see its connection closed while it is still sending; when an answer arrives it is the 413.
      if (result.status !== undefined) {
        expect(result.status).toBe(413);
        expect(result.body).toMatch(/Request body too large: this server accepts at most 65536 bytes/);
      }
    }
    expect(results.filter((r) => r.status === 413).length, JSON.stringify(results)).toBeGreaterThanOrEqual(5);
    // Nothing like one body (64 MiB) was ever held: the peak grew by less than 32 MiB.
    expect(after.peak - before.peak).toBeLessThan(32);
    const health = await fetch(`${stack.app.url}/healthz`);
    expect(health.status).toBe(200);
    expect(stack.app.stdout()).toMatch(/"code":"body_too_large"/);
  });

  it("refuses a body one byte over the limit and reads one at the limit", async () => {
    const at = "logout_token=" + "a".repeat(65_536 - "logout_token=".length);
    const ok = await fetch(`${stack.app.url}/auth/backchannel-logout`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: at,
    });
    expect(ok.status).toBe(400); // read, and refused as a logout token
    expect(await ok.json()).toMatchObject({ error: "invalid_request" });
    const over = await fetch(`${stack.app.url}/auth/backchannel-logout`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: `${at}a`,
    });
    expect(over.status).toBe(413);
    expect(over.headers.get("content-type")).toMatch(/^text\/plain/);
  });
});

describe("rate limits", () => {
  const postLogin = (url: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/login`, { method: "POST", redirect: "manual", headers: { Origin: url, ...headers } });

  it("shares one sign-in limit between two instances, per client address, with 429 and Retry-After", async () => {
    const client = { "X-Forwarded-For": "203.0.113.7" };
    const statuses: number[] = [];
    for (let i = 0; i < SIGN_IN_LIMIT + 2; i++) {
      const response = await postLogin(i % 2 ? second.url : stack.app.url, client);
      statuses.push(response.status);
      if (response.status === 429) {
        const retryAfter = Number(response.headers.get("retry-after"));
        expect(retryAfter).toBeGreaterThan(0);
        expect(retryAfter).toBeLessThanOrEqual(600);
      }
    }
    expect(statuses).toEqual([...Array<number>(SIGN_IN_LIMIT).fill(302), 429, 429]);
    // Another address is counted apart; an IPv6 client by its /64.
    expect((await postLogin(second.url, { "X-Forwarded-For": "203.0.113.8" })).status).toBe(302);
    const v6 = (n: number) => ({ "X-Forwarded-For": `2001:db8:1:2::${n}` });
    for (let i = 0; i < SIGN_IN_LIMIT; i++) expect((await postLogin(stack.app.url, v6(i + 1))).status).toBe(302);
    expect((await postLogin(second.url, v6(99))).status).toBe(429);
    // The refusal page says what happened and when to come back.
    const page = await postLogin(stack.app.url, client);
    expect(await page.text()).toMatch(/Too many sign-in attempts from your network address/);
    expect(stack.app.stdout()).toMatch(/"code":"rate_limited","limit":"sign_in"/);
  });

  it("limits back-channel requests per minute, answering the provider in OAuth's JSON", async () => {
    const post = () =>
      fetch(`${stack.app.url}/auth/backchannel-logout`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": "198.51.100.77" },
        body: "logout_token=not-a-token",
      });
    for (let i = 0; i < 3; i++) expect((await post()).status).toBe(400);
    const refused = await post();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    expect(await refused.json()).toMatchObject({
      error: "invalid_request",
      error_description: /Too many logout notifications/,
    });
  });

  it("caps the pre-sign-in state one address can leave in Redis", async () => {
    const before = (await stack.redis.client.keys("rro:sess:*")).length;
    const client = { "X-Forwarded-For": "198.51.100.1" };
    for (let i = 0; i < 40; i++) await postLogin(i % 2 ? second.url : stack.app.url, client);
    const after = (await stack.redis.client.keys("rro:sess:*")).length;
    expect(after - before).toBe(SIGN_IN_LIMIT);
  });

  it("keeps limiting in each instance's memory while Redis is down", async () => {
    const client = { "X-Forwarded-For": "192.0.2.44" };
    await stack.redis.server.stop();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < SIGN_IN_LIMIT + 1; i++) statuses.push((await postLogin(stack.app.url, client)).status);
      // No pre-sign-in state can be stored (503), and the address is still counted.
      expect(statuses).toEqual([...Array<number>(SIGN_IN_LIMIT).fill(503), 429]);
    } finally {
      await stack.redis.restart();
    }
    await until(async () => (await fetch(`${stack.app.url}/readyz`)).status === 200, 10_000);
    // Back on Redis: the shared count starts afresh for this address.
    expect((await postLogin(second.url, client)).status).toBe(302);
  });
});

describe("security headers", () => {
  const expectHeaders = (response: Response, what: string) => {
    expect(response.headers.get("x-frame-options"), what).toBe("DENY");
    expect(response.headers.get("x-content-type-options"), what).toBe("nosniff");
    expect(response.headers.get("referrer-policy"), what).toBe("same-origin");
    expect(response.headers.get("content-security-policy"), what).toMatch(/frame-ancestors 'none'/);
    expect(response.headers.get("strict-transport-security"), `${what}: no HSTS over http`).toBeNull();
  };

  it("are on pages, JSON, redirects, 404s, static files and refusals", async () => {
    const page = await fetch(`${stack.app.url}/`);
    expectHeaders(page, "page");
    const nonce = /'nonce-([^']+)'/.exec(page.headers.get("content-security-policy")!)![1];
    expect(await page.text()).toContain(`nonce="${nonce}"`);
    const json = await fetch(`${stack.app.url}/readyz`);
    expect(json.headers.get("content-type")).toMatch(/json/);
    expectHeaders(json, "JSON");
    const redirect = await fetch(`${stack.app.url}/account`, { redirect: "manual" });
    expect(redirect.status).toBe(302);
    expectHeaders(redirect, "redirect");
    const missing = await fetch(`${stack.app.url}/no-such-page`);
    expect(missing.status).toBe(404);
    expectHeaders(missing, "404");
    const asset = /\/assets\/[^"]+\.js/.exec(await (await fetch(`${stack.app.url}/`)).text())![0];
    const staticFile = await fetch(`${stack.app.url}${asset}`);
    expect(staticFile.status).toBe(200);
    expectHeaders(staticFile, "static file");
    const refused = await fetch(`${stack.app.url}/logout`, {
      method: "POST",
      headers: { Origin: "https://evil.example" },
    });
    expect(refused.status).toBe(403);
    expectHeaders(refused, "cross-site refusal");
  });

  it("adds Strict-Transport-Security when APP_URL is https", async () => {
    const port = second.port;
    const https = await startApp({
      REDIS_URL: stack.redis.url,
      OIDC_ISSUER: stack.provider.issuer,
      APP_URL: `https://localhost:${port + 0}`,
    });
    try {
      const response = await fetch(`${https.url}/healthz`);
      expect(response.headers.get("strict-transport-security")).toBe("max-age=31536000");
    } finally {
      await https.stop();
    }
  });
});
