/**
 * The session store: the one module that knows what a session keeps in Redis
 * (in the manner of connect-redis). No other module builds these keys or
 * parses these values.
 *
 * | key                            | value                                              | TTL |
 * |--------------------------------|----------------------------------------------------|-----|
 * | `<prefix>sess:{<id>}`          | the hot record: what every request reads, JSON     | idle timeout, capped by the cookie's expiry |
 * | `<prefix>tok:{<id>}`           | the cold record: the tokens, bytes (token-record)  | the same as the hot record's |
 * | `<prefix>sid:<sha256(sid)>`    | sorted set: ids of a provider session              | SESSION_MAX_AGE after its last add |
 * | `<prefix>sub:<sha256(sub)>`    | sorted set: ids of a user                          | SESSION_MAX_AGE after its last add |
 * | `<prefix>lock:refresh:{<id>}`  | owner of a token refresh in progress               | the lock's lifetime |
 * | `<prefix>sess:<id>`            | a record of the layout before the split (read, then moved) | as it was written |
 * | `<prefix>migrated:<sha256>`    | a cookie-design session already moved here (SESSION_MIGRATION) | until that cookie would have expired |
 * | `<prefix>lock:sweep`           | the instance sweeping the indexes now              | the sweep interval |
 * | `<prefix>sweep:cursor`         | where the sweep goes on, per primary (JSON)        | a day |
 *
 * - ids are 128 random bits, base64url (22 characters); anything else is never sent to Redis;
 * - `{<id>}` is a hash tag: a session's keys live in one Redis Cluster slot,
 *   so a read (GETEX of the hot record and EXPIRE of the cold one, pipelined)
 *   is one round trip, and a write of both one MULTI;
 * - a read slides both records' idle timeout and returns only the hot one
 *   (a few hundred bytes, whatever the tokens weigh); the cold one is read
 *   only where tokens are used;
 * - a write's TTL is the smaller of the idle timeout and the time left until
 *   the cookie expires; zero or less deletes (as connect-redis does);
 * - an update never resurrects a session deleted meanwhile (`SET … XX`), so a
 *   logout in one tab cannot be undone by a write from another;
 * - index entries (score: the session's absolute expiry) are added before the
 *   records are written and removed after they are deleted, so a live session
 *   is always indexed; an entry left behind by a failure in between names no
 *   session and is dropped when found;
 * - a session that ends inside Redis (its idle timeout, or its absolute
 *   lifetime) is reported once (`onExpired`) when its entry leaves its user's
 *   index: found gone by `list`, pruned by an add, or by `sweep`. ZREM and
 *   ZREMRANGEBYSCORE say how many entries they removed, so however many
 *   instances find the same entry, one reports it;
 * - a record of the earlier single-record layout is read when the new one is
 *   missing, and moved to the new layout at once, under the same id: nobody
 *   is signed out by the upgrade (scripts/migrate-sessions.ts moves them all);
 * - with `durableDeletes`, ending a signed-in session is followed by `WAIT`
 *   on the connection that carried the delete, so that the replicas have it
 *   before the caller answers (see `DurableDeletes`).
 *
 * docs/decisions/003-redis-keys-ttls-and-failures.md, 009-backchannel-logout.md,
 * 011-redis-topologies.md, 014-hot-and-cold-session-records.md,
 * docs/operations.md#durable-logouts-on-replicated-redis
 */
