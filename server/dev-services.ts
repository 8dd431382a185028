/**
 * Development only: brings up what the configuration leaves out, so that
 * `npm run dev` works from nothing. No REDIS_URL: the local Redis from
 * redis/ (reused if one already answers on its port). No OIDC_ISSUER: the
 * embedded development provider with its demo users, with this app's client
 * registered. Returns what stops them.
 */
import type { Env } from "../app/platform/env.server.ts";
import { logger } from "../app/platform/logger.server.ts";
import { startLocalRedis } from "../redis/local-redis.ts";
import { CLIENT_JWKS_PATH } from "./client-jwks.ts";

const log = (line: string) => logger.info(`[server] ${line}`);

export async function startDevServices(env: Env): Promise<() => Promise<void>> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const stopOne of stops.reverse()) await stopOne().catch(() => {});
  };
  try {
    if (env.useLocalRedis) {
      const port = Number(new URL(env.redisUrl).port);
      const redis = await startLocalRedis({ port, dataDir: "redis/data", reuseRunning: true, log });
      stops.push(redis.stop);
    }
    if (env.oidc.useDevProvider) {
      // Imported only here: oidc-provider is a development dependency, absent from a production install.
      const { startDevProvider } = await import("./dev-oidc-provider/index.ts");
      const provider = await startDevProvider({
        port: env.oidc.devProviderPort,
        client: {
          clientId: env.oidc.clientId,
          clientSecret: env.oidc.clientSecret,
          redirectUris: [env.oidc.redirectUri.href],
          postLogoutRedirectUris: [env.oidc.postLogoutRedirectUri.href],
          backchannelLogoutUri: new URL("/auth/backchannel-logout", env.appUrl).href,
          tokenEndpointAuthMethod: env.oidc.tokenAuthMethod,
          // private_key_jwt: the provider fetches the app's public keys where the app publishes them.
          jwksUri: new URL(CLIENT_JWKS_PATH, env.appUrl).href,
        },
        log: (line) => logger.info(line), // its lines start with [dev-oidc]
      });
      stops.push(provider.close);
      log(`development OpenID provider at ${provider.issuer} (demo users: see README)`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return stop;
}
