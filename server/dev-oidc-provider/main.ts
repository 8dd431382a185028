/**
 * CLI: starts the embedded development OpenID provider standalone, configured
 * from environment variables, e.g. `npx tsx server/dev-oidc-provider/main.ts`.
 *
 *   DEV_OIDC_PORT                  default 4000 (listens on 127.0.0.1 only)
 *   OIDC_CLIENT_ID                 default remix-redis-oidc
 *   OIDC_CLIENT_SECRET             default dev-client-secret-change-me
 *   OIDC_REDIRECT_URI              default http://localhost:3000/auth/callback
 *   OIDC_POST_LOGOUT_REDIRECT_URI  default http://localhost:3000/
 *   OIDC_TOKEN_AUTH_METHOD         default client_secret_basic (or client_secret_post, or private_key_jwt:
 *                                  the keys fetched from /auth/jwks.json at OIDC_REDIRECT_URI's origin)
 *
 * Prints `dev OpenID provider listening at <issuer>` when ready and closes
 * cleanly on SIGINT/SIGTERM.
 */
import { startDevProvider } from "./index.ts";

function env(name: string, fallback: string): string {
  const value = process.env[name]?.trim();
  return value ? value : fallback;
}

function fail(message: string): never {
  console.error(`dev OpenID provider: ${message}`);
  process.exit(1);
}

const portText = env("DEV_OIDC_PORT", "4000");
const port = Number(portText);
if (!/^\d+$/.test(portText) || !Number.isInteger(port) || port > 65535) {
  fail(`DEV_OIDC_PORT must be an integer between 0 and 65535, got ${JSON.stringify(portText)}`);
}

const authMethod = env("OIDC_TOKEN_AUTH_METHOD", "client_secret_basic");
if (authMethod !== "client_secret_basic" && authMethod !== "client_secret_post" && authMethod !== "private_key_jwt") {
  fail(
    `OIDC_TOKEN_AUTH_METHOD must be client_secret_basic, client_secret_post or private_key_jwt, got ${JSON.stringify(authMethod)}`,
  );
}
const redirectUri = env("OIDC_REDIRECT_URI", "http://localhost:3000/auth/callback");

try {
  const provider = await startDevProvider({
    port,
    client: {
      clientId: env("OIDC_CLIENT_ID", "remix-redis-oidc"),
      clientSecret: env("OIDC_CLIENT_SECRET", "dev-client-secret-change-me"),
      redirectUris: [redirectUri],
      postLogoutRedirectUris: [env("OIDC_POST_LOGOUT_REDIRECT_URI", "http://localhost:3000/")],
      backchannelLogoutUri: env("OIDC_BACKCHANNEL_LOGOUT_URI", "http://localhost:3000/auth/backchannel-logout"),
      tokenEndpointAuthMethod: authMethod,
      jwksUri: new URL("/auth/jwks.json", redirectUri).href,
    },
  });
  console.log(`dev OpenID provider listening at ${provider.issuer}`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    provider.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`dev OpenID provider: error while closing after ${signal}:`, err);
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
