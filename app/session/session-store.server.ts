/**
 * The session store: the one module that knows what a session keeps in Redis
 * (in the manner of connect-redis). No other module builds these keys or
 * parses these values.
 *
 * | key                          | value                                   | TTL |
 * |------------------------------|-----------------------------------------|-----|
 * | `<prefix>sess:<id>`          | the record, JSON                        | idle timeout, capped by the cookie's expiry |
 * | `<prefix>sid:<sha256(sid)>`  | sorted set: ids of a provider session   | SESSION_MAX_AGE after its last add |
 * | `<prefix>sub:<sha256(sub)>`  | sorted set: ids of a user               | SESSION_MAX_AGE after its last add |
 * | `<prefix>lock:refresh:<id>`  | owner of a token refresh in progress    | the lock's lifetime |
 *
 * - ids are 128 random bits, base64url (22 characters); anything else is never sent to Redis;
 * - a read is one round trip, `GETEX … EX idle`, which also slides the idle timeout;
 * - a write's TTL is the smaller of the idle timeout and the time left until
 *   the cookie expires; zero or less deletes (as connect-redis does);
 * - an update never resurrects a session deleted meanwhile (`SET … XX`), so a
 *   logout in one tab cannot be undone by a write from another;
 * - index entries (score: the session's absolute expiry) are added before the
 *   record is written and removed after it is deleted, so a live session is
 *   always indexed; an entry left behind by a failure in between names no
 *   session and is dropped when found;
 * - every command touches one key, so all of it works unchanged on a Redis Cluster.
 *
 * docs/decisions/003-redis-keys-ttls-and-failures.md, 009-backchannel-logout.md, 011-redis-topologies.md
 */
import { createHash, randomBytes } from "node:crypto";
import type { RedisRunner } from "../platform/redis.server.ts";

export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

export function newSessionId(): string {
  return randomBytes(16).toString("base64url");
}

/** Seconds a record written now should live: the idle timeout, or less when the cookie expires sooner. */
export function ttlSeconds(idleTimeout: number, expires: Date | undefined, now = Date.now()): number {
  if (!expires) return idleTimeout;
  return Math.min(idleTimeout, Math.floor((expires.getTime() - now) / 1000));
}

/** What the store reads of a record to index it: who, which provider session, until when (epoch seconds). */
export interface Indexed {
  user?: { sub: string };
  sid?: string;
  expiresAt?: number;
}

/** Sessions of one provider session (`sid`) or of one user (`sub`). */
export type SessionQuery = { sid: string } | { sub: string };

export interface StoredSession<Data> {
  id: string;
  data: Data;
  /** Seconds left of its idle timeout (each read resets it to the full idle timeout). */
  ttl: number;
}

export interface RedisSessionStoreOptions {
  /** Runs a command, mapping outages to typed errors (platform/redis.server.ts). */
  redis: RedisRunner;
  /** Key prefix, e.g. "rro:" gives "rro:sess:<id>". */
  prefix: string;
  /** Sliding idle timeout, in seconds. */
  idleTimeout: number;
  /** The absolute session lifetime, in seconds: how long an index key outlives its last add. */
  maxAge: number;
}

const digest = (value: string) => createHash("sha256").update(value).digest("base64url");
const epochSeconds = () => Math.floor(Date.now() / 1000);
const RELEASE_LOCK = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

export class RedisSessionStore<Data extends Indexed> {
  readonly idleTimeout: number;
  private readonly redis: RedisRunner;
  private readonly prefix: string;
  private readonly maxAge: number;

  constructor(options: RedisSessionStoreOptions) {
    this.redis = options.redis;
    this.prefix = options.prefix;
    this.idleTimeout = options.idleTimeout;
    this.maxAge = options.maxAge;
  }

  private recordKey(id: string) {
    return `${this.prefix}sess:${id}`;
  }

  private indexKey(query: SessionQuery) {
    return "sid" in query ? `${this.prefix}sid:${digest(query.sid)}` : `${this.prefix}sub:${digest(query.sub)}`;
  }

  private indexKeys(data: Indexed): string[] {
    if (!data.user) return [];
    return [this.indexKey({ sub: data.user.sub }), ...(data.sid ? [this.indexKey({ sid: data.sid })] : [])];
  }

  private lockKey(id: string) {
    return `${this.prefix}lock:refresh:${id}`;
  }

