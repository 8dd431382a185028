import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { jwkThumbprint, parseClientKeys } from "./client-keys.server.ts";
import { parseEnv } from "./env.server.ts";

const pem = (type: "rsa" | "ec" | "ed25519") => {
  const { privateKey } =
    type === "rsa"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : type === "ec"
        ? generateKeyPairSync("ec", { namedCurve: "P-256" })
        : generateKeyPairSync("ed25519");
  return privateKey.export({ format: "pem", type: "pkcs8" }).toString();
};
const jwk = (extra: Record<string, unknown> = {}) => ({
  ...generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" }),
  ...extra,
});
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k"];

describe("client keys (private_key_jwt)", () => {
  it("reads PEM blocks of each type, first first, with an alg from the type and the RFC 7638 thumbprint as kid", () => {
    const { keys, problems } = parseClientKeys(`${pem("ec")}\n${pem("rsa")}\n${pem("ed25519")}`, "OIDC_CLIENT_KEYS");
    expect(problems).toEqual([]);
    expect(keys.map((k) => k.alg)).toEqual(["ES256", "RS256", "EdDSA"]);
    for (const key of keys) {
      expect(key.kid).toBe(jwkThumbprint(key.publicJwk));
      expect(key.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(key.publicJwk.use).toBe("sig");
      expect(Object.keys(key.publicJwk).filter((m) => PRIVATE_MEMBERS.includes(m))).toEqual([]);
      expect(key.privateJwk.d).toBeTruthy();
    }
  });

  it("computes the thumbprint of RFC 7638 §3.1's example key", () => {
    const example = {
      kty: "RSA",
      n:
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs" +
        "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n9" +
        "1CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
      e: "AQAB",
      alg: "RS256",
      kid: "2011-04-29",
    };
    expect(jwkThumbprint(example)).toBe("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  });

  it("reads a JWK Set, keeping each kid and alg, and a PEM whose line breaks are written \\n", () => {
    const set = { keys: [jwk({ kid: "new-2026" }), jwk({ kid: "old-2025" })] };
    const { keys, problems } = parseClientKeys(JSON.stringify(set), "OIDC_CLIENT_KEYS");
    expect(problems).toEqual([]);
    expect(keys.map((k) => k.kid)).toEqual(["new-2026", "old-2025"]);
    const oneLine = parseClientKeys(pem("rsa").replace(/\n/g, "\\n"), "OIDC_CLIENT_KEYS");
    expect([oneLine.problems, oneLine.keys.length]).toEqual([[], 1]);
    const ps = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
    expect(parseClientKeys(JSON.stringify({ ...ps, alg: "PS256" }), "X").keys[0]!.alg).toBe("PS256");
    // A certificate thumbprint (Entra ID's certificate credentials) goes along into the header and the published key.
    const x5t = "NjVBRjY5MDlCMUIwNzU4RTA2QzZFMDQ4QzQ2MDAyQjVDNjk1RTM2Qg";
    const withCert = parseClientKeys(JSON.stringify({ ...ps, x5t }), "X").keys[0]!;
    expect([withCert.thumbprints, withCert.publicJwk.x5t]).toEqual([{ x5t }, x5t]);
  });

  it("refuses, naming the variable: a public key, a certificate-less garbage, a short RSA key, an alg that does not fit, a kid twice", () => {
    const publicPem = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({
      format: "pem",
      type: "spki",
    });
    const { d: _d, ...publicJwk } = jwk();
    const short = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({
      format: "pem",
      type: "pkcs8",
    });
    const cases: Array<[string, RegExp]> = [
      [publicPem.toString(), /^K: PEM block #1 \(PUBLIC KEY\) is a public key/],
      [JSON.stringify(publicJwk), /^K: key #1 is a public key/],
      ["not a key", /^K: no key found/],
      ["{not json", /^K: not valid JSON/],
      [
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        /^K: PEM block #1 \(PRIVATE KEY\) could not be read as a private key/,
      ],
      [short.toString(), /1024 bits is too short/],
      [JSON.stringify(jwk({ alg: "RS256" })), /alg RS256 does not fit a ec key \(use ES256\)/],
      [JSON.stringify({ keys: [jwk({ kid: "a" }), jwk({ kid: "a" })] }), /kid a is given twice/],
      [JSON.stringify({ kty: "oct", k: "c2VjcmV0" }), /could not be read as a private key|symmetric/],
    ];
    for (const [text, expected] of cases) {
      const { problems } = parseClientKeys(text, "K");
      expect(problems.join("\n")).toMatch(expected);
    }
  });
});

describe("private_key_jwt settings", () => {
  const production = {
    NODE_ENV: "production",
    APP_URL: "https://app.example.com",
    SESSION_SECRET: "x".repeat(32),
    REDIS_URL: "redis://redis:6379",
    OIDC_ISSUER: "https://idp.example.com",
    OIDC_CLIENT_ID: "app",
  };

  it("needs no client secret with private_key_jwt and a key, and refuses one", () => {
    const env = parseEnv({ ...production, OIDC_TOKEN_AUTH_METHOD: "private_key_jwt", OIDC_CLIENT_KEYS: pem("ec") });
    expect(env.oidc.clientKeys).toHaveLength(1);
    expect(env.oidc.clientSecret).toBe("");
    expect(() =>
      parseEnv({
        ...production,
        OIDC_TOKEN_AUTH_METHOD: "private_key_jwt",
        OIDC_CLIENT_KEYS: pem("ec"),
        OIDC_CLIENT_SECRET: "s",
      }),
    ).toThrow(/OIDC_CLIENT_SECRET is set, but OIDC_TOKEN_AUTH_METHOD=private_key_jwt never sends it/);
  });

  it("refuses private_key_jwt without a key, a key that does not parse, both variables, and a file that cannot be read", () => {
    expect(() => parseEnv({ ...production, OIDC_TOKEN_AUTH_METHOD: "private_key_jwt" })).toThrow(
      /OIDC_CLIENT_KEYS \(or OIDC_CLIENT_KEYS_FILE\) is required with OIDC_TOKEN_AUTH_METHOD=private_key_jwt/,
    );
    expect(() =>
      parseEnv({ ...production, OIDC_TOKEN_AUTH_METHOD: "private_key_jwt", OIDC_CLIENT_KEYS: "oops" }),
    ).toThrow(/OIDC_CLIENT_KEYS: no key found/);
    expect(() =>
      parseEnv({ ...production, OIDC_CLIENT_SECRET: "s", OIDC_CLIENT_KEYS: "a", OIDC_CLIENT_KEYS_FILE: "b" }),
    ).toThrow(/OIDC_CLIENT_KEYS and OIDC_CLIENT_KEYS_FILE are both set/);
    expect(() =>
      parseEnv({
        ...production,
        OIDC_TOKEN_AUTH_METHOD: "private_key_jwt",
        OIDC_CLIENT_KEYS_FILE: "/nonexistent/key.pem",
      }),
    ).toThrow(/OIDC_CLIENT_KEYS_FILE \(\/nonexistent\/key.pem\): the file cannot be read \(ENOENT\)/);
  });

  it("still requires the secret for the secret methods, and OIDC_PAR is one of auto, required, off (auto by default)", () => {
    expect(() => parseEnv(production)).toThrow(/OIDC_CLIENT_SECRET is required/);
    expect(parseEnv({ ...production, OIDC_CLIENT_SECRET: "s" }).oidc.par).toBe("auto");
    expect(parseEnv({ ...production, OIDC_CLIENT_SECRET: "s", OIDC_PAR: "required" }).oidc.par).toBe("required");
    expect(() => parseEnv({ ...production, OIDC_CLIENT_SECRET: "s", OIDC_PAR: "always" })).toThrow(/OIDC_PAR/);
  });
});
