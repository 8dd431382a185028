/**
 * The app's Redis client against a real redis-server: ioredis can end a
 * client on its own and never reconnect ("Connection is closed." from then
 * on; it happens when a Sentinel announces a failover while a reconnection is
 * asking a Sentinel for the primary, about 1 run in 15 of
 * test/redis-topologies/durable-logout.test.ts before this was handled).
 * createRedisClient starts such a client again; one closed on purpose stays
 * closed.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { closeRedisClient, createRedisClient } from "../app/platform/redis.server.ts";
import { startTestRedis, type TestRedis } from "./support/stack.ts";
import { until } from "./support/until.ts";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

it("starts a client again when ioredis ends it on its own, and leaves one closed on purpose closed", async () => {
  const client = createRedisClient({
    redisUrl: redis.url,
    redisTopology: { kind: "single" },
    metrics: { port: undefined, token: undefined },
  });
  expect(await until(async () => client.status === "ready", 3000)).toBe(true);

  client.disconnect(); // ends it without reconnecting, as ioredis does in that race
  expect(await until(async () => client.status === "end", 1000)).toBe(true);
  expect(await until(async () => client.status === "ready", 3000)).toBe(true);
  expect(await client.ping()).toBe("PONG");

  await closeRedisClient(client);
  await new Promise((r) => setTimeout(r, 1000)); // twice the delay before a start
  expect(client.status).toBe("end");
});
