/**
 * The app on a real Redis Cluster (3 primaries, each with a replica, from
 * Debian's redis-server): sign-in, reads, the sessions page and a
 * back-channel logout (keys on different slots), logout leaving no key,
 * durable logouts (REDIS_WAIT_REPLICAS) waiting on the primary of the
 * session's slot, and a primary crashing: its replica takes over and nobody
 * is signed out.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { Browser } from "../support/browser.ts";
import { confirmProviderLogout, postLogout, signedInBrowser } from "../support/flows.ts";
import { replicationInfo, startRedisCluster, until, type TestCluster } from "../support/redis-topologies.ts";
import { restartApp, startStack, type Stack } from "../support/stack.ts";

let cluster: TestCluster;
let stack: Stack;
beforeAll(async () => {
  cluster = await startRedisCluster(3);
  stack = await startStack({ appEnv: { REDIS_URL: "", REDIS_CLUSTER_NODES: cluster.seeds } });
}, 90_000);
afterAll(async () => {
  await stack?.stop();
  await cluster?.stop();
});

async function signedIn(username: string) {
  const { browser, key, landed } = await signedInBrowser(stack.app.url, username);
  expect(landed.status).toBe(200);
  return { browser, key };
}
const account = async (browser: Browser) => {
  const response = await browser.request(`${stack.app.url}/account`);
  return { status: response.status, html: await response.text() };
};

it("signs in, reads and logs out, with sessions and their indexes spread over the primaries", async () => {
  const people = await Promise.all(["groups-1", "groups-2", "groups-3", "groups-4"].map(signedIn));
  const keys = await cluster.keys();
  for (const { key } of people) expect(keys).toContain(key);
  expect(keys.filter((k) => /^rro:(sub|sid):/.test(k))).toHaveLength(8); // a sub and a sid index per person
  const owners = new Set(await Promise.all(keys.map(async (k) => (await cluster.primaryFor(k)).port)));
  expect(owners.size).toBeGreaterThan(1); // 12 keys on one of 3 primaries by chance: (1/3)^11

  for (const { browser } of people) {
    expect((await account(browser)).status).toBe(200);
    const logout = await postLogout(browser, stack.app.url);
    expect(logout.status).toBe(302);
    expect((await account(browser)).status).toBe(302);
  }
  // Nothing of a session is left; the rate-limit counters of this address (one per limit) live out their window.
  expect((await cluster.keys()).filter((k) => !k.startsWith("rro:rate:"))).toEqual([]);
  expect((await cluster.keys()).sort()).toEqual([
    "rro:rate:callback:127.0.0.1",
    "rro:rate:logout:127.0.0.1",
    "rro:rate:sign_in:127.0.0.1",
  ]);
});

it("lists and ends a person's other sessions across slots", async () => {
  const [a, b, c] = [await signedIn("groups-5"), await signedIn("groups-5"), await signedIn("groups-5")];
  const page = await a.browser.navigate(`${stack.app.url}/sessions`);
  expect([...page.html.matchAll(/<tr data-current="(yes|no)">/g)]).toHaveLength(3);
  const ended = await a.browser.request(`${stack.app.url}/sessions`, {
    method: "POST",
    headers: { Origin: stack.app.url },
    form: { intent: "end-others" },
  });
  expect(ended.headers.get("Location")).toBe("/sessions?ended=2");
  expect([
    (await account(b.browser)).status,
    (await account(c.browser)).status,
    (await account(a.browser)).status,
  ]).toEqual([302, 302, 200]);
});

it("a logout on the provider's own page ends the session through a back-channel logout", async () => {
  const { browser, key } = await signedIn("groups-6");
  await confirmProviderLogout(browser, await browser.navigate(`${stack.provider.issuer}/session/end`));
  expect(await cluster.keys()).not.toContain(key);
  expect((await account(browser)).status).toBe(302);
});

/** The replica of a primary, as the replicas themselves say. */
async function replicaOf(primary: { port: number }) {
  for (const node of cluster.nodes) {
    if (node.process.exitCode !== null || node.process.signalCode !== null) continue;
    const info = await replicationInfo(node.port);
    if (/role:slave/.test(info) && new RegExp(`master_port:${primary.port}\\b`).test(info)) return node;
  }
  throw new Error(`no replica of 127.0.0.1:${primary.port}`);
}

