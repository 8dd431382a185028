/**
 * Configuration: every environment variable the app reads, validated once
 * with one schema. Nothing else in the app reads `process.env`.
 *
 * `parseEnv()` is pure (unit-tested); `getEnv()` parses `process.env` once per
 * process and throws an `EnvError` whose message says what to set.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { parseClientKeys, type ClientKey } from "./client-keys.server.ts";
import { parseEncryptionKeys, type EncryptionKey } from "./token-encryption.server.ts";

const DEV_ISSUER_PORT = 4000;
const DEV_REDIS_URL = "redis://127.0.0.1:6380";
const DEV_CLIENT_ID = "remix-redis-oidc";
const DEV_CLIENT_SECRET = "dev-client-secret-change-me";

export class EnvError extends Error {
  readonly code = "invalid_configuration";
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}\n` +
        "See .env.example and docs/configuration.md.",
    );
    this.name = "EnvError";
  }
}

const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const optionalUrl = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v ? v : undefined))
  .pipe(z.url().optional());

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  APP_URL: optionalUrl,
  TRUST_PROXY: z.string().optional(),
  SESSION_STORE: z.enum(["redis", "cookie"]).default("redis"),
  SESSION_MIGRATION: z.enum(["off", "cookie"]).default("off"),
  SESSION_MIGRATION_COOKIE: z
    .string()
    .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, "must be a cookie name")
    .optional(),
  SESSION_MIGRATION_SECRETS: z.string().optional(),
  SESSION_SECRET: z.string().optional(),
  SESSION_MAX_AGE: seconds(8 * 60 * 60),
  SESSION_IDLE_TIMEOUT: seconds(30 * 60),
  SESSION_SWEEP_INTERVAL: z.coerce.number().int().min(0).max(86_400).default(60),
  TOKEN_REFRESH_MARGIN: z.coerce.number().int().min(0).default(60),
  TOKEN_ENCRYPTION_KEYS: z.string().optional(),
  REDIS_URL: optionalUrl,
  REDIS_KEY_PREFIX: z.string().min(1).default("rro:"),
  REDIS_SENTINELS: z.string().optional(),
  REDIS_SENTINEL_MASTER: z.string().default("mymaster"),
  REDIS_SENTINEL_PASSWORD: z.string().optional(),
  REDIS_CLUSTER_NODES: z.string().optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(10_485_760).default(65_536),
  RATE_LIMIT_SIGN_IN: z.coerce.number().int().min(0).default(300),
  RATE_LIMIT_CALLBACK: z.coerce.number().int().min(0).default(300),
  RATE_LIMIT_LOGOUT: z.coerce.number().int().min(0).default(300),
  RATE_LIMIT_BACKCHANNEL: z.coerce.number().int().min(0).default(600),
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  METRICS_TOKEN: z.string().min(32, "must be at least 32 characters (openssl rand -hex 32)").optional(),
  REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(16).default(0),
  REDIS_WAIT_TIMEOUT: z.coerce.number().int().min(1).max(10_000).default(100),
  OIDC_ISSUER: optionalUrl,
  OIDC_ALLOW_INSECURE_ISSUER: z
    .enum(["true", "false", "1", "0", ""])
    .default("false")
    .transform((v) => v === "true" || v === "1"),
  OIDC_CLIENT_ID: z.string().optional(),
  OIDC_CLIENT_SECRET: z.string().optional(),
  OIDC_TOKEN_AUTH_METHOD: z
    .enum(["client_secret_basic", "client_secret_post", "private_key_jwt", ""])
    .optional()
    .transform((v) => (v ? v : undefined)),
  OIDC_CLIENT_KEYS: z.string().optional(),
  OIDC_CLIENT_KEYS_FILE: z.string().optional(),
  OIDC_PAR: z.enum(["auto", "required", "off"]).default("auto"),
  OIDC_SCOPES: z.string().default("openid profile email"),
  OIDC_REDIRECT_URI: optionalUrl,
  OIDC_POST_LOGOUT_REDIRECT_URI: optionalUrl,
  OIDC_END_SESSION_URL: optionalUrl,
  OIDC_END_SESSION_METHOD: z.enum(["get", "post"]).default("get"),
  OIDC_JWKS_MAX_AGE: z.coerce.number().int().min(1).max(86_400).default(600),
  OIDC_LOGOUT_HINT_CLAIM: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, "must be the name of an ID token claim, e.g. sid or login_hint")
    .optional(),
  OIDC_USERINFO: z.enum(["auto", "always", "never"]).default("auto"),
  OIDC_DPOP: z.enum(["on", "off"]).default("off"),
  DEV_OIDC_PORT: z.coerce.number().int().min(0).max(65535).default(DEV_ISSUER_PORT),
  /** Read before the others: the file they may come from (envFile below). */
  ENV_FILE: z.string().optional(),
});

