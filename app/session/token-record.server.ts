/**
 * The token record: a session's tokens as the session store keeps them in
 * their own ("cold") key, read only where they are used. One compressed
 * record, sealed (AES-256-GCM, the session id authenticated) when
 * TOKEN_ENCRYPTION_KEYS is set.
 *
 * A JWT is kept with its payload decoded: base64url hides the repetitions in
 * an enterprise token's claims (group names) from the compressor. It is
 * re-encoded on read, byte for byte (checked when stored; a token that would
 * not come back identical is kept as it is), so an `id_token_hint` is the
 * token the provider signed. Brotli at quality 6 was chosen by measurement
 * (`tsx scripts/token-codec.ts`, docs/decisions/014-hot-and-cold-session-records.md).
 *
 * Format: one byte, 1 (brotli) or 2 (sealed brotli), then the bytes.
 */
import { brotliCompressSync, brotliDecompressSync, constants } from "node:zlib";
import { openBytes, sealBytes, TokenDecryptionError, type EncryptionKey } from "../platform/token-encryption.server.ts";

export interface SessionTokens {
  idToken?: string;
  accessToken?: string;
  refreshToken?: string;
  /** The access token's type as the provider answered it: `DPoP` for a key-bound token, else `Bearer` (or absent). */
  tokenType?: string;
  /** OIDC_DPOP: the session's DPoP private key, an exported JWK as JSON text (app/oidc/dpop.server.ts). */
  dpopKey?: string;
}

const PLAIN = 1;
const SEALED = 2;
const JWT = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/;

/** A token, or a JWT as [header, payload text, signature] when that comes back to the same string. */
type Packed = string | [string, string, string];

function pack(token: string): Packed {
  const parts = JWT.exec(token);
  if (!parts) return token;
  const [, header, payload, signature] = parts as unknown as [string, string, string, string];
  const text = Buffer.from(payload, "base64url").toString("utf8");
  return Buffer.from(text, "utf8").toString("base64url") === payload ? [header, text, signature] : token;
}

function unpack(packed: Packed | undefined): string | undefined {
  if (packed === undefined || typeof packed === "string") return packed;
  const [header, text, signature] = packed;
  return `${header}.${Buffer.from(text, "utf8").toString("base64url")}.${signature}`;
}

/** The stored bytes of a session's tokens. `id` is authenticated when sealed: the record belongs to that session only. */
export function encodeTokens(tokens: SessionTokens, id: string, keys: readonly EncryptionKey[]): Buffer {
  const json = JSON.stringify({
    i: tokens.idToken && pack(tokens.idToken),
    a: tokens.accessToken && pack(tokens.accessToken),
    r: tokens.refreshToken && pack(tokens.refreshToken),
    t: tokens.tokenType,
    k: tokens.dpopKey,
  });
  const raw = Buffer.from(json, "utf8");
  const compressed = brotliCompressSync(raw, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 6,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  });
  const [key] = keys;
  return key
    ? Buffer.concat([Buffer.from([SEALED]), sealBytes(key, id, compressed)])
    : Buffer.concat([Buffer.from([PLAIN]), compressed]);
}

/** The tokens back. Throws TokenDecryptionError when the record is sealed with a key that is not configured, or was tampered with. */
export function decodeTokens(stored: Buffer, id: string, keys: readonly EncryptionKey[]): SessionTokens {
  const format = stored[0];
  const body = stored.subarray(1);
  let compressed: Buffer;
  if (format === PLAIN) compressed = body;
  else if (format === SEALED) compressed = openBytes([...keys], id, body, "token record");
  else throw new TokenDecryptionError("the stored token record has an unknown format");
  let record: Record<string, Packed | undefined>;
  try {
    record = JSON.parse(brotliDecompressSync(compressed).toString("utf8"));
  } catch {
    throw new TokenDecryptionError("the stored token record does not decompress");
  }
  const text = (value: unknown) => (typeof value === "string" ? value : undefined);
  return {
    idToken: unpack(record.i),
    accessToken: unpack(record.a),
    refreshToken: unpack(record.r),
    tokenType: text(record.t),
    dpopKey: text(record.k),
  };
}
