/**
 * Readiness for a load balancer or orchestrator: Redis answers PING (when
 * sessions live there) and the provider answers its discovery document, each
 * within a short timeout. The provider check is remembered for a few seconds,
 * so frequent probes do not turn into a stream of requests to the provider.
 */
import { remember } from "@epic-web/remember";
import { fetchDiscoveryCheck } from "../oidc/provider.server.ts";
import { withRedis } from "../platform/redis.server.ts";
import { sessionsLiveOnServer } from "../session/session.server.ts";

const PROVIDER_CHECK_TTL_MS = 5_000;

export interface Readiness {
  ready: boolean;
  checks: Record<"redis" | "provider", "ok" | string>;
}

async function redisCheck(): Promise<"ok" | string> {
  if (!sessionsLiveOnServer()) return "ok"; // the cookie design needs no Redis
  try {
    const pong = await withRedis((r) => r.ping()); // bounded by the client's command timeout (redis.server.ts)
    return pong === "PONG" ? "ok" : `unexpected reply ${pong}`;
  } catch (error) {
    return `unreachable: ${error instanceof Error ? error.message : error}`;
  }
}

const lastProviderCheck = remember("rro:provider-check", () => ({ at: 0, result: "" as "ok" | string }));

async function providerCheck(): Promise<"ok" | string> {
  if (lastProviderCheck.result && Date.now() - lastProviderCheck.at < PROVIDER_CHECK_TTL_MS)
    return lastProviderCheck.result;
  const result = await fetchDiscoveryCheck();
  Object.assign(lastProviderCheck, { at: Date.now(), result });
  return result;
}

export async function readiness(): Promise<Readiness> {
  const [redis, provider] = await Promise.all([redisCheck(), providerCheck()]);
  return { ready: redis === "ok" && provider === "ok", checks: { redis, provider } };
}
