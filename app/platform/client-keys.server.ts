/**
 * The app's own private keys for `private_key_jwt` client authentication
 * (RFC 7523 §2.2, OpenID Connect Core §9): parsed from OIDC_CLIENT_KEYS or the
 * file OIDC_CLIENT_KEYS_FILE names, as a JWK Set, one JWK, or one or more PEM
 * blocks (PKCS#8 `PRIVATE KEY`; PKCS#1 and SEC1 are read too). The first key
 * signs the client assertions; all of them are published at /auth/jwks.json,
 * so a new key can be published before it signs (docs/decisions/018-client-authentication-and-par.md).
 *
 * Each key gets a `kid` (the JWK's own, else its RFC 7638 thumbprint) and an
 * `alg`: the JWK's own, else from its type (RSA: RS256, P-256: ES256,
 * Ed25519: EdDSA). Pure apart from reading the file: every problem is returned
 * as a line that names the variable, never thrown.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";

export type ClientKeyAlg = "RS256" | "PS256" | "ES256" | "EdDSA";

export interface ClientKey {
  kid: string;
  alg: ClientKeyAlg;
  /** The private JWK (for WebCrypto's importKey); never published. */
  privateJwk: JsonWebKey;
  /** What /auth/jwks.json publishes: public members only, with kid, alg and use. */
  publicJwk: PublicJwk;
  /**
   * A JWK's certificate thumbprints (`x5t`, `x5t#S256`), sent in each assertion's header: Entra ID finds a
   * certificate credential by them, not by kid.
   */
  thumbprints: { x5t?: string; "x5t#S256"?: string };
}

export interface PublicJwk {
  kty: string;
  kid: string;
  alg: ClientKeyAlg;
  use: "sig";
  n?: string;
  e?: string;
  crv?: string;
  x?: string;
  y?: string;
  x5t?: string;
  "x5t#S256"?: string;
}

/** The members of a public key per key type (RFC 7638 §3.2: also the members of the thumbprint). */
const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  RSA: ["e", "kty", "n"],
  EC: ["crv", "kty", "x", "y"],
  OKP: ["crv", "kty", "x"],
};

/** The RFC 7638 JWK thumbprint (SHA-256, base64url) of a public JWK. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const members = PUBLIC_MEMBERS[jwk.kty ?? ""] ?? [];
  const canonical = `{${members.map((m) => `"${m}":${JSON.stringify((jwk as Record<string, unknown>)[m])}`).join(",")}}`;
  return createHash("sha256").update(canonical).digest("base64url");
}

const ALGS_BY_TYPE: Record<string, readonly ClientKeyAlg[]> = {
  rsa: ["RS256", "PS256"],
  ec: ["ES256"],
  ed25519: ["EdDSA"],
};

/** A key of either source, before its checks. */
interface Candidate {
  label: string;
  read: () => KeyObject;
  kid?: unknown;
  thumbprints?: Record<string, unknown>;
  alg?: unknown;
  isPublic: boolean;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

function candidatesOf(text: string, name: string, problems: string[]): Candidate[] {
  // A PEM in a one-line variable (.env, a container's environment) may carry its line breaks as \n.
  const source = text.includes("-----BEGIN") ? text.replace(/\\n/g, "\n").trim() : text.trim();
  if (source.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(source);
    } catch {
      problems.push(`${name}: not valid JSON (expected a JWK Set {"keys":[…]}, one JWK, or PEM blocks)`);
      return [];
    }
    const set = parsed as { keys?: unknown };
    const jwks = Array.isArray(set.keys) ? (set.keys as unknown[]) : [parsed];
    return jwks.map((jwk, i): Candidate => {
      const key = (jwk ?? {}) as JsonWebKey & { kid?: unknown; [member: string]: unknown };
      return {
        label: `${name}: key #${i + 1}${typeof key.kid === "string" ? ` (kid ${key.kid})` : ""}`,
        read: () => createPrivateKey({ key, format: "jwk" }),
        kid: key.kid,
        alg: key.alg,
        thumbprints: { x5t: key.x5t, "x5t#S256": key["x5t#S256"] },
        isPublic: typeof key === "object" && key.kty !== "oct" && !("d" in key),
      };
    });
  }
  const blocks = [...source.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) {
    problems.push(
      `${name}: no key found (expected a JWK Set {"keys":[…]}, one JWK, or PEM blocks "-----BEGIN PRIVATE KEY-----")`,
    );
    return [];
  }
  return blocks.flatMap(([pem, type], i): Candidate[] => {
    const label = `${name}: PEM block #${i + 1} (${type})`;
    if (type === "ENCRYPTED PRIVATE KEY") {
      problems.push(
        `${label} is encrypted; give it unencrypted (openssl pkcs8 -in key.pem -out plain.pem) and protect the file`,
      );
      return [];
    }
    const isPublic = type === "PUBLIC KEY" || type === "RSA PUBLIC KEY" || type === "CERTIFICATE";
    return [{ label, read: () => createPrivateKey(pem), isPublic }];
  });
}

