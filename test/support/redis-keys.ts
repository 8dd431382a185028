import type { Redis } from "ioredis";

/** The Redis key of the session a signed session cookie value points to. */
export function sessionKey(cookieValue: string): string {
  const encoded = decodeURIComponent(cookieValue).split(".")[0]!;
  return `rro:sess:${JSON.parse(Buffer.from(encoded, "base64").toString())}`;
}

/** Every session key in Redis (SCAN, as the app itself never uses KEYS). */
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