import { createHash, randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";

/** One server or a Cluster: the commands used here are the same on both. */
type RedisClient = Redis | Cluster;

/**
 * How the store reaches Redis: runs one operation on the client. The app's
 * runner maps outages to typed errors (platform/redis.server.ts); the
 * simplest is `(operation) => operation(client)`.
 */
export type RedisRunner = <T>(operation: (redis: RedisClient) => Promise<T>) => Promise<T>;

export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

export function newSessionId(): string {
  return randomBytes(16).toString("base64url");
}

/** Seconds a record written now should live: the idle timeout, or less when the cookie expires sooner. */
export function ttlSeconds(idleTimeout: number, expires: Date | undefined, now = Date.now()): number {
  if (!expires) return idleTimeout;
  return Math.min(idleTimeout, Math.floor((expires.getTime() - now) / 1000));
}

/** What the store reads of a hot record to index it: who, which provider session, until when (epoch seconds). */
export interface Indexed {
  user?: { sub: string };
  sid?: string;
  expiresAt?: number;
}

/** How the cold record is stored: the app's codec (token-record.server.ts). `id` lets it bind the bytes to the session. */
export interface ColdCodec<Cold> {
  encode(cold: Cold, id: string): Buffer;
  decode(stored: Buffer, id: string): Cold;
}

/** Sessions of one provider session (`sid`) or of one user (`sub`). */
export type SessionQuery = { sid: string } | { sub: string };

export interface StoredSession<Hot> {
  id: string;
  data: Hot;
  /** Seconds left of its idle timeout (each read resets it to the full idle timeout). */
  ttl: number;
  /** Still in the layout before the split (not read since the upgrade). */
  legacy?: boolean;
}

/**
 * Deletes that end signed-in sessions, made durable on replicated Redis: the
 * `DEL`s and then `WAIT replicas timeoutMs` in one pipeline, so on the same
 * connection (WAIT counts the replicas that have acknowledged that
 * connection's writes). On a Cluster, ioredis sends a pipeline to the primary
 * of its keys' slot, keyless WAIT included: a session's keys share the `{id}`
 * slot, so each session gets its own pipeline, to its own primary. Index
 * entries are removed afterwards without waiting: one brought back by a
 * failover names no session and is dropped when found. A session without a
 * `user` (before sign-in) is deleted without waiting: bringing it back grants
 * nothing.
 *
 * WAIT is not strong consistency: fewer replicas than asked may acknowledge
 * in time (the session is still deleted on the primary; the outcome says how
 * many did), and a failover may still promote a replica that had not.
 */
export interface DurableDeletes {
  /** How many replicas must acknowledge (WAIT numreplicas); 0: do not wait. */
  replicas: number;
  /** The longest a WAIT blocks, in milliseconds. */
  timeoutMs: number;
  /**
   * The connection for these deletes and their WAIT; default the store's
   * `redis`. WAIT blocks its connection until the replicas answer or the
   * timeout passes, so a connection of their own keeps a lagging replica from
   * holding up every other command.
   */
  redis?: RedisRunner;
  /** Told after every wait (e.g. to log a shortfall or count it). */
  onWait?(outcome: WaitOutcome): void;
}

/** What a durable delete got: `acknowledged < wanted` means the replicas may not all have it. */
export interface WaitOutcome {
  /** Replicas asked for. */
  wanted: number;
  /** The fewest that acknowledged, over every WAIT sent (one per Cluster primary involved). */
  acknowledged: number;
  /** Sessions ended. */
  sessions: number;
  /** Milliseconds from sending the deletes to the last WAIT's answer. */
  ms: number;
}

export interface RedisSessionStoreOptions<Hot, Cold> {
  /** Runs a command, mapping outages to typed errors (platform/redis.server.ts). */
  redis: RedisRunner;
  /** Key prefix, e.g. "rro:" gives "rro:sess:{<id>}". */
  prefix: string;
  /** Sliding idle timeout, in seconds. */
  idleTimeout: number;
  /** The absolute session lifetime, in seconds: how long an index key outlives its last add. */
  maxAge: number;
  cold: ColdCodec<Cold>;
  /**
   * Splits a record of this project's earlier single-record layout into the
   * two. Leave it out in an app that never had that layout: a missing
   * session then costs no second lookup.
   */
  fromLegacy?(record: Record<string, unknown>): { hot: Hot; cold: Cold | undefined };
  /** Told of signed-in sessions that ended inside Redis, once each: by their idle timeout or their absolute lifetime. */
  onExpired?(reason: "idle" | "absolute", count: number): void;
  /** WAIT for replicas after ending a signed-in session (replicated Redis); leave it out not to wait. */
  durableDeletes?: DurableDeletes;
}

const digest = (value: string) => createHash("sha256").update(value).digest("base64url");
const epochSeconds = () => Math.floor(Date.now() / 1000);
const RELEASE_LOCK = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

/** Runs a pipeline or MULTI, throwing the first command's error (so the caller's error mapping sees it). */
async function results(batch: ReturnType<RedisClient["pipeline"]>): Promise<unknown[]> {
  const replies = (await batch.exec()) ?? [];
  const failed = replies.find(([error]) => error);
  if (failed) throw failed[0];
  return replies.map(([, value]) => value);
}

export class RedisSessionStore<Hot extends Indexed, Cold> {
  readonly idleTimeout: number;
  private readonly options: RedisSessionStoreOptions<Hot, Cold>;

  constructor(options: RedisSessionStoreOptions<Hot, Cold>) {
    this.options = options;
    this.idleTimeout = options.idleTimeout;
  }

  private get redis() {
    return this.options.redis;
  }

  /** The durable-delete settings, when on. */
  private get durable(): DurableDeletes | undefined {
    const durable = this.options.durableDeletes;
    return durable && durable.replicas > 0 ? durable : undefined;
  }

  /** Where deletes go: the connection their WAIT will be sent on, when durable deletes are on. */
  private get deleting(): RedisRunner {
    return this.durable?.redis ?? this.redis;
  }

  private hotKey(id: string) {
    return `${this.options.prefix}sess:{${id}}`;
  }

  private coldKey(id: string) {
    return `${this.options.prefix}tok:{${id}}`;
  }

  private legacyKey(id: string) {
    return `${this.options.prefix}sess:${id}`;
  }

  private lockKey(id: string) {
    return `${this.options.prefix}lock:refresh:{${id}}`;
  }

  private indexKey(query: SessionQuery) {
    const { prefix } = this.options;
    return "sid" in query ? `${prefix}sid:${digest(query.sid)}` : `${prefix}sub:${digest(query.sub)}`;
  }

  private indexKeys(data: Indexed): string[] {
    if (!data.user) return [];
    return [this.indexKey({ sub: data.user.sub }), ...(data.sid ? [this.indexKey({ sid: data.sid })] : [])];
  }

  /**
   * Stores a new session under a new id and returns the id: index entries
   * (one MULTI per index key), then both records in one MULTI (SET NX). A
   * TTL of zero or less stores nothing.
   */
  async create(hot: Hot, cold: Cold | undefined, ttl: number): Promise<string> {
    const body = JSON.stringify(hot);
    for (;;) {
      const id = newSessionId();
      if (ttl <= 0) return id; // already expired: nothing to store
      await this.addToIndexes(id, hot);
      const created = cold
        ? await this.redis(async (r) => {
            const multi = r.multi().set(this.coldKey(id), this.options.cold.encode(cold, id), "EX", ttl, "NX");
            return (await results(multi.set(this.hotKey(id), body, "EX", ttl, "NX")))[1];
          })
        : await this.redis((r) => r.set(this.hotKey(id), body, "EX", ttl, "NX"));
      if (created) return id;
      // A 128-bit collision is not expected; if it happens, the entries just added name someone else's session.
      await this.removeFromIndexes([{ id, data: hot }]);
    }
  }

  /**
   * The hot record, sliding the idle timeout of both records: one round trip
   * (GETEX, EXPIRE). Null when there is none or it is unreadable.
   */
  async read(id: string): Promise<Hot | null> {
    if (!SESSION_ID_PATTERN.test(id)) return null; // not one of ours: no Redis call
    const idle = this.idleTimeout;
    const [raw] = await this.redis((r) =>
      results(r.pipeline().getex(this.hotKey(id), "EX", idle).expire(this.coldKey(id), idle)),
    );
    if (typeof raw === "string") return parse<Hot>(raw);
    return this.moveLegacy(id);
  }

  /** A record of the earlier layout, moved to the new one under the same id (its index entries stay valid). */
  private async moveLegacy(id: string): Promise<Hot | null> {
    const { fromLegacy } = this.options;
    if (!fromLegacy) return null;
    const idle = this.idleTimeout;
    const record = parse<Record<string, unknown>>(await this.redis((r) => r.getex(this.legacyKey(id), "EX", idle)));
    if (!record) return null;
    const { hot, cold } = fromLegacy(record);
    await this.redis(async (r) => {
      const multi = r.multi().set(this.hotKey(id), JSON.stringify(hot), "EX", idle);
      await results(cold ? multi.set(this.coldKey(id), this.options.cold.encode(cold, id), "EX", idle) : multi);
    });
    await this.redis((r) => r.del(this.legacyKey(id)));
    return hot;
  }

  /** The cold record (the tokens), without sliding anything; null when there is none. */
  async readCold(id: string): Promise<Cold | null> {
    if (!SESSION_ID_PATTERN.test(id)) return null;
    const stored = await this.redis((r) => r.getBuffer(this.coldKey(id)));
    return stored ? this.options.cold.decode(stored, id) : null;
  }

  /** Bytes stored for a session: the hot record and the cold one (what the account page shows). */
  async sizes(id: string): Promise<{ hot: number; cold: number }> {
    const [hot, cold] = await this.redis((r) => results(r.pipeline().strlen(this.hotKey(id)).strlen(this.coldKey(id))));
    return { hot: Number(hot), cold: Number(cold) };
  }

  /**
   * Replaces the hot record (and the cold one, when given) if the session
   * still exists (SET XX), in one round trip; the cold record's TTL follows
   * the hot one's. A TTL of zero or less destroys the session.
   */
  async update(id: string, hot: Hot, ttl: number, cold?: Cold): Promise<void> {
    if (!SESSION_ID_PATTERN.test(id)) return;
    if (ttl <= 0) {
      await this.destroy(id, hot);
      return;
    }
    await this.redis((r) => {
      const batch = (cold ? r.multi() : r.pipeline()).set(this.hotKey(id), JSON.stringify(hot), "EX", ttl, "XX");
      return results(
        cold
          ? batch.set(this.coldKey(id), this.options.cold.encode(cold, id), "EX", ttl, "XX")
          : batch.expire(this.coldKey(id), ttl),
      );
    });
  }

  /**
   * Deletes the records, then the index entries. With the hot record at hand,
   * one DEL; without it, a GETDEL says which index entries to remove. With
   * durable deletes on, returns what the WAIT got (undefined: none was sent).
   */
  async destroy(id: string, hot?: Hot): Promise<WaitOutcome | undefined> {
    if (!SESSION_ID_PATTERN.test(id)) return;
    if (hot) return this.destroyMany([{ id, data: hot }]);
    // On the connection a WAIT would follow on: a GETDEL elsewhere would not be covered by it.
    const stored = parse<Hot>(await this.deleting((r) => r.getdel(this.hotKey(id))));
    if (stored) return this.destroyMany([{ id, data: stored }]);
    const { fromLegacy } = this.options;
    if (!fromLegacy) return;
    const legacy = parse<Record<string, unknown>>(await this.deleting((r) => r.getdel(this.legacyKey(id))));
    if (legacy) return this.destroyMany([{ id, data: fromLegacy(legacy).hot, legacy: true }]);
  }

  /**
   * Deletes sessions (both records, and a legacy one where listed so), then
   * their index entries. With durable deletes on and a signed-in session
   * among them, the deletes are followed by WAIT; returns what it got.
   */
  async destroyMany(
    sessions: ReadonlyArray<{ id: string; data: Hot; legacy?: boolean }>,
  ): Promise<WaitOutcome | undefined> {
    const ours = sessions.filter(({ id }) => SESSION_ID_PATTERN.test(id));
    if (ours.length === 0) return;
    const keysOf = ({ id, legacy }: { id: string; legacy?: boolean }) =>
      legacy ? [this.legacyKey(id)] : [this.hotKey(id), this.coldKey(id)];
    const durable = this.durable;
    let outcome: WaitOutcome | undefined;
    if (durable && ours.some(({ data }) => data.user)) {
      outcome = await this.deleteAndWait(ours.map(keysOf), durable);
      durable.onWait?.(outcome);
    } else {
      // Not waited for: the shared connection, never queued behind another ending's WAIT.
      await this.redis((r) => Promise.all(ours.map((session) => r.del(...keysOf(session)))));
    }
    await this.removeFromIndexes(ours);
    return outcome;
  }

  /**
   * DELs, then WAIT, in one pipeline: one connection, so the WAIT covers the
   * DELs. On one server or Sentinel, one pipeline for all; on a Cluster, one
   * per session, which ioredis sends to the primary of the session's slot.
   */
  private async deleteAndWait(keysPerSession: string[][], durable: DurableDeletes): Promise<WaitOutcome> {
    const { replicas, timeoutMs } = durable;
    const started = Date.now();
    const counts = await (durable.redis ?? this.redis)((r) => {
      const batches = "nodes" in r ? keysPerSession.map((keys) => [keys]) : [keysPerSession];
      return Promise.all(
        batches.map(async (batch) => {
          const pipeline = r.pipeline();
          for (const keys of batch) pipeline.del(...keys);
          try {
            return Number((await results(pipeline.wait(replicas, timeoutMs))).at(-1));
          } catch (error) {
            if (!/^(MOVED|ASK) /.test((error as Error).message)) throw error;
            // The slot moved (a failover ioredis has not caught up with, a resharding): the DELs go
            // as ordinary commands, which follow the redirect; no WAIT was answered, so none is counted.
            await Promise.all(batch.map((keys) => r.del(...keys)));
            return 0;
          }
        }),
      );
    });
    return {
      wanted: replicas,
      acknowledged: Math.min(...counts),
      sessions: keysPerSession.length,
      ms: Date.now() - started,
    };
  }

  /**
   * The live sessions of a provider session or a user, read without touching
   * them (GET and TTL: their idle timers do not slide). Entries whose session
   * is gone (idle expiry) are dropped from the index on the way.
   */
  async list(query: SessionQuery): Promise<StoredSession<Hot>[]> {
    const key = this.indexKey(query);
    const ids = await this.redis((r) => r.zrangebyscore(key, epochSeconds(), "+inf"));
    if (ids.length === 0) return [];
    const { fromLegacy } = this.options;
    const found = await this.peek<Hot>(ids, (id) => this.hotKey(id));
    const missing = fromLegacy ? ids.filter((_, i) => !found[i]) : [];
    const legacy = missing.length ? await this.peek<Record<string, unknown>>(missing, (id) => this.legacyKey(id)) : [];
    const sessions: StoredSession<Hot>[] = [];
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const hit = found[i];
      if (hit) return void sessions.push({ id, ...hit });
      const old = legacy[missing.indexOf(id)];
      if (old && fromLegacy)
        return void sessions.push({ id, data: fromLegacy(old.data).hot, ttl: old.ttl, legacy: true });
      gone.push(id); // expired, or unreadable: treated as gone
    });
    if (gone.length) {
      const removed = await this.redis((r) => r.zrem(key, ...gone));
      if ("sub" in query) this.expired("idle", removed);
    }
    return sessions;
  }

  /** GET and TTL of one key per id; one command per key (they may live on different Cluster nodes), sent without waiting in between. */
  private async peek<T>(ids: string[], keyOf: (id: string) => string) {
    const replies = await this.redis((r) =>
      Promise.all(ids.map((id) => Promise.all([r.get(keyOf(id)), r.ttl(keyOf(id))]))),
    );
    return replies.map(([raw, ttl]) => {
      const data = ttl >= 0 ? parse<T>(raw) : null;
      return data ? { data, ttl } : undefined;
    });
  }

  /**
   * Remembers that a cookie-design session (named by a digest of its cookie)
   * has been moved here, until `ttl` seconds from now. True the first time
   * only: a copy of that cookie replayed later finds it taken (SET NX).
   */
  async claimMigration(cookieDigest: string, ttl: number): Promise<boolean> {
    const key = `${this.options.prefix}migrated:${cookieDigest}`;
    return (await this.redis((r) => r.set(key, "1", "EX", Math.max(1, ttl), "NX"))) !== null;
  }

  /** Takes the session's refresh lock for `ms` milliseconds (SET NX PX). Returns the owner token, or null when another holds it. */
  async lock(id: string, ms: number): Promise<string | null> {
    const owner = randomBytes(16).toString("base64url");
    return (await this.redis((r) => r.set(this.lockKey(id), owner, "PX", ms, "NX"))) ? owner : null;
  }

  /** Whether the lock is held, and by whom. */
  async lockOwner(id: string): Promise<string | null> {
    return this.redis((r) => r.get(this.lockKey(id)));
  }

  /** Releases the lock only if `owner` still holds it (compare and delete in one script). */
  async unlock(id: string, owner: string): Promise<void> {
    await this.redis((r) => r.eval(RELEASE_LOCK, 1, this.lockKey(id), owner));
  }

  /**
   * Moves every record of the earlier layout to the new one (SCAN, never
   * KEYS), for an upgrade that should not wait for each session's next
   * request. Returns how many were moved.
   */
  async moveAllLegacy(onProgress?: (moved: number) => void): Promise<number> {
    let moved = 0;
    const legacyId = new RegExp(
      `^${this.options.prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}sess:([A-Za-z0-9_-]{22})$`,
    );
    await this.redis(async (r) => {
      const nodes = "nodes" in r ? r.nodes("master") : [r];
      for (const node of nodes) {
        let cursor = "0";
        do {
          const [next, keys] = await node.scan(cursor, "MATCH", `${this.options.prefix}sess:*`, "COUNT", 1000);
          cursor = next;
          for (const key of keys) {
            const id = legacyId.exec(key)?.[1];
            if (id && (await this.moveLegacy(id))) moved++;
          }
          onProgress?.(moved);
        } while (cursor !== "0");
      }
    });
    return moved;
  }

  /** One MULTI per index key: add, prune entries past their absolute lifetime, extend the key's TTL. */
  private async addToIndexes(id: string, data: Hot) {
    const expiresAt = data.expiresAt;
    if (!expiresAt) return;
    const [byUser] = await this.redis((r) =>
      Promise.all(
        this.indexKeys(data).map((key) =>
          results(
            r
              .multi()
              .zadd(key, expiresAt, id)
              .zremrangebyscore(key, "-inf", epochSeconds())
              .expire(key, this.options.maxAge),
          ),
        ),
      ),
    );
    this.expired("absolute", Number(byUser?.[1] ?? 0));
  }

  private expired(reason: "idle" | "absolute", count: number) {
    if (count > 0) this.options.onExpired?.(reason, count);
  }

  /**
   * Finds signed-in sessions that ended inside Redis and takes them out of
   * their user's index, reporting each once (`onExpired`): an entry whose
   * records are gone ended by its idle timeout (or its absolute lifetime, when
   * that has passed too); one past its absolute lifetime whose records are
   * still there (a read slides the idle timeout past it) has them deleted now.
   *
   * Bounded work per call: SCAN over the user indexes (every primary of a
   * Cluster) goes on from where the last call stopped (the cursor is kept in
   * Redis, so instances share one pass) and stops once it has examined
   * `budget` keys; a full pass takes (keys in Redis / budget) calls. One
   * instance at a time: a lock held for `lockMs`; undefined when another
   * instance holds it.
   */
  async sweep(lockMs: number, budget = 10_000): Promise<{ idle: number; absolute: number } | undefined> {
    const { prefix } = this.options;
    const taken = await this.redis((r) => r.set(`${prefix}lock:sweep`, "1", "PX", Math.max(1, lockMs), "NX"));
    if (!taken) return undefined;
    const counts = { idle: 0, absolute: 0 };
    const cursorKey = `${prefix}sweep:cursor`;
    await this.redis(async (r) => {
      const nodes = "nodes" in r ? r.nodes("master") : [r];
      const cursors = parse<Record<string, string>>(await r.get(cursorKey)) ?? {};
      for (const node of nodes) {
        const name = `${node.options.host}:${node.options.port}`;
        let cursor = cursors[name] ?? "0";
        let examined = 0;
        do {
          const [next, keys] = await node.scan(cursor, "MATCH", `${prefix}sub:*`, "COUNT", 1_000);
          cursor = next;
          examined += 1_000;
          for (const key of keys) {
            const swept = await this.sweepIndex(r, key);
            counts.idle += swept.idle;
            counts.absolute += swept.absolute;
          }
        } while (cursor !== "0" && examined < budget / nodes.length);
        cursors[name] = cursor;
      }
      await r.set(cursorKey, JSON.stringify(cursors), "EX", 86_400);
    });
    this.expired("idle", counts.idle);
    this.expired("absolute", counts.absolute);
    return counts;
  }

  private async sweepIndex(r: RedisClient, key: string) {
    const counts = { idle: 0, absolute: 0 };
    const flat = await r.zrange(key, "0", "-1", "WITHSCORES");
    const entries: Array<{ id: string; expiresAt: number }> = [];
    for (let i = 0; i < flat.length; i += 2) entries.push({ id: flat[i]!, expiresAt: Number(flat[i + 1]) });
    const ours = entries.filter(({ id }) => SESSION_ID_PATTERN.test(id));
    // One key per EXISTS: a legacy record's key is in another Cluster slot.
    const alive = await Promise.all(
      ours.map(
        async ({ id }) =>
          (await r.exists(this.hotKey(id))) > 0 ||
          (this.options.fromLegacy !== undefined && (await r.exists(this.legacyKey(id))) > 0),
      ),
    );
    const now = epochSeconds();
    await Promise.all(
      ours.map(async ({ id, expiresAt }, i) => {
        const pastLifetime = expiresAt <= now;
        if (alive[i] && !pastLifetime) return;
        if (alive[i]) {
          await r.del(this.hotKey(id), this.coldKey(id));
          if (this.options.fromLegacy) await r.del(this.legacyKey(id));
        }
        if ((await r.zrem(key, id)) === 1) counts[pastLifetime ? "absolute" : "idle"]++;
      }),
    );
    return counts;
  }

  private async removeFromIndexes(sessions: ReadonlyArray<{ id: string; data: Hot }>) {
    await this.redis((r) =>
      Promise.all(sessions.flatMap(({ id, data }) => this.indexKeys(data).map((key) => r.zrem(key, id)))),
    );
  }
}

function parse<T>(raw: string | null | undefined): T | null {
  if (typeof raw !== "string") return null;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return null;
  }
}
