/**
 * The session store against a real redis-server (as connect-redis tests
 * itself): what it writes, with which TTLs, and that every way of ending a
 * session leaves no key behind.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RedisRunner } from "../app/platform/redis.server.ts";
import { RedisSessionStore, type Indexed } from "../app/session/session-store.server.ts";
import { startTestRedis, type TestRedis } from "./support/stack.ts";

interface Data extends Indexed {
  name?: string;
}

let redis: TestRedis;
let client: Redis;
let store: RedisSessionStore<Data>;
const now = () => Math.floor(Date.now() / 1000);
const run: RedisRunner = (operation) => operation(client);
const keys = () => client.keys("t:*").then((k) => k.sort()); // a test may use KEYS; the store never does

beforeAll(async () => {
  redis = await startTestRedis();
  client = redis.client;
  store = new RedisSessionStore<Data>({ redis: run, prefix: "t:", idleTimeout: 600, maxAge: 3600 });
});
afterAll(async () => {
  await redis?.stop();
});
beforeEach(async () => {
  await client.flushdb();
});

const signedIn = (sub: string, sid?: string): Data => ({ user: { sub }, sid, expiresAt: now() + 3600, name: sub });

describe("RedisSessionStore", () => {
  it("creates a record under a new id with the TTL asked for, and indexes it by user and provider session", async () => {
    const id = await store.create(signedIn("alice", "sid-1"), 300);
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await client.ttl(`t:sess:${id}`)).toBeGreaterThan(295);
    expect((await keys()).map((k) => k.replace(/:[^:]+$/, ""))).toEqual(["t:sess", "t:sid", "t:sub"]);
    expect((await store.list({ sub: "alice" })).map((s) => s.id)).toEqual([id]);
    expect((await store.list({ sid: "sid-1" })).map((s) => s.id)).toEqual([id]);
  });

  it("reads with one GETEX that slides the idle timeout; listing does not slide it", async () => {
    const id = await store.create(signedIn("bob"), 100);
    expect(await client.ttl(`t:sess:${id}`)).toBeLessThanOrEqual(100);
    const [listed] = await store.list({ sub: "bob" });
    expect(listed!.ttl).toBeLessThanOrEqual(100);
    expect((await store.read(id))?.name).toBe("bob");
    expect(await client.ttl(`t:sess:${id}`)).toBeGreaterThan(595);
  });

  it("never sends an id that is not one of its own to Redis, and reads an unreadable record as none", async () => {
    expect(await store.read("../../etc/passwd")).toBeNull();
    await client.set("t:sess:AAAAAAAAAAAAAAAAAAAAAA", "{not json", "EX", 60);
    expect(await store.read("AAAAAAAAAAAAAAAAAAAAAA")).toBeNull();
  });

  it("never brings back a deleted session on update, and deletes on a TTL of zero", async () => {
    const id = await store.create(signedIn("carol"), 300);
    await store.destroy(id);
    await store.update(id, signedIn("carol"), 300);
    expect(await keys()).toEqual([]);
    const other = await store.create(signedIn("dave", "sid-2"), 300);
    await store.update(other, signedIn("dave", "sid-2"), 0);
    expect(await keys()).toEqual([]);
  });

  it("destroys the record and its index entries, with the data at hand or without (GETDEL tells which)", async () => {
    const a = await store.create(signedIn("erin", "sid-3"), 300);
    const b = await store.create(signedIn("erin", "sid-3"), 300);
    await store.destroy(a, signedIn("erin", "sid-3"));
    expect((await store.list({ sid: "sid-3" })).map((s) => s.id)).toEqual([b]);
    await store.destroy(b);
    expect(await keys()).toEqual([]);
  });

  it("drops index entries whose session expired on its own while listing", async () => {
    const id = await store.create(signedIn("frank"), 300);
    await client.del(`t:sess:${id}`); // as an idle expiry would
    expect(await store.list({ sub: "frank" })).toEqual([]);
    expect(await keys()).toEqual([]);
  });

  it("ends every session of a user at once", async () => {
    await Promise.all([store.create(signedIn("gina", "x"), 300), store.create(signedIn("gina", "y"), 300)]);
    await store.destroyMany(await store.list({ sub: "gina" }));
    expect(await keys()).toEqual([]);
  });

  it("holds the refresh lock for one owner, releases it only for that owner, and lets it expire", async () => {
    const owner = await store.lock("AAAAAAAAAAAAAAAAAAAAAA", 200);
    expect(owner).toBeTruthy();
    expect(await store.lock("AAAAAAAAAAAAAAAAAAAAAA", 200)).toBeNull();
    await store.unlock("AAAAAAAAAAAAAAAAAAAAAA", "someone-else");
    expect(await store.lockOwner("AAAAAAAAAAAAAAAAAAAAAA")).toBe(owner);
    await store.unlock("AAAAAAAAAAAAAAAAAAAAAA", owner!);
    expect(await store.lockOwner("AAAAAAAAAAAAAAAAAAAAAA")).toBeNull();
    await store.lock("AAAAAAAAAAAAAAAAAAAAAA", 50);
    await new Promise((r) => setTimeout(r, 120));
    expect(await keys()).toEqual([]);
  });
});
