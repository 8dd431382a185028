/**
 * The session store against a real redis-server (as connect-redis tests
 * itself): what it writes, with which TTLs, that the hot record is read alone
 * while both records' timers slide, that a record of the earlier layout is
 * moved without losing the session, that every way of ending a session
 * leaves no key behind, and that durable deletes (WAIT) on a server without
 * replicas give up after their timeout and still delete.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  RedisSessionStore,
  type DurableDeletes,
  type Indexed,
  type RedisRunner,
  type WaitOutcome,
} from "../app/session/session-store.server.ts";
import { startTestRedis, type TestRedis } from "./support/stack.ts";
import { until } from "./support/until.ts";

interface Hot extends Indexed {
  name?: string;
}
interface Cold {
  token: string;
}

let redis: TestRedis;
let client: Redis;
let store: RedisSessionStore<Hot, Cold>;
const now = () => Math.floor(Date.now() / 1000);
const run: RedisRunner = (operation) => operation(client);
const keys = () => client.keys("t:*").then((k) => k.sort()); // a test may use KEYS; the store never does
const kinds = async () => (await keys()).map((k) => k.replace(/:[^:]+$/, ""));

const makeStore = (durableDeletes?: DurableDeletes) =>
  new RedisSessionStore<Hot, Cold>({
    redis: run,
    prefix: "t:",
    idleTimeout: 600,
    maxAge: 3600,
    cold: {
      encode: (cold, id) => Buffer.from(`${id}|${cold.token}`),
      decode: (b) => ({ token: b.toString().split("|")[1]! }),
    },
    fromLegacy: ({ token, ...hot }) => ({ hot: hot as Hot, cold: typeof token === "string" ? { token } : undefined }),
    durableDeletes,
  });

beforeAll(async () => {
  redis = await startTestRedis();
  client = redis.client;
  store = makeStore();
});
afterAll(async () => {
  await redis?.stop();
});
beforeEach(async () => {
  await client.flushdb();
});

const signedIn = (sub: string, sid?: string): Hot => ({ user: { sub }, sid, expiresAt: now() + 3600, name: sub });

describe("RedisSessionStore", () => {
  it("creates a hot and a cold record in one hash slot, with the TTL asked for, indexed by user and provider session", async () => {
    const id = await store.create(signedIn("alice", "sid-1"), { token: "T" }, 300);
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await kinds()).toEqual(["t:sess", "t:sid", "t:sub", "t:tok"]);
    // The id as a hash tag in both: one Cluster slot.
    expect(await client.exists(`t:sess:{${id}}`, `t:tok:{${id}}`)).toBe(2);
    expect(await client.ttl(`t:sess:{${id}}`)).toBeGreaterThan(295);
    expect(await client.ttl(`t:tok:{${id}}`)).toBeGreaterThan(295);
    expect((await store.list({ sub: "alice" })).map((s) => s.id)).toEqual([id]);
    expect((await store.list({ sid: "sid-1" })).map((s) => s.id)).toEqual([id]);
    expect(await store.readCold(id)).toEqual({ token: "T" });
  });

  it("reads only the hot record, sliding both records' idle timeout; listing slides nothing", async () => {
    const id = await store.create(signedIn("bob"), { token: "T" }, 100);
    const [listed] = await store.list({ sub: "bob" });
    expect(listed!.ttl).toBeLessThanOrEqual(100);
    expect(await store.read(id)).toEqual(signedIn("bob"));
    expect(await client.ttl(`t:sess:{${id}}`)).toBeGreaterThan(595);
    expect(await client.ttl(`t:tok:{${id}}`)).toBeGreaterThan(595);
  });

  it("never sends an id that is not one of its own to Redis, and reads an unreadable record as none", async () => {
    expect(await store.read("../../etc/passwd")).toBeNull();
    await client.set("t:sess:{AAAAAAAAAAAAAAAAAAAAAA}", "{not json", "EX", 60);
    expect(await store.read("AAAAAAAAAAAAAAAAAAAAAA")).toBeNull();
  });

  it("updates the hot record alone or both, never brings back a deleted session, and deletes on a TTL of zero", async () => {
    const id = await store.create(signedIn("carol"), { token: "old" }, 300);
    await store.update(id, { ...signedIn("carol"), name: "Carol" }, 200);
    expect((await store.read(id))?.name).toBe("Carol");
    expect(await store.readCold(id)).toEqual({ token: "old" });
    await store.update(id, signedIn("carol"), 300, { token: "new" });
    expect(await store.readCold(id)).toEqual({ token: "new" });
    await store.destroy(id);
    await store.update(id, signedIn("carol"), 300, { token: "again" });
    expect(await keys()).toEqual([]);
    const other = await store.create(signedIn("dave", "sid-2"), { token: "T" }, 300);
    await store.update(other, signedIn("dave", "sid-2"), 0);
    expect(await keys()).toEqual([]);
  });

  it("destroys both records and the index entries, with the data at hand or without (GETDEL tells which)", async () => {
    const a = await store.create(signedIn("erin", "sid-3"), { token: "A" }, 300);
    const b = await store.create(signedIn("erin", "sid-3"), { token: "B" }, 300);
    await store.destroy(a, signedIn("erin", "sid-3"));
    expect((await store.list({ sid: "sid-3" })).map((s) => s.id)).toEqual([b]);
    await store.destroy(b);
    expect(await keys()).toEqual([]);
  });

  it("drops index entries whose session expired on its own while listing", async () => {
    const id = await store.create(signedIn("frank"), { token: "T" }, 300);
    await client.del(`t:sess:{${id}}`, `t:tok:{${id}}`); // as an idle expiry would
    expect(await store.list({ sub: "frank" })).toEqual([]);
    expect(await keys()).toEqual([]);
  });

  it("ends every session of a user at once", async () => {
    await Promise.all([
      store.create(signedIn("gina", "x"), { token: "1" }, 300),
      store.create(signedIn("gina", "y"), undefined, 300),
    ]);
    await store.destroyMany(await store.list({ sub: "gina" }));
    expect(await keys()).toEqual([]);
  });

  describe("records of the layout before the split", () => {
    /** A session as the earlier build stored it: one record, indexed the same way. */
    async function legacySession(sub: string) {
      const id = await store.create(signedIn(sub, `sid-${sub}`), { token: "T" }, 300);
      await client.del(`t:sess:{${id}}`, `t:tok:{${id}}`);
      await client.set(
        `t:sess:${id}`,
        JSON.stringify({ ...signedIn(sub, `sid-${sub}`), token: "legacy-token" }),
        "EX",
        300,
      );
      return id;
    }

    it("are read when the new records are missing, and moved at once under the same id", async () => {
      const id = await legacySession("hana");
      expect(await store.read(id)).toEqual(signedIn("hana", "sid-hana"));
      expect(await client.exists(`t:sess:${id}`)).toBe(0);
      expect(await store.readCold(id)).toEqual({ token: "legacy-token" });
      expect(await store.read(id)).toEqual(signedIn("hana", "sid-hana"));
    });

    it("are found by the indexes before they are moved, and ended whole", async () => {
      const id = await legacySession("ivan");
      const [found] = await store.list({ sid: "sid-ivan" });
      expect(found).toMatchObject({ id, legacy: true, data: signedIn("ivan", "sid-ivan") });
      await store.destroyMany([found!]);
      expect(await keys()).toEqual([]);
      const other = await legacySession("jane");
      await store.destroy(other); // without the data: found by GETDEL of the old record
      expect(await keys()).toEqual([]);
    });

    it("are all moved by moveAllLegacy, and nothing else is touched", async () => {
      const ids = await Promise.all(["k1", "k2", "k3"].map(legacySession));
      const current = await store.create(signedIn("kept"), { token: "T" }, 300);
      expect(await store.moveAllLegacy()).toBe(3);
      expect(await store.moveAllLegacy()).toBe(0);
      for (const id of [...ids, current]) expect(await client.exists(`t:sess:{${id}}`, `t:tok:{${id}}`)).toBe(2);
      expect((await keys()).filter((k) => /^t:sess:[^{]/.test(k))).toEqual([]);
    });
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

describe("sessions that end inside Redis", () => {
  const reported: Array<[string, number]> = [];
  const storeReporting = () =>
    new RedisSessionStore<Hot, Cold>({
      redis: run,
      prefix: "t:",
      idleTimeout: 600,
      maxAge: 3600,
      cold: { encode: (cold) => Buffer.from(cold.token), decode: (b) => ({ token: b.toString() }) },
      onExpired: (reason, count) => reported.push([reason, count]),
    });
  beforeEach(() => {
    reported.length = 0;
  });

  it("sweeps: an idle-expired session is reported as idle, one past its lifetime is deleted and reported as absolute, each once", async () => {
    const reporting = storeReporting();
    const live = await reporting.create(signedIn("carol"), { token: "L" }, 600);
    const idle = await reporting.create(signedIn("carol"), { token: "I" }, 1); // its records expire in 1 s
    const lifetimeOver = await reporting.create({ ...signedIn("dave"), expiresAt: now() + 1 }, { token: "A" }, 600);
    expect(await until(async () => (await client.exists(`t:sess:{${idle}}`)) === 0, 5_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 1_100)); // dave's absolute lifetime passes
    expect(await reporting.sweep(60_000)).toEqual({ idle: 1, absolute: 1 });
    expect(reported).toEqual([
      ["idle", 1],
      ["absolute", 1],
    ]);
    expect(await client.exists(`t:sess:{${lifetimeOver}}`, `t:tok:{${lifetimeOver}}`)).toBe(0);
    expect((await reporting.list({ sub: "carol" })).map((s) => s.id)).toEqual([live]);
    // Another instance while the lock is held: no second sweep.
    expect(await storeReporting().sweep(60_000)).toBeUndefined();
    await client.del("t:lock:sweep");
    expect(await reporting.sweep(60_000)).toEqual({ idle: 0, absolute: 0 });
    expect(reported).toHaveLength(2);
  });

  it("sweeps in bounded steps that go on where the last one stopped, across instances, until every ended session is reported once", async () => {
    const pipeline = client.pipeline();
    for (let i = 0; i < 20_000; i++) pipeline.set(`t:filler:${i}`, "x", "EX", 600);
    await pipeline.exec();
    const ids = await Promise.all(
      Array.from({ length: 40 }, (_, i) => storeReporting().create(signedIn(`user-${i}`), { token: "T" }, 600)),
    );
    await client.del(...ids.flatMap((id) => [`t:sess:{${id}}`, `t:tok:{${id}}`]));
    const found: number[] = [];
    for (let step = 0; step < 100 && found.reduce((a, b) => a + b, 0) < 40; step++) {
      await client.del("t:lock:sweep");
      const swept = await storeReporting().sweep(60_000, 2_000); // a new instance each time
      found.push(swept!.idle);
    }
    expect(found.reduce((a, b) => a + b, 0)).toBe(40);
    expect(found.length, `steps: ${found.join(",")}`).toBeGreaterThan(2); // no single step saw the whole keyspace
    expect(reported.reduce((sum, [, n]) => sum + n, 0)).toBe(40);
  });

  it("reports an ended session once, whichever finds it first: listing, a new sign-in's index add, or a sweep", async () => {
    const reporting = storeReporting();
    const gone = await reporting.create(signedIn("erin"), { token: "G" }, 600);
    await client.del(`t:sess:{${gone}}`, `t:tok:{${gone}}`); // as its idle timeout would
    expect(await reporting.list({ sub: "erin" })).toEqual([]);
    expect(await reporting.list({ sub: "erin" })).toEqual([]);
    await client.del("t:lock:sweep");
    await reporting.sweep(60_000);
    expect(reported).toEqual([["idle", 1]]);
    // Past its lifetime: pruned when the same user signs in again.
    await reporting.create({ ...signedIn("frank"), expiresAt: now() + 1 }, { token: "F" }, 600);
    await new Promise((r) => setTimeout(r, 1_100));
    await reporting.create(signedIn("frank"), { token: "F2" }, 600);
    await client.del("t:lock:sweep");
    await reporting.sweep(60_000);
    expect(reported).toEqual([
      ["idle", 1],
      ["absolute", 1],
    ]);
  });
});

describe("durable deletes (WAIT) on a server without replicas", () => {
  const TIMEOUT_MS = 150;
  let waiting: Redis;
  const outcomes: WaitOutcome[] = [];
  let durable: RedisSessionStore<Hot, Cold>;
  beforeAll(async () => {
    waiting = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    durable = makeStore({
      replicas: 1,
      timeoutMs: TIMEOUT_MS,
      redis: (operation) => operation(waiting),
      onWait: (outcome) => outcomes.push(outcome),
    });
  });
  afterAll(() => waiting?.disconnect());
  beforeEach(() => void outcomes.splice(0));

  const timed = async <T>(work: () => Promise<T>) => {
    const started = Date.now();
    const value = await work();
    return { value, ms: Date.now() - started };
  };

  it("waits for one replica, gets 0 after the timeout, says so, and the session is deleted all the same", async () => {
    const id = await durable.create(signedIn("lena", "sid-l"), { token: "T" }, 300);
    const { value, ms } = await timed(() => durable.destroy(id, signedIn("lena", "sid-l")));
    expect(value).toEqual({ wanted: 1, acknowledged: 0, sessions: 1, ms: expect.any(Number) });
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(outcomes).toEqual([value]);
    expect(await keys()).toEqual([]);
  });

  it("sends one WAIT after all the deletes of a batch, and without the data finds the index entries by GETDEL", async () => {
    await Promise.all(["m1", "m2", "m3"].map((sub) => durable.create(signedIn(sub), { token: "T" }, 300)));
    const list = (await Promise.all(["m1", "m2", "m3"].map((sub) => durable.list({ sub })))).flat();
    const { value, ms } = await timed(() => durable.destroyMany(list));
    expect(value).toMatchObject({ wanted: 1, acknowledged: 0, sessions: 3 });
    expect(ms).toBeLessThan(2 * TIMEOUT_MS + 100); // one WAIT, not three in a row
    const other = await durable.create(signedIn("m4"), { token: "T" }, 300);
    expect(await durable.destroy(other)).toMatchObject({ acknowledged: 0, sessions: 1 });
    expect(await keys()).toEqual([]);
  });

  it("does not wait to delete a session of no one (before sign-in): bringing it back grants nothing", async () => {
    const id = await durable.create({ expiresAt: now() + 600 }, undefined, 300);
    const { value, ms } = await timed(() => durable.destroy(id, { expiresAt: now() + 600 }));
    expect(value).toBeUndefined();
    expect(outcomes).toEqual([]);
    expect(ms).toBeLessThan(TIMEOUT_MS);
    expect(await keys()).toEqual([]);
  });

  it("blocks only its own connection: a WAIT on a connection of its own holds up no other command", async () => {
    const id = await durable.create(signedIn("nina"), { token: "T" }, 300);
    const ending = durable.destroy(id, signedIn("nina"));
    await new Promise((r) => setTimeout(r, 20)); // the WAIT is blocking now
    const { ms: elsewhere } = await timed(() => client.get("t:anything"));
    expect(elsewhere).toBeLessThan(50);
    await ending;
    // The same WAIT on the shared connection: the next command waits behind it.
    const shared = makeStore({ replicas: 1, timeoutMs: TIMEOUT_MS });
    const again = await shared.create(signedIn("nina"), { token: "T" }, 300);
    const endingShared = shared.destroy(again, signedIn("nina"));
    await new Promise((r) => setTimeout(r, 20));
    const { ms: behind } = await timed(() => client.get("t:anything"));
    expect(behind).toBeGreaterThanOrEqual(TIMEOUT_MS - 40);
    expect(await endingShared).toMatchObject({ acknowledged: 0 });
    expect(await keys()).toEqual([]);
  });

  it("does not wait when asked for 0 replicas", async () => {
    const none = makeStore({ replicas: 0, timeoutMs: TIMEOUT_MS, onWait: (o) => outcomes.push(o) });
    const id = await none.create(signedIn("olga"), { token: "T" }, 300);
    const { value, ms } = await timed(() => none.destroy(id, signedIn("olga")));
    expect(value).toBeUndefined();
    expect(ms).toBeLessThan(TIMEOUT_MS);
    expect(outcomes).toEqual([]);
    expect(await keys()).toEqual([]);
  });
});
