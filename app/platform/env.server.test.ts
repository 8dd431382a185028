import { describe, expect, it } from "vitest";
import { EnvError, parseEnv } from "./env.server.ts";

const secret = "s".repeat(32);
const production = {
  NODE_ENV: "production",
  APP_URL: "https://app.example.com",
  SESSION_SECRET: secret,
  REDIS_URL: "redis://redis.internal:6379",
  OIDC_ISSUER: "https://idp.example.com/realms/main",
  OIDC_CLIENT_ID: "app",
  OIDC_CLIENT_SECRET: "secret",
};

function problems(env: Record<string, string>) {
  try {
    parseEnv(env);
  } catch (error) {
    if (error instanceof EnvError) return error.message;
    throw error;
  }
  return "";
}

describe("parseEnv", () => {
  it("OIDC_DPOP is off by default, and refused with SESSION_STORE=cookie, where its key would ride in the cookie", () => {
    expect(parseEnv(production).oidc.dpop).toBe(false);
    expect(parseEnv({ ...production, OIDC_DPOP: "on" }).oidc.dpop).toBe(true);
    expect(problems({ ...production, OIDC_DPOP: "on", SESSION_STORE: "cookie" })).toContain(
      "OIDC_DPOP=on keeps a private key per session on the server: it needs SESSION_STORE=redis",
    );
    expect(problems({ ...production, OIDC_DPOP: "yes" })).toContain("OIDC_DPOP");
  });

  it("runs with no variables at all in development: local Redis, dev provider, generated secret", () => {
    const env = parseEnv({}, () => "g".repeat(64));
    expect(env.isProduction).toBe(false);
    expect(env.appUrl.href).toBe("http://localhost:3000/");
    expect(env.useLocalRedis).toBe(true);
    expect(env.redisUrl).toBe("redis://127.0.0.1:6380");
    expect(env.oidc.useDevProvider).toBe(true);
    expect(env.oidc.issuer.href).toBe("http://127.0.0.1:4000/");
    expect(env.sessionSecrets).toEqual(["g".repeat(64)]);
    expect(env.sessionSecretGenerated).toBe(true);
    expect(env.oidc.redirectUri.href).toBe("http://localhost:3000/auth/callback");
    expect(env.oidc.postLogoutRedirectUri.href).toBe("http://localhost:3000/");
    expect(env.oidc.scopes).toBe("openid profile email");
  });

  it("never starts the dev provider in production: a missing OIDC_ISSUER says what to set", () => {
    const { OIDC_ISSUER: _, ...rest } = production;
    expect(problems(rest)).toMatch(
      /OIDC_ISSUER is required when NODE_ENV=production: the issuer URL of your OpenID provider/,
    );
  });

  it("lists every missing production variable at once", () => {
    const message = problems({ NODE_ENV: "production" });
    for (const name of [
      "APP_URL",
      "REDIS_URL",
      "OIDC_ISSUER",
      "OIDC_CLIENT_ID",
      "OIDC_CLIENT_SECRET",
      "SESSION_SECRET",
    ]) {
      expect(message).toContain(`${name} is required`);
    }
  });

  it("accepts a complete production configuration", () => {
    const env = parseEnv(production);
    expect(env.oidc.useDevProvider).toBe(false);
    expect(env.useLocalRedis).toBe(false);
    expect(env.oidc.redirectUri.href).toBe("https://app.example.com/auth/callback");
  });

  it("splits SESSION_SECRET on commas for rotation and refuses short secrets", () => {
    expect(parseEnv({ ...production, SESSION_SECRET: `${secret}, ${"t".repeat(40)}` }).sessionSecrets).toEqual([
      secret,
      "t".repeat(40),
    ]);
    expect(problems({ ...production, SESSION_SECRET: `${secret},short` })).toMatch(/secret #2 is 5 characters/);
  });

  it("accepts an http issuer only on loopback or with OIDC_ALLOW_INSECURE_ISSUER", () => {
    expect(problems({ OIDC_ISSUER: "http://idp.example.com" })).toMatch(
      /OIDC_ISSUER: http:\/\/idp.example.com\/ must be https/,
    );
    for (const host of ["localhost:8080", "127.0.0.1:4000", "[::1]:4000"]) {
      expect(parseEnv({ OIDC_ISSUER: `http://${host}` }).oidc.allowInsecureIssuer).toBe(true);
    }
    expect(
      parseEnv({ OIDC_ISSUER: "http://keycloak:8080/realms/x", OIDC_ALLOW_INSECURE_ISSUER: "true" }).oidc.issuer.host,
    ).toBe("keycloak:8080");
    expect(parseEnv({ OIDC_ISSUER: "https://idp.example.com" }).oidc.allowInsecureIssuer).toBe(false);
  });

  it("requires https for the app in production, except on loopback", () => {
    expect(problems({ ...production, APP_URL: "http://app.example.com" })).toMatch(
      /APP_URL: http:\/\/app.example.com must be https/,
    );
    expect(problems({ ...production, APP_URL: "http://localhost:3000" })).toBe("");
  });

  it("rejects unknown token auth methods, scopes without openid and non-numeric lifetimes", () => {
    expect(problems({ OIDC_TOKEN_AUTH_METHOD: "private_key_jwt" })).toMatch(/OIDC_TOKEN_AUTH_METHOD/);
    expect(problems({ OIDC_SCOPES: "profile email" })).toMatch(/must include "openid"/);
    expect(problems({ SESSION_MAX_AGE: "eight hours" })).toMatch(/SESSION_MAX_AGE/);
  });

  it("keeps the idle timeout within the absolute lifetime", () => {
    const env = parseEnv({ SESSION_MAX_AGE: "600", SESSION_IDLE_TIMEOUT: "1800" });
    expect(env.sessionIdleTimeout).toBe(600);
  });
});

describe("empty variables", () => {
  it("mean the same as unset ones", () => {
    const env = parseEnv({ OIDC_CLIENT_ID: "", REDIS_URL: " ", SESSION_MAX_AGE: "" }, () => "g".repeat(64));
    expect(env.oidc.clientId).toBe("remix-redis-oidc");
    expect(env.useLocalRedis).toBe(true);
    expect(env.sessionMaxAge).toBe(8 * 60 * 60);
  });

  describe("Redis topologies", () => {
    const { REDIS_URL: _omitted, ...withoutUrl } = production;
    it("takes Sentinels and the primary's name; REDIS_URL is then optional", () => {
      const env = parseEnv({
        ...withoutUrl,
        REDIS_SENTINELS: "10.0.0.5:26379, [::1]:26380",
        REDIS_SENTINEL_MASTER: "sessions",
      });
      expect(env.redisTopology).toEqual({
        kind: "sentinel",
        sentinels: [
          { host: "10.0.0.5", port: 26379 },
          { host: "::1", port: 26380 },
        ],
        master: "sessions",
        sentinelPassword: undefined,
      });
      expect(env.useLocalRedis).toBe(false);
    });
    it("takes Cluster seed nodes", () => {
      const env = parseEnv({ ...withoutUrl, REDIS_CLUSTER_NODES: "redis-0:6379,redis-1:6379" });
      expect(env.redisTopology).toEqual({
        kind: "cluster",
        nodes: [
          { host: "redis-0", port: 6379 },
          { host: "redis-1", port: 6379 },
        ],
      });
    });
    it("names each mistake", () => {
      expect(problems({ ...production, REDIS_SENTINELS: "a:1", REDIS_CLUSTER_NODES: "b:2" })).toContain("choose one");
      expect(problems({ ...production, REDIS_SENTINELS: "sentinel-without-port" })).toContain(
        'REDIS_SENTINELS: "sentinel-without-port" is not host:port',
      );
      expect(problems({ ...production, REDIS_CLUSTER_NODES: "a:99999" })).toContain("is not host:port");
      expect(problems({ ...production, REDIS_URL: "redis://r:6379/2", REDIS_CLUSTER_NODES: "a:1" })).toContain(
        "Cluster has only database 0",
      );
      expect(problems({ ...production, REDIS_URL: "http://r:6379" })).toContain('"http:" is not redis: or rediss:');
      expect(problems({ ...production, REDIS_URL: "redis://r:6379/sessions" })).toContain("must be a database number");
      expect(problems(withoutUrl)).toContain("REDIS_URL is required");
    });
  });

  it("takes TRUST_PROXY as hops or proxy addresses, never as 'trust everyone'", () => {
    expect(parseEnv({ ...production }).trustProxy).toBe(false);
    expect(parseEnv({ ...production, TRUST_PROXY: "1" }).trustProxy).toBe(1);
    expect(parseEnv({ ...production, TRUST_PROXY: "loopback, 10.0.0.0/8" }).trustProxy).toBe("loopback,10.0.0.0/8");
    expect(problems({ ...production, TRUST_PROXY: "true" })).toContain('"true" is refused');
    expect(problems({ ...production, TRUST_PROXY: "proxy.internal" })).toContain("TRUST_PROXY");
  });
});