it("with REDIS_WAIT_REPLICAS=1, waits for a replica of the primary of the session's slot, and no other", async () => {
  const WAIT_MS = 200;
  await restartApp(stack, {
    REDIS_URL: "",
    REDIS_CLUSTER_NODES: cluster.seeds,
    REDIS_WAIT_REPLICAS: "1",
    REDIS_WAIT_TIMEOUT: String(WAIT_MS),
  });
  const warnings = () => stack.app.stdout().split("replicas acknowledged").length - 1;
  try {
    // Two people whose sessions live on one primary, two whose sessions live on others.
    const people: Array<Awaited<ReturnType<typeof signedIn>>> = [];
    const here: typeof people = [];
    const elsewhere: typeof people = [];
    let frozenPrimary: Awaited<ReturnType<typeof cluster.primaryFor>> | undefined;
    for (let i = 0; (here.length < 2 || elsewhere.length < 2) && i < 60; i++) {
      const person = await signedIn(`groups-${20 + i}`);
      people.push(person);
      const primary = await cluster.primaryFor(person.key);
      frozenPrimary ??= primary;
      (primary === frozenPrimary ? here : elsewhere).push(person);
    }
    expect([here.length >= 2, elsewhere.length >= 2]).toEqual([true, true]);
    here.splice(2);
    elsewhere.splice(2);
    const replica = await replicaOf(frozenPrimary!);

    replica.process.kill("SIGSTOP"); // that primary's replica acknowledges nothing until SIGCONT
    const timings: number[] = [];
    try {
      for (const person of [...here, ...elsewhere]) {
        const started = Date.now();
        expect((await postLogout(person.browser, stack.app.url)).status).toBe(302);
        timings.push(Date.now() - started);
      }
    } finally {
      replica.process.kill("SIGCONT");
    }
    // Each logout on the frozen replica's primary waited out its WAIT and said so; the others were acknowledged.
    expect(warnings()).toBe(2);
    expect(timings.slice(0, 2).every((ms) => ms >= WAIT_MS - 20)).toBe(true);
    const keys = await cluster.keys();
    for (const { key } of [...here, ...elsewhere]) expect(keys).not.toContain(key);
    for (const { browser } of [...here, ...elsewhere]) expect((await account(browser)).status).toBe(302);
    await until("the replica to catch up", async () =>
      /master_link_status:up/.test(await replicationInfo(replica.port)),
    );
    for (const { browser } of people.filter((p) => !here.includes(p) && !elsewhere.includes(p)))
      await postLogout(browser, stack.app.url);
  } finally {
    await restartApp(stack, { REDIS_URL: "", REDIS_CLUSTER_NODES: cluster.seeds });
  }
});

it("survives a primary crashing: its replica takes over and nobody is signed out", async () => {
  const alice = await signedIn("alice");
  const bystander = await signedIn("groups-7");
  const primary = await cluster.primaryFor(alice.key);
  // Replication is asynchronous: a write in the last instant before a crash can be lost. Wait until the replica has it.
  const replicas = cluster.nodes.filter((n) => n !== primary);
  await until("the replica to hold the session", async () => {
    for (const node of replicas) {
      if (/master_port:(\d+)/.exec(await replicationInfo(node.port))?.[1] !== String(primary.port)) continue;
      return (
        /master_repl_offset:(\d+)/.exec(await replicationInfo(node.port))?.[1] ===
        /master_repl_offset:(\d+)/.exec(await replicationInfo(primary.port))?.[1]
      );
    }
    return false;
  });

  await primary.crash();
  const crashed = Date.now();
  const during = await account(alice.browser);
  expect([200, 503]).toContain(during.status); // 503 until the cluster has promoted the replica: never a sign-out
  const promoted = await cluster.failedOver(alice.key, primary);
  expect(promoted).not.toBe(primary);

  const back = await until("the app to read the session from the promoted replica", async () => {
    const page = await account(alice.browser);
    if (page.status === 503) return false;
    return page;
  });
  console.log(`[cluster] failover: app served the session again ${Date.now() - crashed} ms after the primary crashed`);
  expect(back.status).toBe(200);
  expect(back.html).toContain("Alice");
  expect((await account(bystander.browser)).status).toBe(200);

  // Writes go to the new primary: a fresh sign-in and a logout both work.
  const late = await signedIn("groups-8");
  expect((await postLogout(late.browser, stack.app.url)).status).toBe(302);
  expect((await postLogout(alice.browser, stack.app.url)).status).toBe(302);
  expect((await account(alice.browser)).status).toBe(302);
  expect(stack.app.process.exitCode).toBeNull();
});
