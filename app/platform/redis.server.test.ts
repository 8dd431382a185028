import { describe, expect, it } from "vitest";
import { redisVersionProblem } from "./redis.server.ts";

describe("redisVersionProblem", () => {
  it("accepts Redis 6.2 and newer", () => {
    for (const v of ["6.2.0", "7.0.15", "7.4.1", "8.0.2"])
      expect(redisVersionProblem(`# Server\r\nredis_version:${v}\r\n`)).toBeUndefined();
  });
  it("refuses older Redis with a message saying why", () => {
    expect(redisVersionProblem("redis_version:6.0.16\r\n")).toMatch(
      /Redis 6\.0 found; this app needs Redis 6\.2 or newer \(it reads sessions with GETEX\)/,
    );
    expect(redisVersionProblem("redis_version:5.0.7\r\n")).toMatch(/Redis 5\.0 found/);
  });
});
