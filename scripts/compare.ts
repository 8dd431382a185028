/**
 * npm run compare — the cookie design (SESSION_STORE=cookie) and the Redis
 * design (SESSION_STORE=redis), side by side in one run, against the
 * development provider, on loopback:
 *   - bytes on the wire (Set-Cookie after sign-in, Cookie on each request)
 *     across users with 0…400 group claims;
 *   - what Remix does past 4096 bytes, what real Chromium keeps;
 *   - a real nginx in front (defaults, then the seed post's buffer workaround),
 *     and Node's own 16 KB header limit;
 *   - revocation: a cookie copied before logout, replayed after;
 *   - requests/s and latency of the same page: no session (ceiling), cookie, Redis.
 * Writes compare-report.md, compare-report.json and compare-chart.svg to
 * docs/compare/ (or COMPARE_OUT). COMPARE_QUICK=1: two sizes and 2-second
 * load runs (what the test suite runs). What metrics and traces cost:
 * scripts/observability-cost.ts.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { createCookie } from "@remix-run/node";
import autocannon from "autocannon";
import { startDevProvider } from "../server/dev-oidc-provider/index.ts";
import { Browser, formAction } from "../test/support/browser.ts";
import { chromiumPath, launchChromium } from "../test/support/chromium.ts";
import { postLogout, SESSION_COOKIE, startSignIn } from "../test/support/flows.ts";
import { nginxPath, startNginx, type NginxBuffers } from "../test/support/nginx.ts";
import { freePort } from "../test/support/ports.ts";
import { readSession } from "../test/support/redis-keys.ts";
import { CLIENT_ID, CLIENT_SECRET, SESSION_SECRET, startApp, startTestRedis } from "../test/support/stack.ts";

const QUICK = process.env.COMPARE_QUICK === "1";
const OUT = path.resolve(process.env.COMPARE_OUT ?? "docs/compare");
// 21 groups: the cookie design's cookie just fits under 4096 bytes, and the response headers just do not fit nginx's 4 KB buffer.
const SIZES = QUICK ? [0, 50] : [0, 10, 21, 50, 150, 400];
const THROUGHPUT_GROUPS = 50;
const CONNECTIONS = 10;
const LOAD_SECONDS = QUICK ? 2 : 10;
const WARMUP_SECONDS = QUICK ? 1 : 5;
const ROUNDS = QUICK ? 1 : 3;
const DESIGNS = ["cookie", "redis"] as const;
type Design = (typeof DESIGNS)[number];

const log = (line: string) => console.log(`[compare] ${line}`);
const bytes = (s: string | null | undefined) => (s ? Buffer.byteLength(s) : 0);

// ---------- the real parts ----------
const cleanups: Array<() => Promise<void>> = [];
const redis = await startTestRedis();
cleanups.push(redis.stop);
const ports = { cookie: await freePort(), redis: await freePort() };
const appUrl = (d: Design) => `http://localhost:${ports[d]}`;
const provider = await startDevProvider({
  port: 0,
  client: {
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUris: DESIGNS.map((d) => `${appUrl(d)}/auth/callback`),
    postLogoutRedirectUris: DESIGNS.map((d) => `${appUrl(d)}/`),
    // As the app is registered for real: with back-channel logout, so ID tokens carry `sid` (and the session holds it).
    backchannelLogoutUri: `${appUrl("redis")}/auth/backchannel-logout`,
  },
  log: () => {},
});
cleanups.push(provider.close);
const apps = {
  cookie: await startApp({ REDIS_URL: redis.url, OIDC_ISSUER: provider.issuer, SESSION_STORE: "cookie" }, ports.cookie),
  redis: await startApp({ REDIS_URL: redis.url, OIDC_ISSUER: provider.issuer, SESSION_STORE: "redis" }, ports.redis),
};
for (const app of Object.values(apps)) cleanups.push(app.stop);
const nginxFronts: Record<string, Awaited<ReturnType<typeof startNginx>>> = {};
for (const design of DESIGNS) {
  for (const buffers of ["default", "seed-post-workaround"] as NginxBuffers[]) {
    const front = await startNginx({ port: await freePort(), upstreamPort: ports[design], buffers });
    nginxFronts[`${design}/${buffers}`] = front;
    cleanups.push(front.stop);
  }
}
const stopAll = async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
};

// ---------- helpers ----------
/** Runs a sign-in up to the provider's redirect back to the app; returns the callback URL (not yet requested). */
async function callbackUrl(browser: Browser, design: Design, username: string): Promise<string> {
  const loginForm = await startSignIn(browser, appUrl(design));
  const action = formAction(loginForm.html, /<form[^>]*\/login"[^>]*>/)!;
  let url = new URL(action, loginForm.url).href;
  let response = await browser.request(url, { method: "POST", form: { username, password: `${username}-password` } });
  for (;;) {
    url = new URL(response.headers.get("Location")!, url).href;
    if (url.startsWith(`${appUrl(design)}/auth/callback`)) return url;
    response = await browser.request(url);
  }
}

/** The cookie the cookie design needs for this session data: exactly what createCookieSessionStorage serializes, without its 4096 check. */
async function neededCookieHeader(data: unknown): Promise<string> {
  const cookie = createCookie(SESSION_COOKIE, {
    secrets: [SESSION_SECRET],
    httpOnly: true,
    sameSite: "lax",
    path: "/",
  });
  return (await cookie.serialize(data)).split(";")[0]!;
}

async function status(url: string, cookie?: string): Promise<number | string> {
  try {
    const response = await fetch(url, { headers: cookie ? { Cookie: cookie } : {}, redirect: "manual" });
    await response.body?.cancel();
    return response.status;
  } catch (error) {
    return `refused (${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : error})`;
  }
}

/** Bytes Redis sent per request over 20 signed-in requests of the home page (INFO stats, after CONFIG RESETSTAT). */
async function redisBytesPerRequest(url: string, cookie: string): Promise<number> {
  await redis.client.config("RESETSTAT");
  for (let i = 0; i < 20; i++) await (await fetch(`${url}/`, { headers: { cookie } })).text();
  const sent = Number(/^total_net_output_bytes:(\d+)/m.exec(await redis.client.info("stats"))![1]);
  return Math.round((sent - "+OK\r\n".length) / 20);
}

interface DesignAtSize {
  signin_status: number;
  signin_error: string | null;
  set_cookie_bytes: number;
  cookie_header_bytes: number;
  /** The Cookie header this design needs for this session (equal to cookie_header_bytes when sign-in worked). */
  needed_cookie_header_bytes: number;
  account_status_direct: number | string;
  /** Bytes Redis sends per signed-in request of the home page (Redis design; 0 for the cookie design). */
  redis_bytes_per_request: number;
  chromium: { kept_cookie_bytes: number | null; signed_in: boolean; needed_cookie_kept: boolean };
  nginx_default: { signin_status: number; request_status: number | string };
  nginx_workaround: { signin_status: number; request_status: number | string };
}

// ---------- 1–3: bytes, browser, proxies ----------
const chromium = await launchChromium();
cleanups.push(() => chromium.close());
// A loopback page that sets a given Set-Cookie, to see what Chromium keeps of a cookie the app could not even send.
const probePort = await freePort();
let probeSetCookie = "";
const probe = http.createServer((_req, res) =>
  res.writeHead(200, { "Set-Cookie": probeSetCookie, "Content-Type": "text/html" }).end("ok"),
);
await new Promise<void>((resolve) => probe.listen(probePort, "127.0.0.1", resolve));
cleanups.push(() => new Promise((resolve) => probe.close(() => resolve())));

const sweep: Array<{ groups: number; id_token_bytes: number; cookie: DesignAtSize; redis: DesignAtSize }> = [];
const sessionData: Record<number, unknown> = {};
for (const groups of SIZES) {
  const username = `groups-${groups}`;
  const row: Partial<Record<Design, DesignAtSize>> = {};
  let idTokenBytes = 0;
  for (const design of ["redis", "cookie"] as const) {
    log(`${design} design, ${groups} groups`);
    const browser = new Browser();
    const callback = await browser.request(await callbackUrl(browser, design, username));
    const setCookie = callback.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    const signinError =
      callback.status >= 400
        ? ((await callback.text()).match(/data-code="([^"]+)"/)?.[1] ?? `HTTP ${callback.status}`)
        : null;
    const cookieHeader = browser.cookieHeader(appUrl(design));
    if (design === "redis") {
      const record = (await readSession(redis.client, browser.cookie(appUrl(design), SESSION_COOKIE)!))!;
      sessionData[groups] = record;
      idTokenBytes = bytes(record.idToken);
    }
    const needed = setCookie ? cookieHeader : await neededCookieHeader(sessionData[groups]);
    const accountDirect = await status(`${appUrl(design)}/account`, needed);
    const redisBytes = design === "redis" ? await redisBytesPerRequest(appUrl(design), needed) : 0;

    // Real Chromium: sign in through the real pages, then what it kept.
    const context = await chromium.newContext();
    const page = await context.newPage();
    await page.goto(`${appUrl(design)}/login?returnTo=%2Faccount`);
    await page.getByRole("button", { name: /Sign in with/ }).click();
    await page.waitForURL(/\/interaction\//);
    await page.fill('input[name="username"]', username);
    await page.fill('input[name="password"]', `${username}-password`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(new RegExp(`^${appUrl(design)}/`));
    const kept = (await context.cookies(appUrl(design))).find((c) => c.name === SESSION_COOKIE);
    const signedIn = (await page.goto(`${appUrl(design)}/account`))?.url() === `${appUrl(design)}/account`;
    // On its own host (127.0.0.1, not the app's localhost), so only the probe's cookie can be found there.
    probeSetCookie = `${needed}; Path=/; HttpOnly; SameSite=Lax`;
    await page.goto(`http://127.0.0.1:${probePort}/`);
    const neededValue = needed.slice(SESSION_COOKIE.length + 1);
    const neededKept = (await context.cookies(`http://127.0.0.1:${probePort}`)).some(
      (c) => c.name === SESSION_COOKIE && c.value === neededValue,
    );
    await context.close();

    // nginx: the sign-in's answer (Set-Cookie) and a request carrying the session cookie.
    const throughNginx = async (buffers: NginxBuffers) => {
      const front = nginxFronts[`${design}/${buffers}`]!;
      const b = new Browser();
      const url = new URL(await callbackUrl(b, design, username));
      const answer = await b.request(`${front.url}${url.pathname}${url.search}`);
      await answer.body?.cancel();
      return { signin_status: answer.status, request_status: await status(`${front.url}/account`, needed) };
    };
    row[design] = {
      signin_status: callback.status,
      signin_error: signinError,
      set_cookie_bytes: bytes(setCookie),
      cookie_header_bytes: bytes(cookieHeader),
      needed_cookie_header_bytes: bytes(needed),
      account_status_direct: accountDirect,
      redis_bytes_per_request: redisBytes,
      chromium: {
        kept_cookie_bytes: kept ? bytes(`${kept.name}=${kept.value}`) : null,
        signed_in: signedIn,
        needed_cookie_kept: neededKept,
      },
      nginx_default: await throughNginx("default"),
      nginx_workaround: await throughNginx("seed-post-workaround"),
    };
  }
  sweep.push({ groups, id_token_bytes: idTokenBytes, cookie: row.cookie!, redis: row.redis! });
}

// ---------- 4: revocation ----------
const revocation: Record<Design, { replay_status: number | string; signed_in_after_logout: boolean }> = {} as never;
for (const design of DESIGNS) {
  const browser = new Browser();
  await browser.navigate(await callbackUrl(browser, design, "groups-0"));
  const copied = browser.cookieHeader(appUrl(design));
  await postLogout(browser, appUrl(design));
  const replay = await status(`${appUrl(design)}/account`, copied);
  revocation[design] = { replay_status: replay, signed_in_after_logout: replay === 200 };
}

// ---------- 5: throughput ----------
async function cookieFor(design: Design, groups: number): Promise<string> {
  if (design === "cookie") return neededCookieHeader(sessionData[groups]);
  const browser = new Browser();
  await browser.navigate(await callbackUrl(browser, design, `groups-${groups}`));
  return browser.cookieHeader(appUrl(design));
}
const loadCases = [
  { name: "ceiling", url: `${appUrl("redis")}/`, cookie: undefined as string | undefined },
  { name: "cookie", url: `${appUrl("cookie")}/`, cookie: await cookieFor("cookie", THROUGHPUT_GROUPS) },
  { name: "redis", url: `${appUrl("redis")}/`, cookie: await cookieFor("redis", THROUGHPUT_GROUPS) },
];
async function load(url: string, cookie: string | undefined, seconds: number) {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    headers: cookie ? { cookie } : {},
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}
// V8 keeps optimizing for the first seconds under load: warm every case up first.
for (const c of loadCases) await load(c.url, c.cookie, WARMUP_SECONDS);
const runs: Record<string, Array<Awaited<ReturnType<typeof load>>>> = { ceiling: [], cookie: [], redis: [] };
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order each round so that no case always runs first or last.
  for (const c of [...loadCases.slice(round % loadCases.length), ...loadCases.slice(0, round % loadCases.length)]) {
    log(`load: ${c.name}, round ${round + 1}/${ROUNDS}`);
    runs[c.name]!.push(await load(c.url, c.cookie, LOAD_SECONDS));
  }
}
/** The median of the rounds (the middle one of three): one noisy run does not move it. */
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length % 2
    ? sorted[(sorted.length - 1) / 2]!
    : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
};
const summary = Object.fromEntries(
  Object.entries(runs).map(([name, r]) => [
    name,
    {
      requests_per_s: Math.round(median(r.map((x) => x.rps))),
      latency_p50_ms: median(r.map((x) => x.p50)),
      latency_p99_ms: median(r.map((x) => x.p99)),
      non_2xx: r.reduce((a, x) => a + x.non2xx, 0),
      errors: r.reduce((a, x) => a + x.errors, 0),
    },
  ]),
) as Record<
  "ceiling" | "cookie" | "redis",
  { requests_per_s: number; latency_p50_ms: number; latency_p99_ms: number; non_2xx: number; errors: number }
>;
const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;

// ---------- report ----------
/** First line a command prints about its version (nginx prints it on stderr). */
const version = (cmd: string, args: string[]) => {
  const run = spawnSync(cmd, args, { encoding: "utf8" });
  return `${run.stdout ?? ""}${run.stderr ?? ""}`.trim().split("\n")[0] ?? "unknown";
};
const pkg = (name: string) =>
  JSON.parse(
    execFileSync("node", ["-p", `JSON.stringify(require("${name}/package.json").version)`], { encoding: "utf8" }),
  );
const report = {
  generated_at: new Date().toISOString(),
  quick: QUICK,
  machine: {
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.type()} ${os.release()}`,
  },
  versions: {
    node: process.version,
    redis: version("redis-server", ["--version"]),
    nginx: version(nginxPath(), ["-v"]),
    chromium: version(chromiumPath(), ["--version"]),
    remix: pkg("@remix-run/node"),
    "openid-client": pkg("openid-client"),
    ioredis: pkg("ioredis"),
    "oidc-provider": pkg("oidc-provider"),
    autocannon: pkg("autocannon"),
  },
  settings: {
    sizes: SIZES,
    throughput_groups: THROUGHPUT_GROUPS,
    connections: CONNECTIONS,
    warmup_seconds: WARMUP_SECONDS,
    load_seconds: LOAD_SECONDS,
    rounds: ROUNDS,
    page: "GET / (reads the session, renders the signed-in home page)",
  },
  sizes: sweep,
  revocation,
  throughput: {
    groups: THROUGHPUT_GROUPS,
    ...summary,
    ratio_redis_vs_cookie: ratio(summary.redis.requests_per_s, summary.cookie.requests_per_s),
    ratio_redis_vs_ceiling: ratio(summary.redis.requests_per_s, summary.ceiling.requests_per_s),
  },
  cookie_bytes: {
    redis_max_cookie_header: Math.max(...sweep.map((s) => s.redis.cookie_header_bytes)),
    redis_max_set_cookie: Math.max(...sweep.map((s) => s.redis.set_cookie_bytes)),
    redis_max_bytes_from_redis_per_request: Math.max(...sweep.map((s) => s.redis.redis_bytes_per_request)),
    cookie_design_max_needed_cookie_header: Math.max(...sweep.map((s) => s.cookie.needed_cookie_header_bytes)),
  },
};
await stopAll();

mkdirSync(OUT, { recursive: true });
writeFileSync(path.join(OUT, "compare-report.json"), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(path.join(OUT, "compare-chart.svg"), chart(sweep));
writeFileSync(path.join(OUT, "compare-report.md"), markdown(report));
log(`wrote ${path.relative(process.cwd(), OUT)}/compare-report.md, compare-report.json, compare-chart.svg`);
log(
  `throughput at ${THROUGHPUT_GROUPS} groups: Redis/cookie ${report.throughput.ratio_redis_vs_cookie}, Redis/ceiling ${report.throughput.ratio_redis_vs_ceiling}`,
);
process.exit(0);

// ---------- rendering ----------
function cell(d: DesignAtSize, key: "nginx_default" | "nginx_workaround") {
  return `${d[key].signin_status} / ${d[key].request_status}`;
}

function markdown(r: typeof report): string {
  const rows = r.sizes
    .map(
      (s) =>
        `| ${s.groups} | ${s.id_token_bytes} | ${s.cookie.signin_error ? `${s.cookie.signin_status} \`${s.cookie.signin_error}\`` : s.cookie.set_cookie_bytes} | ${s.cookie.needed_cookie_header_bytes} | ${s.redis.set_cookie_bytes} | ${s.redis.cookie_header_bytes} | ${s.redis.redis_bytes_per_request} |`,
    )
    .join("\n");
  const browserRows = r.sizes
    .map(
      (s) =>
        `| ${s.groups} | ${s.cookie.chromium.signed_in ? "yes" : "no"} | ${s.cookie.chromium.needed_cookie_kept ? "kept" : "**dropped**"} | ${s.redis.chromium.signed_in ? "yes" : "no"} | ${s.redis.chromium.kept_cookie_bytes ?? "—"} |`,
    )
    .join("\n");
  const proxyRows = r.sizes
    .map(
      (s) =>
        `| ${s.groups} | ${cell(s.cookie, "nginx_default")} | ${cell(s.cookie, "nginx_workaround")} | ${s.cookie.account_status_direct} | ${cell(s.redis, "nginx_default")} | ${cell(s.redis, "nginx_workaround")} | ${s.redis.account_status_direct} |`,
    )
    .join("\n");
  const t = r.throughput;
  const lat = (x: { latency_p50_ms: number; latency_p99_ms: number }) =>
    `${x.latency_p50_ms.toFixed(1)} / ${x.latency_p99_ms.toFixed(1)}`;
  return `# Cookie design vs Redis design — measured

Generated by \`npm run compare\` on ${r.generated_at}${r.quick ? " (quick mode: fewer sizes, short load runs)" : ""}. Rerun it to measure your own machine.

![Cookie header bytes per request, by number of group claims](compare-chart.svg)

## Bytes on the wire

The same users (\`groups-N\` of the development provider: N group claims in the ID token) signed in to the same app, with everything in the cookie (\`SESSION_STORE=cookie\`) and with the session in Redis (\`SESSION_STORE=redis\`).

| groups | ID token (bytes) | cookie design: Set-Cookie | cookie design: Cookie header it needs | Redis design: Set-Cookie | Redis design: Cookie header | Redis design: bytes from Redis per request |
|---:|---:|---:|---:|---:|---:|---:|
${rows}

"Bytes from Redis per request": what Redis sends the app for one signed-in request of the home page (INFO stats \`total_net_output_bytes\` over 20 requests): the small hot record, whatever the tokens weigh, which stay in their own record until logout, refresh or the account page needs them.

Where the cookie design's sign-in shows an error code, Remix refused to commit the cookie (it throws past 4096 bytes) and the app showed its "session too large" page. "Cookie header it needs" is then the cookie that design would have to send: the same session data serialized and signed exactly as \`createCookieSessionStorage\` does, without its check (what a design that splits cookies, as next-auth does, ends up sending).

## What real Chromium keeps

| groups | cookie design: signed in after sign-in | cookie design: the cookie it needs, set by a server | Redis design: signed in | Redis design: cookie kept (bytes) |
|---:|:-:|:-:|:-:|---:|
${browserRows}

Chromium (${r.versions.chromium}) drops a cookie whose name and value pass 4096 bytes.

## Behind nginx, and Node's own limit

Each cell: status of the sign-in's last answer (the one with Set-Cookie) / status of a signed-in request carrying the session cookie. nginx defaults: \`proxy_buffer_size\` one memory page (4 KB), \`large_client_header_buffers 4 8k\`. The seed post's workaround: \`proxy_buffers 8 16k; proxy_buffer_size 32k\`. "Direct" is the app without a proxy (Node refuses request headers over 16 KB with 431).

| groups | cookie: nginx default | cookie: nginx workaround | cookie: direct | Redis: nginx default | Redis: nginx workaround | Redis: direct |
|---:|:-:|:-:|:-:|:-:|:-:|:-:|
${proxyRows}

502 is nginx's \`upstream sent too big header\` (the seed post's error); 400 is \`Request Header Or Cookie Too Large\`; 431 is Node's \`Request Header Fields Too Large\`; 500 is the app's "session too large for a cookie" page.

## Revocation

After logout, the cookie copied before logout is replayed:

| design | replay status | still signed in? |
|---|:-:|:-:|
| cookie | ${r.revocation.cookie.replay_status} | ${r.revocation.cookie.signed_in_after_logout ? "**yes**, until the cookie expires" : "no"} |
| Redis | ${r.revocation.redis.replay_status} | ${r.revocation.redis.signed_in_after_logout ? "yes" : "no: the record is gone"} |

## Throughput and latency

\`${r.settings.page}\`, ${r.settings.connections} connections (autocannon), a ${r.settings.warmup_seconds} s warm-up per case, then ${r.settings.rounds} round(s) of ${r.settings.load_seconds} s in rotated order; medians. Sessions of a user with ${t.groups} groups; the cookie design sends the cookie it needs at that size (which Remix would refuse to set and browsers would drop: measured as a client that sends it anyway).

| case | requests/s | p50 / p99 latency (ms) | non-2xx | errors |
|---|---:|---:|---:|---:|
| no session (ceiling) | ${t.ceiling.requests_per_s} | ${lat(t.ceiling)} | ${t.ceiling.non_2xx} | ${t.ceiling.errors} |
| cookie design | ${t.cookie.requests_per_s} | ${lat(t.cookie)} | ${t.cookie.non_2xx} | ${t.cookie.errors} |
| Redis design | ${t.redis.requests_per_s} | ${lat(t.redis)} | ${t.redis.non_2xx} | ${t.redis.errors} |

**Redis / cookie: ${t.ratio_redis_vs_cookie}×. Redis / ceiling: ${t.ratio_redis_vs_ceiling}×.** (Targets: ≥ 1.0× and ≥ 0.9×.)

## Machine and versions

- ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memory_gib} GiB, ${r.machine.platform}
${Object.entries(r.versions)
  .map(([k, v]) => `- ${k}: ${String(v).trim()}`)
  .join("\n")}

The same figures are in \`compare-report.json\`.
`;
}

function chart(rows: typeof sweep): string {
  const width = 980;
  const plotRight = 700;
  const height = 360;
  const left = 70;
  const bottom = 300;
  const top = 30;
  const max = 65536;
  const y = (v: number) => bottom - ((Math.log2(Math.max(v, 64)) - 6) / (Math.log2(max) - 6)) * (bottom - top);
  const groupWidth = (plotRight - left - 10) / rows.length;
  const bar = 28;
  const bars = rows
    .map((r, i) => {
      const x = left + i * groupWidth + groupWidth / 2 - bar - 2;
      const c = r.cookie.needed_cookie_header_bytes;
      const s = r.redis.cookie_header_bytes;
      return `<rect x="${x}" y="${y(c)}" width="${bar}" height="${bottom - y(c)}" fill="#c62828"/><text x="${x + bar / 2}" y="${y(c) - 4}" font-size="10" text-anchor="middle">${c}</text>
<rect x="${x + bar + 4}" y="${y(s)}" width="${bar}" height="${bottom - y(s)}" fill="#2e7d32"/><text x="${x + bar * 1.5 + 4}" y="${y(s) - 4}" font-size="10" text-anchor="middle">${s}</text>
<text x="${x + bar + 2}" y="${bottom + 16}" font-size="12" text-anchor="middle">${r.groups} groups</text>`;
    })
    .join("\n");
  const line = (v: number, label: string) =>
    `<line x1="${left}" x2="${plotRight}" y1="${y(v)}" y2="${y(v)}" stroke="#555" stroke-dasharray="4 3"/><text x="${plotRight + 6}" y="${y(v) + 4}" font-size="11" fill="#555">${label}</text>`;
  const ticks = [128, 512, 2048, 8192, 32768]
    .map(
      (v) =>
        `<text x="${left - 6}" y="${y(v) + 4}" font-size="10" text-anchor="end">${v >= 1024 ? `${v / 1024} KB` : `${v} B`}</text>`,
    )
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${left}" y="18" font-size="14" font-weight="bold">Cookie header per request (log scale), by group claims in the ID token</text>
${ticks}
<line x1="${left}" x2="${left}" y1="${top}" y2="${bottom}" stroke="#000"/><line x1="${left}" x2="${plotRight}" y1="${bottom}" y2="${bottom}" stroke="#000"/>
${line(4096, "4 KB: browsers drop it, Remix refuses it")}
${line(8192, "8 KB: nginx answers 400")}
${line(16384, "16 KB: Node answers 431")}
${bars}
<rect x="${left + 10}" y="${bottom + 28}" width="12" height="12" fill="#c62828"/><text x="${left + 26}" y="${bottom + 38}" font-size="12">cookie design (tokens in the cookie)</text>
<rect x="${left + 300}" y="${bottom + 28}" width="12" height="12" fill="#2e7d32"/><text x="${left + 316}" y="${bottom + 38}" font-size="12">Redis design (signed session id)</text>
</svg>
`;
}
