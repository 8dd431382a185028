/**
 * Readiness for a load balancer or orchestrator: Redis answers PING and the
 * provider answers its discovery document, each within a short timeout. The
 * provider check is remembered for a few seconds, so frequent probes do not
 * turn into a stream of requests to the provider.
 */
import { getEnv } from "./env.server.ts";
import { withRedis } from "./redis.server.ts";

const TIMEOUT_MS = 2_000;
const PROVIDER_CHECK_TTL_MS = 5_000;

export interface Readiness {
  ready: boolean;
  checks: Record<"redis" | "provider", "ok" | string>;
}

declare global {
  var __rroProviderCheck: { at: number; result: "ok" | string } | undefined;
}

async function redisCheck(): Promise<"ok" | string> {
  if (getEnv().sessionStore !== "redis") return "ok";
  try {
    const pong = await withRedis((r) => r.ping()); // bounded by the client's command timeout (redis.server.ts)
    return pong === "PONG" ? "ok" : `unexpected reply ${pong}`;
  } catch (error) {
    return `unreachable: ${error instanceof Error ? error.message : error}`;
  }
}

/** Whether the provider answers its discovery document now (also the start-up probe in server/index.ts). */
export async function fetchDiscoveryCheck(): Promise<"ok" | string> {
  const issuer = getEnv().oidc.issuer;
  const url = new URL(".well-known/openid-configuration", issuer.href.endsWith("/") ? issuer : `${issuer.href}/`);
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await response.body?.cancel();
    return response.ok ? "ok" : `discovery answered HTTP ${response.status}`;
  } catch (error) {
    return `unreachable: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : error}`;
  }
}

async function providerCheck(): Promise<"ok" | string> {
  const cached = globalThis.__rroProviderCheck;
  if (cached && Date.now() - cached.at < PROVIDER_CHECK_TTL_MS) return cached.result;
  const result = await fetchDiscoveryCheck();
  globalThis.__rroProviderCheck = { at: Date.now(), result };
  return result;
}

export async function readiness(): Promise<Readiness> {
  const [redis, provider] = await Promise.all([redisCheck(), providerCheck()]);
  return { ready: redis === "ok" && provider === "ok", checks: { redis, provider } };
}
