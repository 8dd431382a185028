import { describe, expect, it } from "vitest";
import { newSessionId, SESSION_ID_PATTERN, ttlSeconds } from "./session-store.server.ts";

describe("session ids", () => {
  it("are 128 random bits in 22 base64url characters, never repeated", () => {
    const ids = new Set(Array.from({ length: 10_000 }, newSessionId));
    expect(ids.size).toBe(10_000);
    for (const id of [...ids].slice(0, 100)) expect(id).toMatch(SESSION_ID_PATTERN);
    expect(Buffer.from(newSessionId(), "base64url")).toHaveLength(16);
  });
});

describe("ttlSeconds", () => {
  const now = Date.UTC(2026, 0, 1);
  it("is the idle timeout when the cookie expires later", () => {
    expect(ttlSeconds(1800, new Date(now + 8 * 3600_000), now)).toBe(1800);
  });
  it("is the time left when the cookie expires sooner", () => {
    expect(ttlSeconds(1800, new Date(now + 600_000), now)).toBe(600);
  });
  it("is zero or less once the cookie has expired (the storage then deletes)", () => {
    expect(ttlSeconds(1800, new Date(now - 1000), now)).toBeLessThanOrEqual(0);
  });
});
