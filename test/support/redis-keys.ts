/**
 * Session records as a test sees them in Redis, read with the app's own store
 * code (so the layout lives in one place): the hot record's key for a cookie,
 * every session key, a session's whole data (hot record and tokens), and a
 * record written in the layout before the hot/cold split, for upgrade tests.
 */
import type { Redis } from "ioredis";
import { parseEncryptionKeys, sealToken } from "../../app/platform/token-encryption.server.ts";
import type { SessionData } from "../../app/session/session-data.ts";
import { decodeTokens } from "../../app/session/token-record.server.ts";

/** The session id a signed session cookie value carries. */
export function sessionId(cookieValue: string): string {
  const encoded = decodeURIComponent(cookieValue).split(".")[0]!;
  return JSON.parse(Buffer.from(encoded, "base64").toString()) as string;
}

/** The Redis key of the hot record a signed session cookie value points to. */
export function sessionKey(cookieValue: string): string {
  return `rro:sess:{${sessionId(cookieValue)}}`;
}

/** The key of its tokens. */
export function tokenKey(cookieValue: string): string {
  return `rro:tok:{${sessionId(cookieValue)}}`;
}

/** Every hot session key in Redis, old layout included (SCAN, as the app itself never uses KEYS). */
export async function sessionKeys(redis: Redis): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", "rro:sess:*", "COUNT", 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return keys.sort();
}

/**
 * A session as stored: the hot record and its tokens, opened (TOKEN_ENCRYPTION_KEYS
 * as the app was given it, when set). Null when there is no hot record.
 */
export async function readSession(
  redis: Redis,
  cookieValue: string,
  encryptionKeys?: string,
): Promise<Required<SessionData> | null> {
  const id = sessionId(cookieValue);
  const hot = await redis.get(`rro:sess:{${id}}`);
  if (!hot) return null;
  const stored = await redis.getBuffer(`rro:tok:{${id}}`);
  const tokens = stored ? decodeTokens(stored, id, parseEncryptionKeys(encryptionKeys).keys) : {};
  // Required: a test that reads a field expects it to be there, and fails if it is not.
  return { ...(JSON.parse(hot) as SessionData), ...tokens } as Required<SessionData>;
}

/**
 * Rewrites a session in the layout the app used before the hot/cold split: one
 * JSON record at `rro:sess:<id>` with the tokens inside (each sealed as
 * `enc:v1:…` with the first of `encryptionKeys`, when given) and the raw
 * User-Agent, as that build wrote it; the current records are removed.
 */
export async function rewriteInLegacyLayout(
  redis: Redis,
  cookieValue: string,
  { encryptionKeys, ...extra }: { encryptionKeys?: string } & Record<string, unknown> = {},
) {
  const id = sessionId(cookieValue);
  const data = await readSession(redis, cookieValue, encryptionKeys);
  if (!data) throw new Error("no session to rewrite");
  const { device: _device, refreshable: _refreshable, ...legacy } = data;
  const [key] = parseEncryptionKeys(encryptionKeys).keys;
  if (key)
    for (const field of ["idToken", "accessToken", "refreshToken"] as const)
      legacy[field] = sealToken(key, field, legacy[field]);
  const ttl = await redis.ttl(`rro:sess:{${id}}`);
  await redis.set(
    `rro:sess:${id}`,
    JSON.stringify({ ...legacy, userAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", ...extra }),
    "EX",
    ttl,
  );
  await redis.del(`rro:sess:{${id}}`, `rro:tok:{${id}}`);
  return `rro:sess:${id}`;
}
