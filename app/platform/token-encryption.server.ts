/**
 * Tokens encrypted at rest (optional, TOKEN_ENCRYPTION_KEYS): AES-256-GCM
 * with a key id, so a Redis dump or replica holds no usable tokens. The
 * first key seals, every listed key opens (rotation: add a new key first,
 * keep the old ones until the sessions they sealed have expired). The field
 * name is authenticated data, so a sealed token cannot be moved to another
 * field. Tokens stay sealed inside the session and are opened only where they
 * are used: a request that only reads the session decrypts nothing.
 * Format: enc:v1:<kid>:<iv>:<ciphertext>:<tag> (base64url parts).
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

export function sealToken(key: EncryptionKey, field: string, value: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key.key, iv).setAAD(Buffer.from(field));
  const ciphertext = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
  return `${PREFIX}${key.id}:${iv.toString("base64url")}:${ciphertext.toString("base64url")}:${cipher.getAuthTag().toString("base64url")}`;
}

export class TokenDecryptionError extends Error {
  readonly code = "token_decryption_failed";
}

/** Opens a sealed token; a value that is not sealed (encryption off when it was stored) is returned as it is. */
export function openToken(keys: EncryptionKey[], field: string, value: string): string {
  if (!value.startsWith(PREFIX)) return value;
  const [id, iv, ciphertext, tag] = value.slice(PREFIX.length).split(":");
  const key = keys.find((k) => k.id === id);
  if (!key || !iv || !ciphertext || !tag)
    throw new TokenDecryptionError(`no key "${id}" in TOKEN_ENCRYPTION_KEYS to open the stored ${field}`);
  const authTag = Buffer.from(tag, "base64url");
  if (authTag.length !== 16) throw new TokenDecryptionError(`the stored ${field} has a truncated authentication tag`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key.key, Buffer.from(iv, "base64url"), {
      authTagLength: 16,
    }).setAAD(Buffer.from(field));
    decipher.setAuthTag(authTag);
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]).toString("utf8");
  } catch {
    throw new TokenDecryptionError(`the stored ${field} does not decrypt with key "${id}"`);
  }
}