  /** Stores a new session under a new id and returns the id. A TTL of zero or less stores nothing. One MULTI per index key, then SET NX. */
  async create(data: Data, ttl: number): Promise<string> {
    const body = JSON.stringify(data);
    for (;;) {
      const id = newSessionId();
      if (ttl <= 0) return id; // already expired: nothing to store
      await this.addToIndexes(id, data);
      if (await this.redis((r) => r.set(this.recordKey(id), body, "EX", ttl, "NX"))) return id;
      // A 128-bit collision is not expected; if it happens, the entries just added name someone else's session.
      await this.removeFromIndexes([{ id, data }]);
    }
  }

  /** The record, sliding its idle timeout (one GETEX); null when there is none or it is unreadable. */
  async read(id: string): Promise<Data | null> {
    if (!SESSION_ID_PATTERN.test(id)) return null; // not one of ours: no Redis call
    return parse<Data>(await this.redis((r) => r.getex(this.recordKey(id), "EX", this.idleTimeout)));
  }

  /** Replaces the record if it still exists (SET XX); a TTL of zero or less destroys it. */
  async update(id: string, data: Data, ttl: number): Promise<void> {
    if (!SESSION_ID_PATTERN.test(id)) return;
    if (ttl <= 0) return this.destroy(id, data);
    await this.redis((r) => r.set(this.recordKey(id), JSON.stringify(data), "EX", ttl, "XX"));
  }

  /**
   * Deletes the record, then its index entries. With the record's data at
   * hand, a DEL; without it, a GETDEL tells which index entries to remove.
   */
  async destroy(id: string, data?: Data): Promise<void> {
    if (!SESSION_ID_PATTERN.test(id)) return;
    if (data) return this.destroyMany([{ id, data }]);
    const stored = parse<Data>(await this.redis((r) => r.getdel(this.recordKey(id))));
    if (stored) await this.removeFromIndexes([{ id, data: stored }]);
  }

  /** Deletes sessions, then their index entries: if the second step fails, what is left names no session. */
  async destroyMany(sessions: ReadonlyArray<{ id: string; data: Data }>): Promise<void> {
    const ours = sessions.filter(({ id }) => SESSION_ID_PATTERN.test(id));
    if (ours.length === 0) return;
    await this.redis((r) => Promise.all(ours.map(({ id }) => r.del(this.recordKey(id)))));
    await this.removeFromIndexes(ours);
  }

  /**
   * The live sessions of a provider session or a user, read without touching
   * them (GET and TTL: their idle timers do not slide). Entries whose session
   * is gone (idle expiry) are dropped from the index on the way.
   */
  async list(query: SessionQuery): Promise<StoredSession<Data>[]> {
    const key = this.indexKey(query);
    const ids = await this.redis((r) => r.zrangebyscore(key, epochSeconds(), "+inf"));
    if (ids.length === 0) return [];
    // One command per key (they may live on different Cluster nodes); ioredis sends them without waiting in between.
    const replies = await this.redis((r) =>
      Promise.all(ids.map((id) => Promise.all([r.get(this.recordKey(id)), r.ttl(this.recordKey(id))]))),
    );
    const sessions: StoredSession<Data>[] = [];
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const [raw, ttl] = replies[i]!;
      const data = ttl >= 0 ? parse<Data>(raw) : null;
      if (data) sessions.push({ id, data, ttl });
      else gone.push(id); // expired, or unreadable: treated as gone
    });
    if (gone.length) await this.redis((r) => r.zrem(key, ...gone));
    return sessions;
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

  /** One MULTI per index key: add, prune expired entries, extend the key's TTL. */
  private async addToIndexes(id: string, data: Data) {
    const expiresAt = data.expiresAt;
    if (!expiresAt) return;
    await this.redis((r) =>
      Promise.all(
        this.indexKeys(data).map((key) =>
          r
            .multi()
            .zadd(key, expiresAt, id)
            .zremrangebyscore(key, "-inf", epochSeconds())
            .expire(key, this.maxAge)
            .exec(),
        ),
      ),
    );
  }

  private async removeFromIndexes(sessions: ReadonlyArray<{ id: string; data: Data }>) {
    await this.redis((r) =>
      Promise.all(sessions.flatMap(({ id, data }) => this.indexKeys(data).map((key) => r.zrem(key, id)))),
    );
  }
}

function parse<Data>(raw: string | null | undefined): Data | null {
  if (typeof raw !== "string") return null;
  try {
    return JSON.parse(raw) as Data;
  } catch {
    return null;
  }
}
