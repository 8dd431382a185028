/**
 * Debian's redis-server in the shapes production runs it, started on free
 * loopback ports for one test file from redis/redis.conf: a Redis Cluster
 * (primaries with replicas), a primary with a replica watched by three
 * Sentinels, and a TLS-only server with an ACL user. Each node can be killed
 * (SIGKILL, as a crash) to force a failover; the Sentinel replica's link to
 * its primary can go through a proxy that holds the replication stream back.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { REDIS_CONF } from "../../redis/local-redis.ts";
import { freePort } from "./ports.ts";

export interface RedisNode {
  port: number;
  process: ChildProcess;
  output(): string;
  /** SIGKILL: no shutdown, no final fsync, as when a machine dies. */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${lastError}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Distinct free ports (a port just released can be handed out again). */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

async function spawnRedis(args: string[], ready: RegExp, port: number): Promise<RedisNode> {
  const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const collect = (b: Buffer) => (output = (output + b.toString()).slice(-20_000));
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const onExit = () => child.kill("SIGKILL");
  process.once("exit", onExit);
  try {
    await until(
      `redis-server on port ${port} (${ready})`,
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited:\n${output}`);
        return ready.test(output);
      },
      10_000,
    );
  } catch (error) {
    child.kill("SIGKILL"); // not left running when it was not ready in time
    await exited;
    throw error;
  }
  const end = async (signal: NodeJS.Signals) => {
    process.off("exit", onExit);
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return { port, process: child, output: () => output, crash: () => end("SIGKILL"), stop: () => end("SIGTERM") };
}

function tempDir(name: string) {
  return mkdtempSync(path.join(os.tmpdir(), `rro-${name}-`));
}

/**
 * A data node from a copy of redis/redis.conf in its own directory: Redis
 * rewrites its config file when a Sentinel reconfigures it (CONFIG REWRITE),
 * and must not rewrite the project's.
 */
async function dataNode(parent: string, port: number, args: string[]): Promise<RedisNode> {
  const dir = path.join(parent, String(port));
  mkdirSync(dir);
  const conf = path.join(dir, "redis.conf");
  copyFileSync(REDIS_CONF, conf);
  return spawnRedis([conf, "--port", String(port), "--dir", dir, ...args], /Ready to accept connections/, port);
}

/** A short-lived client to one node, closed after `work`. */
async function withNode<T>(port: number, work: (redis: Redis) => Promise<T>) {
  const redis = new Redis({
    host: "127.0.0.1",
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}

/** INFO replication of one node. */
export function replicationInfo(port: number): Promise<string> {
  return withNode(port, (r) => r.info("replication"));
}

export interface TestCluster {
  nodes: RedisNode[];
  /** REDIS_CLUSTER_NODES for the app: every node, host:port. */
  seeds: string;
  /** The node serving a key's slot now (asks a live node for CLUSTER SLOTS). */
  primaryFor(key: string): Promise<RedisNode>;
  /** Waits until every slot is served again and `key`'s slot has moved off `from`, and returns the new primary. */
  failedOver(key: string, from: RedisNode): Promise<RedisNode>;
  /** Every key on every live primary. */
  keys(): Promise<string[]>;
  stop(): Promise<void>;
}

function liveNodes(nodes: RedisNode[]) {
  return nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
}

type SlotRange = [number, number, [string, number, ...unknown[]], ...unknown[]];

/** A Redis Cluster of `primaries` primaries, each with one replica; a node is judged failed after 1 s. */
export async function startRedisCluster(primaries = 3): Promise<TestCluster> {
  const dir = tempDir("cluster");
  const ports = await freePorts(primaries * 4); // a client port and a cluster-bus port per node
  const nodes: RedisNode[] = [];
  for (let i = 0; i < primaries * 2; i++) {
    const [port, busPort] = [ports[2 * i]!, ports[2 * i + 1]!];
    const clusterArgs = [
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      "nodes.conf",
      "--cluster-node-timeout",
      "1000",
    ];
    nodes.push(await dataNode(dir, port, [...clusterArgs, "--cluster-port", String(busPort)]));
  }
  const create = spawnSync(
    "redis-cli",
    ["--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", "1", "--cluster-yes"],
    { encoding: "utf8", timeout: 30_000 },
  );
  if (create.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}\n${create.stderr}`);

  const slots = (node: RedisNode) => withNode(node.port, (r) => r.call("CLUSTER", "SLOTS") as Promise<SlotRange[]>);
  const slotOf = (key: string) =>
    withNode(liveNodes(nodes)[0]!.port, (r) => r.call("CLUSTER", "KEYSLOT", key) as Promise<number>);
  const healthy = async () => {
    for (const node of liveNodes(nodes)) {
      const info = await withNode(node.port, (r) => r.call("CLUSTER", "INFO") as Promise<string>);
      if (!/cluster_state:ok/.test(info)) return false;
      const replication = await replicationInfo(node.port);
      if (/role:slave/.test(replication) && !/master_link_status:up/.test(replication)) return false;
    }
    return true;
  };
  await until("the cluster to be ok, replicas in sync", healthy, 30_000);

  const primaryFor = async (key: string) => {
    const slot = await slotOf(key);
    const range = (await slots(liveNodes(nodes)[0]!)).find(([from, to]) => slot >= from && slot <= to);
    const node = nodes.find((n) => n.port === range?.[2][1]);
    if (!node) throw new Error(`no node serves slot ${slot}`);
    return node;
  };
  return {
    nodes,
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(","),
    primaryFor,
    async failedOver(key, from) {
      return until(
        `a replica to take over from 127.0.0.1:${from.port}`,
        async () => {
          const node = await primaryFor(key);
          return node !== from && (await healthy()) && node;
        },
        30_000,
      );
    },
    async keys() {
      const all: string[] = [];
      for (const node of liveNodes(nodes)) {
        const replication = await replicationInfo(node.port);
        if (/role:master/.test(replication)) all.push(...(await withNode(node.port, (r) => r.keys("*"))));
      }
      return all.sort();
    },
    async stop() {
      for (const node of nodes) await node.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The replica's connection to its primary, through a proxy on loopback: the
 * replication stream (primary to replica) can be held back, as a slow
 * network or a busy replica would, while the replica keeps answering reads.
 */
export interface ReplicationLink {
  /** Keeps what the primary sends from now on, in order, instead of passing it on. */
  hold(): void;
  /** Passes on what was kept, and everything after. */
  release(): void;
  /** Drops the link and what it kept, as a primary's crash would: the replica never gets it. */
  cut(): void;
  close(): Promise<void>;
}

async function startReplicationLink(port: number, primaryPort: number): Promise<ReplicationLink> {
  const links = new Set<{ up: net.Socket; down: net.Socket; kept: Buffer[] }>();
  let holding = false;
  let cut = false;
  const server = net.createServer((down) => {
    if (cut) return void down.destroy();
    const link = { up: net.connect(primaryPort, "127.0.0.1"), down, kept: [] as Buffer[] };
    links.add(link);
    link.up.on("data", (chunk: Buffer) => (holding ? link.kept.push(chunk) : down.write(chunk)));
    down.on("data", (chunk: Buffer) => link.up.write(chunk));
    const close = () => {
      link.up.destroy();
      down.destroy();
      links.delete(link);
    };
    // No Nagle delay on the way (Redis itself sets TCP_NODELAY on its replication links).
    for (const socket of [link.up, down]) socket.setNoDelay(true).on("error", close).on("close", close);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const cutLinks = () => {
    cut = true;
    for (const link of links) {
      link.kept = [];
      link.up.destroy();
      link.down.destroy();
    }
  };
  return {
    hold: () => void (holding = true),
    release() {
      holding = false;
      for (const link of links) for (const chunk of link.kept.splice(0)) link.down.write(chunk);
    },
    cut: cutLinks,
    async close() {
      cutLinks();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface TestSentinel {
  primary: RedisNode;
  replica: RedisNode;
  sentinels: RedisNode[];
  master: string;
  /** REDIS_SENTINELS for the app. */
  sentinelList: string;
  /** The replica's link to the primary, when started with `holdableReplication`. */
  replication: ReplicationLink | undefined;
  /** The port of the primary the Sentinels name now. */
  primaryPort(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A primary and its replica, watched by three Sentinels (quorum 2) that fail
 * over 1 s after the primary stops answering. `holdableReplication`: the
 * replica replicates through a ReplicationLink (and the Sentinels' failover
 * timeout is long enough that they leave its address alone meanwhile).
 */
export async function startRedisSentinel(
  master = "rro-primary",
  { holdableReplication = false } = {},
): Promise<TestSentinel> {
  const dir = tempDir("sentinel");
  const [primaryPort, replicaPort, linkPort, ...sentinelPorts] = await freePorts(6);
  const primary = await dataNode(dir, primaryPort!, []);
  const replication = holdableReplication ? await startReplicationLink(linkPort!, primaryPort!) : undefined;
  const replica = await dataNode(dir, replicaPort!, [
    "--replicaof",
    "127.0.0.1",
    String(holdableReplication ? linkPort : primaryPort),
  ]);
  const sentinels: RedisNode[] = [];
  for (const port of sentinelPorts) {
    const conf = path.join(dir, `sentinel-${port}.conf`); // Sentinel rewrites its config file: one each
    writeFileSync(
      conf,
      [
        `port ${port}`,
        "bind 127.0.0.1",
        `dir ${dir}`,
        `sentinel monitor ${master} 127.0.0.1 ${primaryPort} 2`,
        `sentinel down-after-milliseconds ${master} 1000`,
        // A Sentinel points a replica that replicates from another address than the primary's (the link) back at
        // the primary once this has passed since it last reconfigured it; a failover does not wait for it.
        `sentinel failover-timeout ${master} ${holdableReplication ? 300_000 : 5000}`,
        "",
      ].join("\n"),
    );
    sentinels.push(await spawnRedis([conf, "--sentinel"], /\+monitor master/, port));
  }
  const primaryPortNow = () =>
    withNode(sentinels.find((s) => s.process.exitCode === null && s.process.signalCode === null)!.port, async (r) => {
      const [, port] = (await r.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", master)) as [string, string];
      return Number(port);
    });
  // Failover needs every Sentinel to know the replica and the other Sentinels (they meet through the primary, every 2 s).
  await until(
    "the Sentinels to know the replica and each other",
    async () => {
      for (const s of sentinels) {
        const fields = await withNode(s.port, (r) => r.call("SENTINEL", "MASTER", master) as Promise<string[]>);
        const get = (name: string) => fields[fields.indexOf(name) + 1];
        if (get("num-slaves") !== "1" || get("num-other-sentinels") !== "2") return false;
      }
      const replication = await replicationInfo(replica.port);
      return /master_link_status:up/.test(replication);
    },
    30_000,
  );
  return {
    primary,
    replica,
    sentinels,
    master,
    sentinelList: sentinels.map((s) => `127.0.0.1:${s.port}`).join(","),
    replication,
    primaryPort: primaryPortNow,
    async stop() {
      for (const node of [...sentinels, replica, primary]) await node.stop();
      await replication?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestTlsRedis {
  node: RedisNode;
  /** PEM file of the CA that signed the server's certificate (NODE_EXTRA_CA_CERTS for the app). */
  caFile: string;
  user: string;
  password: string;
  /** A client as the app connects: TLS verified against the CA, the ACL user, database `db`. */
  client(db: number): Redis;
  stop(): Promise<void>;
}

function openssl(args: string[], cwd: string) {
  const result = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (result.status !== 0)
    throw new Error(
      `openssl ${args.join(" ")} failed (is openssl installed? npm run setup installs it):\n${result.stderr}`,
    );
}

/**
 * A Redis that accepts only TLS (certificate for 127.0.0.1 signed by a CA made
 * here), with the default user off and one ACL user limited to `rro:*` keys.
 */
export async function startTlsRedis(): Promise<TestTlsRedis> {
  const dir = tempDir("tls");
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "1",
      "-subj",
      "/CN=rro test CA",
    ],
    dir,
  );
  openssl(
    [
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
      "-subj",
      "/CN=127.0.0.1",
    ],
    dir,
  );
  writeFileSync(path.join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl(
    [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.crt",
      "-days",
      "1",
      "-extfile",
      "san.ext",
    ],
    dir,
  );
  const [port] = await freePorts(1);
  const [user, password] = ["rro-app", "acl-password-0123456789"];
  const file = (name: string) => path.join(dir, name);
  const node = await dataNode(dir, port!, [
    "--port",
    "0",
    "--tls-port",
    String(port),
    "--tls-cert-file",
    file("server.crt"),
    "--tls-key-file",
    file("server.key"),
    "--tls-ca-cert-file",
    file("ca.crt"),
    "--tls-auth-clients",
    "no",
    "--user",
    "default",
    "off",
    "--user",
    user,
    "on",
    `>${password}`,
    "~rro:*",
    "+@all",
    "-@admin",
  ]);
  const caFile = path.join(dir, "ca.crt");
  return {
    node,
    caFile,
    user,
    password,
    client(db) {
      return new Redis({
        host: "127.0.0.1",
        port,
        username: user,
        password,
        db,
        tls: { ca: readFileSync(caFile) },
        maxRetriesPerRequest: 1,
      });
    },
    async stop() {
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
