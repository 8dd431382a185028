/**
 * npm run sign-in-cost — what each client feature of issue 14 costs a
 * sign-in, side by side in one run: five copies of the app against one
 * redis-server and the development provider (two instances of it: one that
 * knows the client by its secret, one by its public key), differing only in
 *   - baseline:        client_secret_basic, no PAR, no DPoP;
 *   - par:             OIDC_PAR=required (the request pushed first);
 *   - dpop:            OIDC_DPOP=on (a key pair per sign-in, proofs at the token endpoint);
 *   - private_key_jwt: a signed client assertion instead of the secret;
 *   - all:             private_key_jwt, PAR and DPoP together.
 * A sign-in is the whole journey a person makes, timed from `POST /login` to
 * the signed-in page: the app's redirect, the provider's login form, the
 * credentials, the consent-free redirect back, the callback's code exchange
 * and ID token checks, the session written. The copies take turns, one
 * sign-in each in a rotated order, so a noisy machine slows all alike; the
 * first ten of each are warm-up. Prints medians and p90s, each copy's extra
 * median milliseconds over the baseline, and writes sign-in-cost.json to
 * SIGN_IN_COST_OUT when set. SIGN_IN_COST_QUICK=1: 20 sign-ins each.
 */
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { startDevProvider } from "../server/dev-oidc-provider/index.ts";
import { Browser } from "../test/support/browser.ts";
import { signIn } from "../test/support/flows.ts";
import { freePort } from "../test/support/ports.ts";
import { CLIENT_ID, CLIENT_SECRET, startApp, startTestRedis } from "../test/support/stack.ts";

const QUICK = process.env.SIGN_IN_COST_QUICK === "1";
const OUT = process.env.SIGN_IN_COST_OUT;
const WARMUP = 10;
const MEASURED = QUICK ? 10 : 300;
const VARIANTS = ["baseline", "par", "dpop", "private_key_jwt", "all"] as const;
type Variant = (typeof VARIANTS)[number];
const KEY_BASED: readonly Variant[] = ["private_key_jwt", "all"];

const log = (line: string) => console.log(`[sign-in-cost] ${line}`);
const cleanups: Array<() => Promise<void>> = [];

try {
  const redis = await startTestRedis();
  cleanups.push(redis.stop);
  const ports = Object.fromEntries(await Promise.all(VARIANTS.map(async (v) => [v, await freePort()] as const)));
  const urlOf = (v: Variant) => `http://localhost:${ports[v]}`;
  const registration = (variants: readonly Variant[]) => ({
    clientId: CLIENT_ID,
    redirectUris: variants.map((v) => `${urlOf(v)}/auth/callback`),
    postLogoutRedirectUris: variants.map((v) => `${urlOf(v)}/`),
  });
  const clientKey = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const publicJwk = { ...clientKey.publicKey.export({ format: "jwk" }), kid: "sign-in-cost", alg: "ES256" };
  const privateJwk = { ...clientKey.privateKey.export({ format: "jwk" }), kid: "sign-in-cost", alg: "ES256" };
  const bySecret = await startDevProvider({
    port: 0,
    client: { ...registration(VARIANTS.filter((v) => !KEY_BASED.includes(v))), clientSecret: CLIENT_SECRET },
    log: () => {},
  });
  cleanups.push(bySecret.close);
  const byKey = await startDevProvider({
    port: 0,
    client: {
      ...registration(KEY_BASED),
      clientSecret: CLIENT_SECRET, // unused: the client authenticates with its key
      tokenEndpointAuthMethod: "private_key_jwt",
      jwks: { keys: [publicJwk] },
    },
    log: () => {},
  });
  cleanups.push(byKey.close);

  const common = {
    REDIS_URL: redis.url,
    RATE_LIMIT_SIGN_IN: "0",
    RATE_LIMIT_CALLBACK: "0",
    SESSION_SWEEP_INTERVAL: "0",
  };
  const withKey = {
    OIDC_ISSUER: byKey.issuer,
    OIDC_TOKEN_AUTH_METHOD: "private_key_jwt",
    OIDC_CLIENT_KEYS: JSON.stringify({ keys: [privateJwk] }),
    OIDC_CLIENT_SECRET: "",
  };
  const envs: Record<Variant, Record<string, string>> = {
    baseline: { OIDC_ISSUER: bySecret.issuer, OIDC_PAR: "off", OIDC_DPOP: "off" },
    par: { OIDC_ISSUER: bySecret.issuer, OIDC_PAR: "required", OIDC_DPOP: "off" },
    dpop: { OIDC_ISSUER: bySecret.issuer, OIDC_PAR: "off", OIDC_DPOP: "on" },
    private_key_jwt: { ...withKey, OIDC_PAR: "off", OIDC_DPOP: "off" },
    all: { ...withKey, OIDC_PAR: "required", OIDC_DPOP: "on" },
  };
  for (const variant of VARIANTS) {
    const app = await startApp({ ...common, ...envs[variant] }, ports[variant]);
    cleanups.push(app.stop);
  }
  log(`${VARIANTS.length} copies up; ${WARMUP} + ${MEASURED} sign-ins each, in turns`);

  const times: Record<Variant, number[]> = { baseline: [], par: [], dpop: [], private_key_jwt: [], all: [] };
  for (let i = 0; i < WARMUP + MEASURED; i++) {
    const order = VARIANTS.map((_, k) => VARIANTS[(k + i) % VARIANTS.length]!);
    for (const variant of order) {
      const started = performance.now();
      const { landed } = await signIn(new Browser(), urlOf(variant));
      const ms = performance.now() - started;
      if (landed.status !== 200 || !landed.url.endsWith("/account"))
        throw new Error(`${variant}: the sign-in ended at ${landed.status} ${landed.url}`);
      if (i >= WARMUP) times[variant].push(ms);
    }
  }

  const quantile = (values: number[], q: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    const at = (sorted.length - 1) * q;
    const low = Math.floor(at);
    return sorted[low]! + (sorted[Math.ceil(at)]! - sorted[low]!) * (at - low);
  };
  const round = (ms: number) => Math.round(ms * 10) / 10;
  const figures = Object.fromEntries(
    VARIANTS.map((v) => [v, { median_ms: round(quantile(times[v], 0.5)), p90_ms: round(quantile(times[v], 0.9)) }]),
  ) as Record<Variant, { median_ms: number; p90_ms: number }>;
  const report = {
    sign_ins_each: MEASURED,
    warmup_each: WARMUP,
    ...figures,
    extra_median_ms_over_baseline: Object.fromEntries(
      VARIANTS.map((v) => [v, round(figures[v].median_ms - figures.baseline.median_ms)]),
    ),
  };
  console.log("");
  console.log("| copy | median ms | p90 ms | median over baseline |");
  console.log("|---|---|---|---|");
  for (const v of VARIANTS) {
    const extra = round(figures[v].median_ms - figures.baseline.median_ms);
    console.log(`| ${v} | ${figures[v].median_ms} | ${figures[v].p90_ms} | ${extra >= 0 ? "+" : ""}${extra} ms |`);
  }
  console.log("");
  if (OUT) writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
}
