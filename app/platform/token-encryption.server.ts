/**
 * Tokens encrypted at rest (optional, TOKEN_ENCRYPTION_KEYS): AES-256-GCM
 * with a key id, so a Redis dump or replica holds no usable tokens. The
 * first key seals, every listed key opens (rotation: add a new key first,
 * keep the old ones until the sessions they sealed have expired). The field
 * name is authenticated data, so a sealed token cannot be moved to another
 * field (or the token record to another session). Tokens stay sealed and are
 * opened only where they are used: a request that only reads the session
 * decrypts nothing. Two forms: one token as text (enc:v1:<kid>:<iv>:<ciphertext>:<tag>,
 * base64url parts: the cookie design, and records from before the token
 * record), and bytes (the token record in Redis).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

const PREFIX = "enc:v1:";

/** Parses "kid:base64key,kid2:base64key2"; returns the problems instead of keys when there are any. */
export function parseEncryptionKeys(value: string | undefined): { keys: EncryptionKey[]; problems: string[] } {
  const keys: EncryptionKey[] = [];
  const problems: string[] = [];
  for (const entry of (value ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)) {
    const separator = entry.indexOf(":");
    const id = entry.slice(0, separator);
    const key = Buffer.from(entry.slice(separator + 1), "base64");
    if (separator < 1 || !/^[A-Za-z0-9_-]+$/.test(id))
      problems.push(`TOKEN_ENCRYPTION_KEYS: "${entry.slice(0, 12)}…" must be kid:base64key`);
    else if (key.length !== 32)
      problems.push(
        `TOKEN_ENCRYPTION_KEYS: key "${id}" is ${key.length} bytes; AES-256 needs 32 (openssl rand -base64 32)`,
      );
    else if (keys.some((k) => k.id === id)) problems.push(`TOKEN_ENCRYPTION_KEYS: key id "${id}" appears twice`);
    else keys.push({ id, key });
  }
  return { keys, problems };
}

interface Sealed {
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

function encrypt(key: EncryptionKey, aad: string, plaintext: Buffer): Sealed {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key.key, iv).setAAD(Buffer.from(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, tag: cipher.getAuthTag() };
}

/** Decrypts with the key named `id`; says which key is missing or that it does not decrypt, never more. */
function decrypt(
  keys: EncryptionKey[],
  id: string,
  what: string,
  aad: string,
  { iv, ciphertext, tag }: Sealed,
): Buffer {
  const key = keys.find((k) => k.id === id);
  if (!key) throw new TokenDecryptionError(`no key "${id}" in TOKEN_ENCRYPTION_KEYS to open the stored ${what}`);
  if (tag.length !== 16) throw new TokenDecryptionError(`the stored ${what} has a truncated authentication tag`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key.key, iv, { authTagLength: 16 }).setAAD(Buffer.from(aad));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new TokenDecryptionError(`the stored ${what} does not decrypt with key "${id}"`);
  }
}

/** One token as text, `field` authenticated: enc:v1:<kid>:<iv>:<ciphertext>:<tag>. */
export function sealToken(key: EncryptionKey, field: string, value: string): string {
  const { iv, ciphertext, tag } = encrypt(key, field, Buffer.from(value, "utf8"));
  return `${PREFIX}${key.id}:${iv.toString("base64url")}:${ciphertext.toString("base64url")}:${tag.toString("base64url")}`;
}

/** Whether a stored token is sealed (text form). */
export const isSealedToken = (value: string) => value.startsWith(PREFIX);

export class TokenDecryptionError extends Error {
  readonly code = "token_decryption_failed";
}

/** Opens a sealed token; a value that is not sealed (encryption off when it was stored) is returned as it is. */
export function openToken(keys: EncryptionKey[], field: string, value: string): string {
  if (!value.startsWith(PREFIX)) return value;
  const [id = "", iv, ciphertext, tag] = value.slice(PREFIX.length).split(":");
  if (!iv || !ciphertext || !tag) throw new TokenDecryptionError(`the stored ${field} is not a sealed token`);
  const parts = {
    iv: Buffer.from(iv, "base64url"),
    ciphertext: Buffer.from(ciphertext, "base64url"),
    tag: Buffer.from(tag, "base64url"),
  };
  return decrypt(keys, id, field, field, parts).toString("utf8");
}

/**
 * Bytes, with `aad` authenticated (e.g. the session id, so a sealed record
 * cannot be moved to another session): <kid length><kid><iv 12><tag 16><ciphertext>.
 */
export function sealBytes(key: EncryptionKey, aad: string, plaintext: Buffer): Buffer {
  const { iv, ciphertext, tag } = encrypt(key, aad, plaintext);
  const kid = Buffer.from(key.id);
  return Buffer.concat([Buffer.from([kid.length]), kid, iv, tag, ciphertext]);
}

export function openBytes(keys: EncryptionKey[], aad: string, sealed: Buffer, what: string): Buffer {
  const kidLength = sealed[0] ?? 0;
  const at = 1 + kidLength;
  if (kidLength === 0 || sealed.length < at + 28)
    throw new TokenDecryptionError(`the stored ${what} is not sealed as expected`);
  const id = sealed.subarray(1, at).toString();
  const parts = {
    iv: sealed.subarray(at, at + 12),
    tag: sealed.subarray(at + 12, at + 28),
    ciphertext: sealed.subarray(at + 28),
  };
  return decrypt(keys, id, what, aad, parts);
}