/** Every variable the app reads: the schema's keys (a test holds .env.example and docs/configuration.md to this list). */
export const CONFIGURATION_VARIABLES = Object.keys(schema.shape);

/** The file to load variables from before validating them: ENV_FILE, default `.env`; empty for none. */
export function envFile(source: Record<string, string | undefined> = process.env): string {
  return source.ENV_FILE ?? ".env";
}

export interface HostPort {
  host: string;
  port: number;
}

/**
 * Where Redis is: one server (REDIS_URL), a primary found through Sentinel,
 * or a Cluster. In the last two, REDIS_URL gives only the scheme (rediss: TLS),
 * the ACL user and password and (Sentinel) the database number.
 * docs/decisions/011-redis-topologies.md
 */
export type RedisTopology =
  | { kind: "single" }
  | { kind: "sentinel"; sentinels: HostPort[]; master: string; sentinelPassword: string | undefined }
  | { kind: "cluster"; nodes: HostPort[] };

export type TokenAuthMethod = "client_secret_basic" | "client_secret_post" | "private_key_jwt";

export interface Env {
  isProduction: boolean;
  port: number;
  appUrl: URL;
  /**
   * Express's "trust proxy": which proxies' X-Forwarded-For/-Proto to believe
   * (a hop count, or addresses/subnets/`loopback`…); false: none.
   */
  trustProxy: number | string | false;
  /** `redis`: the session in Redis, an id in the cookie (this project). `cookie`: everything in the cookie (the design it replaces). */
  sessionStore: "redis" | "cookie";
  /**
   * Moving sessions of the cookie design into Redis (SESSION_MIGRATION=cookie):
   * the legacy cookie's name and the secrets that verify it. Undefined: off.
   */
  sessionMigration: { cookieName: string; secrets: string[] } | undefined;
  /** First signs, all verify. */
  sessionSecrets: string[];
  /** True when no SESSION_SECRET was given and one was generated (development only). */
  sessionSecretGenerated: boolean;
  sessionMaxAge: number;
  /** AES-256-GCM keys for tokens at rest; the first seals, all open. Empty: tokens stored as they are. */
  tokenEncryptionKeys: EncryptionKey[];
  sessionIdleTimeout: number;
  /** Seconds between sweeps for sessions that ended inside Redis (idle, absolute lifetime); 0: no sweep. */
  sessionSweepInterval: number;
  /** Refresh the access token when it expires within this many seconds (Redis design). */
  tokenRefreshMargin: number;
  redisUrl: string;
  redisTopology: RedisTopology;
  /** True when no Redis was configured: development starts the local Redis from redis/. */
  useLocalRedis: boolean;
  redisKeyPrefix: string;
  /** pino level of the JSON log on stdout. */
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** The largest request body read, in bytes; a larger one is refused with 413 before or while it is read. */
  maxBodyBytes: number;
  /** Requests allowed per client address in each window (0: no limit). docs/decisions/016-request-limits-rate-limits-and-metrics.md */
  rateLimits: { signIn: number; callback: number; logout: number; backchannel: number };
  /** Where /metrics is served: its own port, and/or the main port behind a bearer token. Neither: not served. */
  metrics: { port: number | undefined; token: string | undefined };
  /** After a logout, revocation or back-channel delete, WAIT for this many replicas (0: do not wait), at most `timeoutMs`. */
  redisWait: { replicas: number; timeoutMs: number };
  oidc: {
    issuer: URL;
    /** True when OIDC_ISSUER was not given: development starts the embedded provider. */
    useDevProvider: boolean;
    devProviderPort: number;
    allowInsecureIssuer: boolean;
    clientId: string;
    clientSecret: string;
    tokenAuthMethod: TokenAuthMethod | undefined;
    /** The app's private keys (private_key_jwt): the first signs, all are published at /auth/jwks.json. */
    clientKeys: ClientKey[];
    /** Pushed authorization requests (RFC 9126): when offered (auto), always (required), never (off). */
    par: "auto" | "required" | "off";
    scopes: string;
    redirectUri: URL;
    postLogoutRedirectUri: URL;
    endSessionUrl: URL | undefined;
    /** How the browser reaches the end-session endpoint (docs/decisions/006-logout.md). */
    endSessionMethod: "get" | "post";
    /** The ID token claim sent as `logout_hint` when the `id_token_hint` is too large for a redirect. */
    logoutHintClaim: string | undefined;
    /** When to fetch userinfo at sign-in. */
    userinfo: "auto" | "always" | "never";
    /** DPoP (RFC 9449): tokens bound to a key pair per session (docs/decisions/019-dpop.md). */
    dpop: boolean;
    /** The longest the provider's key set is used before it is fetched again, in seconds (docs/decisions/020-provider-key-rotation-and-jwks-refresh.md). */
    jwksMaxAge: number;
  };
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

export function isLoopbackHost(hostname: string) {
  return LOOPBACK_HOSTS.has(hostname) || hostname.endsWith(".localhost");
}

/** Validates an environment (a plain record) and derives the defaults. */
export function parseEnv(source: Record<string, string | undefined>, generateSecret: () => string = randomSecret): Env {
  // An empty variable means the same as an unset one.
  const given = Object.fromEntries(
    Object.entries(source).filter(([, value]) => value !== undefined && value.trim() !== ""),
  );
  const parsed = schema.safeParse(given);
  if (!parsed.success) {
    throw new EnvError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  const v = parsed.data;
  const isProduction = v.NODE_ENV === "production";
  const problems: string[] = [];
  const require = (name: string, value: string | undefined, hint: string) => {
    if (!value) problems.push(`${name} is required when NODE_ENV=production: ${hint}`);
    return value ?? "";
  };

  if (isProduction) {
    require("APP_URL", v.APP_URL, "the public URL of the app, e.g. https://app.example.com");
    if (v.SESSION_STORE === "redis" && !v.REDIS_SENTINELS && !v.REDIS_CLUSTER_NODES) {
      require("REDIS_URL", v.REDIS_URL, "e.g. redis://:password@redis.internal:6379/0 (or set REDIS_SENTINELS or REDIS_CLUSTER_NODES)");
    }
    require("OIDC_ISSUER", v.OIDC_ISSUER, "the issuer URL of your OpenID provider, e.g. https://keycloak.example.com/realms/myrealm " +
      "(the development provider never starts in production)");
    require("OIDC_CLIENT_ID", v.OIDC_CLIENT_ID, "the client id registered with your provider");
    if (v.OIDC_TOKEN_AUTH_METHOD !== "private_key_jwt") {
      require("OIDC_CLIENT_SECRET", v.OIDC_CLIENT_SECRET, "the client secret registered with your provider " +
        "(or OIDC_TOKEN_AUTH_METHOD=private_key_jwt with OIDC_CLIENT_KEYS)");
    }
    require("SESSION_SECRET", v.SESSION_SECRET, "a random string of at least 32 characters (openssl rand -hex 32)");
  }

  const sessionSecrets = (v.SESSION_SECRET ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const sessionSecretGenerated = sessionSecrets.length === 0 && !isProduction;
  if (sessionSecretGenerated) sessionSecrets.push(generateSecret());
  for (const [i, s] of sessionSecrets.entries()) {
    if (s.length < 32) {
      problems.push(
        `SESSION_SECRET: secret #${i + 1} is ${s.length} characters; use at least 32 (openssl rand -hex 32)`,
      );
    }
  }

  const appUrl = new URL(v.APP_URL ?? `http://localhost:${v.PORT}`);
  if (isProduction && appUrl.protocol !== "https:" && !isLoopbackHost(appUrl.hostname)) {
    problems.push(`APP_URL: ${appUrl.origin} must be https in production (session cookies are Secure only over https)`);
  }

  const trustProxy = parseTrustProxy(v.TRUST_PROXY, problems);

  let sessionMigration: Env["sessionMigration"];
  if (v.SESSION_MIGRATION === "cookie") {
    if (v.SESSION_STORE !== "redis") {
      problems.push("SESSION_MIGRATION=cookie moves cookie sessions into Redis: it needs SESSION_STORE=redis");
    }
    const secrets =
      v.SESSION_MIGRATION_SECRETS?.split(",")
        .map((s) => s.trim())
        .filter(Boolean) ?? sessionSecrets;
    // The cookie design's own cookie name in this app (see app/session/session.server.ts).
    const cookieName = v.SESSION_MIGRATION_COOKIE ?? (appUrl.protocol === "https:" ? "__Host-rro_sid" : "rro_sid");
    sessionMigration = { cookieName, secrets };
  } else if (v.SESSION_MIGRATION_COOKIE || v.SESSION_MIGRATION_SECRETS) {
    problems.push("SESSION_MIGRATION_COOKIE and SESSION_MIGRATION_SECRETS apply only with SESSION_MIGRATION=cookie");
  }
  if (v.OIDC_DPOP === "on" && v.SESSION_STORE !== "redis") {
    problems.push("OIDC_DPOP=on keeps a private key per session on the server: it needs SESSION_STORE=redis");
  }

  const useDevProvider = !v.OIDC_ISSUER && !isProduction;
  const issuer = new URL(v.OIDC_ISSUER ?? `http://127.0.0.1:${v.DEV_OIDC_PORT}`);
  if (
    issuer.protocol !== "https:" &&
    !(issuer.protocol === "http:" && (isLoopbackHost(issuer.hostname) || v.OIDC_ALLOW_INSECURE_ISSUER))
  ) {
    problems.push(
      `OIDC_ISSUER: ${issuer.href} must be https (http is accepted only on localhost, 127.0.0.1 or ::1, ` +
        "or with OIDC_ALLOW_INSECURE_ISSUER=true)",
    );
  }

  const scopes = v.OIDC_SCOPES.split(/\s+/).filter(Boolean);
  if (!scopes.includes("openid")) {
    problems.push(`OIDC_SCOPES: "${v.OIDC_SCOPES}" must include "openid"`);
  }

  const clientKeys = readClientKeys(v, problems);

  const encryption = parseEncryptionKeys(v.TOKEN_ENCRYPTION_KEYS);
  problems.push(...encryption.problems);

  const redisUrl = v.REDIS_URL ?? DEV_REDIS_URL;
  const redisTopology = parseRedisTopology(v, redisUrl, problems);

  if (problems.length) throw new EnvError(problems);

  return {
    isProduction,
    port: v.PORT,
    appUrl,
    trustProxy,
    sessionStore: v.SESSION_STORE,
    sessionMigration,
    sessionSecrets,
    sessionSecretGenerated,
    sessionMaxAge: v.SESSION_MAX_AGE,
    tokenEncryptionKeys: encryption.keys,
    sessionIdleTimeout: Math.min(v.SESSION_IDLE_TIMEOUT, v.SESSION_MAX_AGE),
    sessionSweepInterval: v.SESSION_SWEEP_INTERVAL,
    tokenRefreshMargin: v.TOKEN_REFRESH_MARGIN,
    redisUrl,
    redisTopology,
    useLocalRedis: !v.REDIS_URL && redisTopology.kind === "single" && v.SESSION_STORE === "redis",
    redisKeyPrefix: v.REDIS_KEY_PREFIX,
    logLevel: v.LOG_LEVEL,
    maxBodyBytes: v.MAX_BODY_BYTES,
    rateLimits: {
      signIn: v.RATE_LIMIT_SIGN_IN,
      callback: v.RATE_LIMIT_CALLBACK,
      logout: v.RATE_LIMIT_LOGOUT,
      backchannel: v.RATE_LIMIT_BACKCHANNEL,
    },
    metrics: { port: v.METRICS_PORT, token: v.METRICS_TOKEN },
    redisWait: { replicas: v.REDIS_WAIT_REPLICAS, timeoutMs: v.REDIS_WAIT_TIMEOUT },
    oidc: {
      issuer,
      useDevProvider,
      devProviderPort: v.DEV_OIDC_PORT,
      allowInsecureIssuer: issuer.protocol === "http:",
      clientId: v.OIDC_CLIENT_ID ?? DEV_CLIENT_ID,
      clientSecret: v.OIDC_TOKEN_AUTH_METHOD === "private_key_jwt" ? "" : (v.OIDC_CLIENT_SECRET ?? DEV_CLIENT_SECRET),
      tokenAuthMethod: v.OIDC_TOKEN_AUTH_METHOD,
      clientKeys,
      par: v.OIDC_PAR,
      scopes: scopes.join(" "),
      redirectUri: new URL(v.OIDC_REDIRECT_URI ?? new URL("/auth/callback", appUrl).href),
      postLogoutRedirectUri: new URL(v.OIDC_POST_LOGOUT_REDIRECT_URI ?? new URL("/", appUrl).href),
      endSessionUrl: v.OIDC_END_SESSION_URL ? new URL(v.OIDC_END_SESSION_URL) : undefined,
      endSessionMethod: v.OIDC_END_SESSION_METHOD,
      logoutHintClaim: v.OIDC_LOGOUT_HINT_CLAIM,
      userinfo: v.OIDC_USERINFO,
      dpop: v.OIDC_DPOP === "on",
      jwksMaxAge: v.OIDC_JWKS_MAX_AGE,
    },
  };
}

/**
 * OIDC_CLIENT_KEYS or the file OIDC_CLIENT_KEYS_FILE names (not both). With
 * private_key_jwt a key is required and a client secret refused: it would
 * never be sent, and an unused secret is one more to leak. Keys without
 * private_key_jwt are published but sign nothing (a key can be registered
 * before the switch). docs/decisions/018-client-authentication-and-par.md
 */
function readClientKeys(v: z.infer<typeof schema>, problems: string[]): ClientKey[] {
  let parsed: ReturnType<typeof parseClientKeys> = { keys: [], problems: [] };
  if (v.OIDC_CLIENT_KEYS && v.OIDC_CLIENT_KEYS_FILE) {
    problems.push("OIDC_CLIENT_KEYS and OIDC_CLIENT_KEYS_FILE are both set: give the keys one way");
  } else if (v.OIDC_CLIENT_KEYS_FILE) {
    const name = `OIDC_CLIENT_KEYS_FILE (${v.OIDC_CLIENT_KEYS_FILE})`;
    try {
      parsed = parseClientKeys(readFileSync(v.OIDC_CLIENT_KEYS_FILE, "utf8"), name);
      if (parsed.keys.length === 0 && parsed.problems.length === 0) parsed.problems.push(`${name}: the file is empty`);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
      problems.push(`${name}: the file cannot be read (${reason})`);
    }
  } else {
    parsed = parseClientKeys(v.OIDC_CLIENT_KEYS, "OIDC_CLIENT_KEYS");
  }
  problems.push(...parsed.problems);
  if (v.OIDC_TOKEN_AUTH_METHOD === "private_key_jwt") {
    if (
      parsed.keys.length === 0 &&
      parsed.problems.length === 0 &&
      !problems.some((p) => p.startsWith("OIDC_CLIENT_KEYS"))
    ) {
      problems.push(
        "OIDC_CLIENT_KEYS (or OIDC_CLIENT_KEYS_FILE) is required with OIDC_TOKEN_AUTH_METHOD=private_key_jwt: " +
          "the app's private key, PEM (PKCS#8) or JWK (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)",
      );
    }
    if (v.OIDC_CLIENT_SECRET) {
      problems.push(
        "OIDC_CLIENT_SECRET is set, but OIDC_TOKEN_AUTH_METHOD=private_key_jwt never sends it: remove it " +
          "(an unused secret is one more to leak)",
      );
    }
  }
  return parsed.keys;
}

/**
 * TRUST_PROXY: a number of hops, or a comma-separated list of addresses,
 * subnets and Express's names (loopback, linklocal, uniquelocal). "true"
 * (believe any client's X-Forwarded-For) is refused: it lets anyone choose
 * the address the sessions page shows.
 */
function parseTrustProxy(value: string | undefined, problems: string[]): number | string | false {
  if (!value || value === "false") return false;
  if (/^\d+$/.test(value)) return Number(value);
  const entries = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = entries.filter((e) => !/^(loopback|linklocal|uniquelocal|[0-9a-fA-F.:]+(\/\d{1,3})?)$/.test(e));
  if (value === "true" || bad.length) {
    problems.push(
      `TRUST_PROXY: "${value}" is not a hop count or a list of proxy addresses (e.g. 1, or loopback, or 10.0.0.0/8,loopback); ` +
        '"true" is refused because it would believe any client\'s X-Forwarded-For',
    );
    return false;
  }
  return entries.join(",");
}

/** "host:port,host:port" (IPv6 as [::1]:port). */
function parseHostList(name: string, list: string, problems: string[]): HostPort[] {
  return list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .flatMap((entry) => {
      const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(entry);
      const port = Number(match?.[2]);
      if (!match || port < 1 || port > 65535) {
        problems.push(`${name}: "${entry}" is not host:port (expected e.g. 10.0.0.5:26379,10.0.0.6:26379)`);
        return [];
      }
      return [{ host: match[1]!.replace(/^\[|\]$/g, ""), port }];
    });
}

function parseRedisTopology(v: z.infer<typeof schema>, redisUrl: string, problems: string[]): RedisTopology {
  if (v.REDIS_SENTINELS && v.REDIS_CLUSTER_NODES) {
    problems.push("REDIS_SENTINELS and REDIS_CLUSTER_NODES are both set: choose one (Sentinel or Cluster)");
    return { kind: "single" };
  }
  const url = new URL(redisUrl);
  if (!["redis:", "rediss:"].includes(url.protocol)) {
    problems.push(`REDIS_URL: "${url.protocol}" is not redis: or rediss: (TLS)`);
  }
  const db = url.pathname.replace(/^\//, "");
  if (db && !/^\d+$/.test(db)) problems.push(`REDIS_URL: the path "/${db}" must be a database number, e.g. /0`);
  if (v.REDIS_SENTINELS) {
    return {
      kind: "sentinel",
      sentinels: parseHostList("REDIS_SENTINELS", v.REDIS_SENTINELS, problems),
      master: v.REDIS_SENTINEL_MASTER,
      sentinelPassword: v.REDIS_SENTINEL_PASSWORD,
    };
  }
  if (v.REDIS_CLUSTER_NODES) {
    if (db && db !== "0") problems.push(`REDIS_URL: database ${db} is set, but a Redis Cluster has only database 0`);
    return { kind: "cluster", nodes: parseHostList("REDIS_CLUSTER_NODES", v.REDIS_CLUSTER_NODES, problems) };
  }
  return { kind: "single" };
}

function randomSecret() {
  return crypto.getRandomValues(new Uint8Array(32)).reduce((s, b) => s + b.toString(16).padStart(2, "0"), "");
}

let cached: Env | undefined;

/**
 * The validated configuration of this process. The first call validates; a
 * generated development secret is written back to `process.env` so that the
 * server entry and the Remix bundle (two module graphs) agree on it.
 */
export function getEnv(): Env {
  if (!cached) {
    cached = parseEnv(process.env);
    if (cached.sessionSecretGenerated) process.env.SESSION_SECRET = cached.sessionSecrets[0];
  }
  return cached;
}
