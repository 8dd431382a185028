/**
 * Requests per client address, counted in Redis so that every instance
 * shares one count (rate-limiter-flexible, fixed windows): sign-in starts,
 * callbacks, logouts and back-channel logout requests. Beyond a limit the
 * answer is a 429 with Retry-After (app/web/http-errors.server.ts). The
 * sign-in limit is also the ceiling on the pre-sign-in state one address can
 * create in Redis: at most RATE_LIMIT_SIGN_IN records of ~0.5 KB, each gone
 * after 10 minutes.
 *
 * An IPv6 client is counted by its /64, the block one subscriber usually
 * holds, so that walking through its own addresses gains nothing. While
 * Redis is unreachable each instance counts in its own memory with the same
 * limits (the insurance limiter): the limits hold per instance instead of
 * across them, and nothing waits for Redis. Why: docs/decisions/016-request-limits-rate-limits-and-metrics.md
 */
import { isIPv4, isIPv6 } from "node:net";
import { remember } from "@epic-web/remember";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { getEnv } from "../platform/env.server.ts";
import { metrics } from "../platform/metrics.server.ts";
import { firstConnection, getRedis } from "../platform/redis.server.ts";

export type LimitName = "sign_in" | "callback" | "logout" | "backchannel";

/** Window of each limit, seconds. */
const WINDOWS: Record<LimitName, number> = { sign_in: 600, callback: 600, logout: 600, backchannel: 60 };

const WHAT: Record<LimitName, string> = {
  sign_in: "sign-in attempts",
  callback: "sign-in callbacks",
  logout: "sign-outs",
  backchannel: "logout notifications",
};

export class RateLimitedError extends Error {
  readonly code = "rate_limited";
  constructor(
    readonly limit: LimitName,
    /** Seconds until the next request would be allowed. */
    readonly retryAfter: number,
  ) {
    const minutes = Math.ceil(retryAfter / 60);
    super(
      `Too many ${WHAT[limit]} from your network address. Please try again in ${minutes === 1 ? "a minute" : `${minutes} minutes`}.`,
    );
    this.name = "RateLimitedError";
  }
}

/** The part of a client address that is counted: an IPv4 address as it is, an IPv6 one by its first 64 bits. */
export function clientKey(address: string | undefined): string {
  if (!address) return "unknown";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIPv4(address) || !isIPv6(address)) return address;
  const [head = "", tail = ""] = address.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = address.includes("::")
    ? [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}

type Limiters = Partial<Record<LimitName, RateLimiterRedis>>;

const limiters = (): Limiters =>
  remember("rro:rate-limiters", () => {
    const env = getEnv();
    const points: Record<LimitName, number> = {
      sign_in: env.rateLimits.signIn,
      callback: env.rateLimits.callback,
      logout: env.rateLimits.logout,
      backchannel: env.rateLimits.backchannel,
    };
    const result: Limiters = {};
    for (const name of Object.keys(points) as LimitName[]) {
      if (points[name] === 0) continue; // 0: no limit
      const options = { points: points[name], duration: WINDOWS[name] };
      result[name] = new RateLimiterRedis({
        ...options,
        storeClient: getRedis(),
        keyPrefix: `${env.redisKeyPrefix}rate:${name}`,
        // Once over the limit, this instance stops asking Redis until the window ends.
        inMemoryBlockOnConsumed: options.points + 1,
        insuranceLimiter: new RateLimiterMemory(options),
      });
    }
    return result;
  });

/** Counts one request against `limit` for this client address; throws RateLimitedError beyond it. */
export async function rateLimit(limit: LimitName, clientIp: string | undefined): Promise<void> {
  const limiter = limiters()[limit];
  if (!limiter) return;
  await firstConnection(); // as every Redis use does: the very first request waits briefly for the connection
  try {
    await limiter.consume(clientKey(clientIp));
  } catch (outcome) {
    if (!(outcome instanceof RateLimiterRes)) throw outcome;
    metrics().rateLimited.inc({ limit });
    throw new RateLimitedError(limit, Math.max(1, Math.ceil(outcome.msBeforeNext / 1000)));
  }
}
