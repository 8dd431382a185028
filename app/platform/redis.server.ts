/**
 * The one Redis connection of this process (ioredis), created on first use
 * and kept across development reloads: one server, a primary found through
 * Sentinel, or a Cluster (docs/decisions/011-redis-topologies.md).
 *
 * Failure behaviour is deliberate (docs/decisions/003-redis-keys-ttls-and-failures.md):
 * no offline queue, so while Redis is down a command fails at once instead of
 * piling up; a bounded command timeout; reconnection every ≤ 500 ms, so
 * service returns by itself within a second of Redis coming back.
 *
 * With REDIS_WAIT_REPLICAS, a second connection carries the deletes that end
 * sessions and the WAIT after them (docs/operations.md#durable-logouts-on-replicated-redis):
 * WAIT blocks the connection it is sent on, and must not hold up page views.
 */
import { remember } from "@epic-web/remember";
import { Cluster, Redis, ReplyError, type ClusterOptions, type Command, type RedisOptions } from "ioredis";
import { getEnv, type Env } from "./env.server.ts";
import { logger } from "./logger.server.ts";
import { metrics } from "./metrics.server.ts";

/** One server or a Cluster: the commands the app uses are the same on both. */
export type RedisClient = Redis | Cluster;

export class RedisUnavailableError extends Error {
  readonly code = "redis_unavailable";
  constructor(cause: unknown) {
    super(`Redis is unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "RedisUnavailableError";
  }
}

/** A reply that is not an outage (NOAUTH, WRONGTYPE, unknown command…): a bug or a misconfiguration. */
export class RedisCommandError extends Error {
  readonly code = "redis_command_failed";
  constructor(cause: Error) {
    super(`Redis refused a command: ${cause.message}`, { cause });
    this.name = "RedisCommandError";
  }
}

/** Where Redis is, for log lines: hosts and ports, never the password. */
export function describeRedis(env: Pick<Env, "redisUrl" | "redisTopology">): string {
  const topology = env.redisTopology;
  const hosts = (list: Array<{ host: string; port: number }>) => list.map((h) => `${h.host}:${h.port}`).join(",");
  if (topology.kind === "sentinel") return `Sentinel ${hosts(topology.sentinels)} (primary "${topology.master}")`;
  if (topology.kind === "cluster") return `Cluster ${hosts(topology.nodes)}`;
  return env.redisUrl.replace(/\/\/[^@]*@/, "//***@");
}

/** Credentials, database and TLS from REDIS_URL, for the Sentinel and Cluster modes (their hosts come from their own lists). */
function urlOptions(redisUrl: string): RedisOptions {
  const url = new URL(redisUrl);
  const db = url.pathname.replace(/^\//, "");
  return {
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(url.protocol === "rediss:" ? { tls: {} } : {}),
  };
}

const FAILURE_OPTIONS = {
  // RESP2, as ioredis 5 spoke: the app needs nothing of RESP3, and RESP3 costs a HELLO that some proxies refuse.
  protocol: 2,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2_000,
  commandTimeout: 2_000,
  retryStrategy: (attempt: number) => Math.min(attempt * 100, 500),
  // After a failover, a connection left on a demoted primary gets READONLY: reconnect (Sentinel finds the new one).
  reconnectOnError: (error: Error) => /^READONLY/.test(error.message),
} satisfies RedisOptions;

/** A client for the configured topology. `overrides` apply to every connection (the start-up check gives up at once). */
export function connectRedis(env: Pick<Env, "redisUrl" | "redisTopology">, overrides: RedisOptions = {}): RedisClient {
  const topology = env.redisTopology;
  if (topology.kind === "cluster") {
    const options: ClusterOptions = {
      enableOfflineQueue: false,
      clusterRetryStrategy: FAILURE_OPTIONS.retryStrategy,
      // Ask the cluster for its slots again soon after a node fails, so a promoted replica is found quickly.
      slotsRefreshInterval: 1_000,
      redisOptions: { ...FAILURE_OPTIONS, ...urlOptions(env.redisUrl), db: undefined, ...overrides },
    };
    return new Cluster(topology.nodes, options);
  }
  if (topology.kind === "sentinel") {
    const fromUrl = urlOptions(env.redisUrl);
    return new Redis({
      ...FAILURE_OPTIONS,
      ...fromUrl,
      sentinels: topology.sentinels,
      name: topology.master,
      sentinelPassword: topology.sentinelPassword,
      enableTLSForSentinelMode: Boolean(fromUrl.tls),
      sentinelRetryStrategy: FAILURE_OPTIONS.retryStrategy,
      // Sentinel tells clients of a failover: switch at once rather than when the old primary's connection breaks.
      failoverDetector: true,
      ...overrides,
    });
  }
  return new Redis(env.redisUrl, { ...FAILURE_OPTIONS, ...overrides });
}

/**
 * Times every command the client sends, pipelined ones included (ioredis
 * sends each through `sendCommand`), into rro_redis_command_duration_seconds
 * and rro_redis_command_errors_total.
 */
export function measureCommands(client: RedisClient): void {
  const { redisCommandDuration, redisCommandErrors } = metrics();
  const send = client.sendCommand.bind(client) as (command: Command, ...rest: unknown[]) => unknown;
  (client as { sendCommand: typeof send }).sendCommand = (command, ...rest) => {
    const labels = { command: command.name };
    const end = redisCommandDuration.startTimer(labels);
    command.promise.then(
      () => end(),
      (error: unknown) => {
        end();
        redisCommandErrors.inc({ ...labels, kind: error instanceof ReplyError ? "reply" : "connection" });
      },
    );
    return send(command, ...rest);
  };
}

/** The app's client; its commands are timed when metrics are served (METRICS_PORT, METRICS_TOKEN). */
export function createRedisClient(
  env: Pick<Env, "redisUrl" | "redisTopology" | "metrics">,
  { overrides = {}, label = "" }: { overrides?: RedisOptions; label?: string } = {},
): RedisClient {
  const client = connectRedis(env, overrides);
  if (env.metrics.port !== undefined || env.metrics.token !== undefined) measureCommands(client);
  let down = false;
  client.on("error", (error: Error) => {
    if (down) return; // one line per outage, not one per reconnect attempt
    down = true;
    logger.error(`[redis] ${describeRedis(env)} unreachable${label}: ${error.message}; retrying`);
  });
  client.on("ready", () => {
    if (down) logger.info("[redis] connection restored");
    down = false;
    everReady.add(client);
  });
  // ioredis can stop reconnecting for good ("Connection is closed." from then on): when a Sentinel announces
  // a failover (failoverDetector) while a reconnection is asking a Sentinel for the primary, it ends the
  // connection instead of retrying. Unless this process is closing it, start again.
  client.on("end", () => {
    if (closing.has(client)) return;
    if (!down) logger.error(`[redis] ${describeRedis(env)}${label}: the client stopped reconnecting; starting again`);
    down = true;
    setTimeout(() => {
      if (!closing.has(client) && client.status === "end") client.connect().catch(() => {});
    }, RECONNECT_AFTER_END_MS);
  });
  return client;
}

/** Clients this process is closing: their end is not an outage. */
const closing = new WeakSet<RedisClient>();
const RECONNECT_AFTER_END_MS = 500;

/** Created on first use; shared by the server entry and the Remix bundle (two module graphs), and kept across development reloads. */
const connection = remember("rro:redis", () => ({
  client: undefined as RedisClient | undefined,
  waiting: undefined as RedisClient | undefined,
}));

export function getRedis(): RedisClient {
  if (connection.client) return connection.client;
  connection.client = createRedisClient(getEnv());
  // The connection for WAIT is made with it, not at the first logout: connecting to a Cluster can take
  // seconds when a node is slow to answer CLUSTER SLOTS, and a logout should not pay for that.
  if (getEnv().redisWait.replicas > 0) getWaitingRedis();
  return connection.client;
}

/**
 * The connection that carries the deletes ending sessions and the `WAIT`
 * after them (REDIS_WAIT_REPLICAS > 0); made on first use. Its own, because
 * WAIT blocks the connection it is sent on until the replicas answer or the
 * timeout passes: on the shared one, a lagging replica would hold up every
 * request of the process. Its command timeout leaves room for the WAIT.
 */
function getWaitingRedis(): RedisClient {
  const env = getEnv();
  connection.waiting ??= createRedisClient(env, {
    overrides: { commandTimeout: FAILURE_OPTIONS.commandTimeout + env.redisWait.timeoutMs },
    label: " (connection for WAIT)",
  });
  return connection.waiting;
}

/** At shutdown: sends QUIT once the commands in flight are answered. Does nothing if no client was ever made. */
export async function closeRedis(): Promise<void> {
  const clients = [connection.client, connection.waiting];
  connection.client = connection.waiting = undefined;
  await Promise.all(clients.map((client) => client && closeRedisClient(client)));
}

/** Closes a client of createRedisClient for good (QUIT once the commands in flight are answered): it is not started again. */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  closing.add(client);
  await client.quit().catch(() => {});
}

const FIRST_CONNECT_WAIT_MS = 1_000;
/** Clients that have been connected once: their reconnections are outages, answered at once. */
const everReady = new WeakSet<RedisClient>();

/**
 * While the very first connection is being made, wait for it briefly (there is
 * no offline queue). Only the first: a request arriving during a reconnection
 * attempt after an outage gets its 503 at once rather than a second later.
 */
export async function firstConnection(redis: RedisClient = getRedis()): Promise<void> {
  if (everReady.has(redis) || !["wait", "connecting", "connect"].includes(redis.status)) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, FIRST_CONNECT_WAIT_MS);
    function done() {
      clearTimeout(timer);
      redis.off("ready", done).off("end", done);
      resolve();
    }
    redis.once("ready", done).once("end", done);
  });
}

/**
 * Replies that mean "not now" (loading, failing over, full, too few replicas
 * for `min-replicas-to-write`) rather than a bug or a misconfiguration.
 */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|READONLY|TRYAGAIN|OOM|NOREPLICAS)\b/;

/**
 * Runs a Redis operation, turning outages (no connection, timeouts, transient
 * replies) into RedisUnavailableError; other replies (NOAUTH, WRONGTYPE,
 * unknown command…) into RedisCommandError, which ends as a 500.
 */
export function withRedis<T>(operation: (redis: RedisClient) => Promise<T>): Promise<T> {
  return run(getRedis(), operation);
}

/** As `withRedis`, on the connection kept for deletes followed by WAIT (see getWaitingRedis). */
export function withWaitingRedis<T>(operation: (redis: RedisClient) => Promise<T>): Promise<T> {
  return run(getWaitingRedis(), operation);
}

async function run<T>(redis: RedisClient, operation: (redis: RedisClient) => Promise<T>): Promise<T> {
  try {
    if (!everReady.has(redis)) await firstConnection(redis); // once connected, no extra await per operation
    return await operation(redis);
  } catch (error) {
    if (error instanceof ReplyError && !TRANSIENT_REPLY.test((error as Error).message))
      throw new RedisCommandError(error as Error);
    throw new RedisUnavailableError(error);
  }
}

/** The app needs Redis 6.2 or newer (GETEX). Returns a message when `info` (INFO server) shows an older one. */
export function redisVersionProblem(info: string): string | undefined {
  const version = /^redis_version:(\d+)\.(\d+)/m.exec(info);
  if (!version) return undefined;
  const [major, minor] = [Number(version[1]), Number(version[2])];
  if (major > 6 || (major === 6 && minor >= 2)) return undefined;
  return `Redis ${major}.${minor} found; this app needs Redis 6.2 or newer (it reads sessions with GETEX). Upgrade Redis or point REDIS_URL at a newer one.`;
}

/** At start-up: a clear line if Redis is unreachable (the app starts anyway and recovers), an error if it is too old. */
export async function checkRedisAtStartup(
  env: Pick<Env, "redisUrl" | "redisTopology">,
): Promise<{ problem?: string; warning?: string }> {
  const client = connectRedis(env, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    reconnectOnError: () => false,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    return { problem: redisVersionProblem(String(await client.info("server"))) };
  } catch (error) {
    return {
      warning: `Redis (${describeRedis(env)}) is not reachable yet (${error instanceof Error ? error.message : error}); pages that need a session answer 503 until it is.`,
    };
  } finally {
    client.disconnect();
  }
}