/**
 * The keys in `text` (the value of the variable `name`, or of the file it names),
 * first one first, and the problems found. No key and no problem for an empty text.
 */
export function parseClientKeys(text: string | undefined, name: string): { keys: ClientKey[]; problems: string[] } {
  const problems: string[] = [];
  if (!text?.trim()) return { keys: [], problems };
  const keys: ClientKey[] = [];
  for (const candidate of candidatesOf(text, name, problems)) {
    const key = checked(candidate, problems);
    if (!key) continue;
    if (keys.some((k) => k.kid === key.kid)) {
      problems.push(`${candidate.label}: kid ${key.kid} is given twice; each key needs its own kid`);
      continue;
    }
    keys.push(key);
  }
  return { keys, problems };
}

function checked(candidate: Candidate, problems: string[]): ClientKey | undefined {
  const { label } = candidate;
  if (candidate.isPublic) {
    problems.push(
      `${label} is a public key or certificate: the app needs its PRIVATE key to sign (it publishes the public part itself)`,
    );
    return undefined;
  }
  let privateKey: KeyObject;
  try {
    privateKey = candidate.read();
  } catch (error) {
    problems.push(`${label} could not be read as a private key: ${error instanceof Error ? error.message : error}`);
    return undefined;
  }
  const type = privateKey.asymmetricKeyType ?? "";
  const details = privateKey.asymmetricKeyDetails ?? {};
  const algs = ALGS_BY_TYPE[type];
  if (!algs) {
    problems.push(
      `${label}: a ${type || "symmetric"} key is not supported; use RSA (2048 bits or more), EC P-256 or Ed25519`,
    );
    return undefined;
  }
  if (type === "rsa" && (details.modulusLength ?? 0) < 2048) {
    problems.push(`${label}: an RSA key of ${details.modulusLength} bits is too short; use 2048 bits or more`);
    return undefined;
  }
  if (type === "ec" && details.namedCurve !== "prime256v1") {
    problems.push(`${label}: the EC curve ${details.namedCurve} is not supported; use P-256 (ES256)`);
    return undefined;
  }
  const alg = candidate.alg ?? algs[0];
  if (!algs.includes(alg as ClientKeyAlg)) {
    problems.push(`${label}: alg ${String(alg)} does not fit a ${type} key (use ${algs.join(" or ")})`);
    return undefined;
  }
  const publicJwk = createPublicKey(privateKey).export({ format: "jwk" });
  const kid = candidate.kid ?? jwkThumbprint(publicJwk);
  if (typeof kid !== "string" || !/^[\x21-\x7e]{1,128}$/.test(kid)) {
    problems.push(`${label}: kid must be a string of 1 to 128 printable characters`);
    return undefined;
  }
  const thumbprints: ClientKey["thumbprints"] = {};
  for (const [name, value] of Object.entries(candidate.thumbprints ?? {})) {
    if (value === undefined) continue;
    if (typeof value !== "string" || !/^[A-Za-z0-9_-]{20,64}$/.test(value)) {
      problems.push(`${label}: ${name} must be a base64url certificate thumbprint`);
      return undefined;
    }
    thumbprints[name as keyof ClientKey["thumbprints"]] = value;
  }
  const members = PUBLIC_MEMBERS[publicJwk.kty ?? ""] ?? [];
  const published = Object.fromEntries(members.map((m) => [m, (publicJwk as Record<string, unknown>)[m]]));
  return {
    kid,
    alg: alg as ClientKeyAlg,
    privateJwk: privateKey.export({ format: "jwk" }),
    publicJwk: { ...(published as { kty: string }), kid, alg: alg as ClientKeyAlg, use: "sig", ...thumbprints },
    thumbprints,
  };
}
