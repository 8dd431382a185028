/**
 * What the server checks before and just after it listens, each with a line a
 * person can act on: the configuration (every problem listed, exit 1), Redis
 * (refused when too old; a warning when not reachable yet, as the app
 * recovers by itself), what a person should know (the cookie design is on, a
 * generated session secret), and whether the provider answers discovery.
 */
import { existsSync } from "node:fs";
import { EnvError, envFile, getEnv, type Env } from "../app/platform/env.server.ts";
import { logger, printReadableLogs } from "../app/platform/logger.server.ts";
import { checkRedisAtStartup } from "../app/platform/redis.server.ts";
import { fetchDiscoveryCheck, getOidcConfig } from "../app/oidc/provider.server.ts";
import { parNotOfferedProblem } from "../app/oidc/pushed-authorization.server.ts";
import { CLIENT_JWKS_PATH } from "./client-jwks.ts";
import { tracingStatus } from "./tracing-state.ts";

export const log = (line: string) => logger.info(`[server] ${line}`);

/**
 * A start-up failure: a fatal line in the JSON log, and the plain message on
 * stderr for the person starting the server (a configuration error lists one
 * problem a line, which JSON would fold into one).
 */
export function reportStartupFailure(message: string, fields: object = {}) {
  logger.fatal(fields, `[server] ${message}`);
  process.stderr.write(`${message}\n`);
}

/**
 * Loads ENV_FILE (default .env; variables already set win) and validates the
 * configuration, or exits 1 saying what to set. Development logs become readable.
 */
export async function loadConfiguration(): Promise<Env> {
  const file = envFile();
  if (file && existsSync(file)) process.loadEnvFile(file);
  try {
    const env = getEnv();
    logger.level = env.logLevel;
    if (!env.isProduction) await printReadableLogs();
    return env;
  } catch (error) {
    if (!(error instanceof EnvError)) throw error;
    reportStartupFailure(error.message, { problems: error.problems });
    process.exit(1);
  }
}

/** Whether traces are made (server/tracing.ts decided before the app loaded), and where they go; a warning when asked for and not made. */
export function reportTracing() {
  const { summary, warn } = tracingStatus();
  if (warn) logger.warn(`[server] ${summary}`);
  else log(summary);
}

/** Before listening: throws when Redis is too old; otherwise says what a person should know. */
export async function checkDependencies(env: Env) {
  if (env.sessionStore === "redis") {
    const redis = await checkRedisAtStartup(env);
    if (redis.problem) throw new Error(redis.problem);
    if (redis.warning) logger.warn(`[server] ${redis.warning}`);
  } else {
    log(
      "SESSION_STORE=cookie: sessions live in the cookie, tokens included (the design this project replaces; for comparison)",
    );
  }
  if (env.oidc.endSessionMethod === "post") {
    logger.warn(
      "[server] OIDC_END_SESSION_METHOD=post: the browser posts the logout to the provider from this site. A provider whose " +
        "session cookie is SameSite=Lax or Strict (LemonLDAP::NG by default, for one) gets no session with that post and cannot " +
        "end it; the app then says only that the provider sent the person back. Use it only with a provider whose session " +
        "cookie is SameSite=None; otherwise keep get (and OIDC_LOGOUT_HINT_CLAIM for large ID tokens). See docs/providers.md.",
    );
  }
  if (env.oidc.clientKeys.length > 0) {
    const [signing, ...others] = env.oidc.clientKeys;
    log(
      `client keys published at ${new URL(CLIENT_JWKS_PATH, env.appUrl).href}: ${signing!.kid} (${signing!.alg})` +
        `${env.oidc.tokenAuthMethod === "private_key_jwt" ? " signs" : ""}` +
        `${others.length ? `, also ${others.map((k) => k.kid).join(", ")}` : ""}`,
    );
  }
  if (env.oidc.par === "required") await checkPushedAuthorizationOffered(env);
  if (env.sessionSecretGenerated) {
    log(
      "SESSION_SECRET is not set: using a random one, so sessions end when the server restarts (npm run setup writes one to .env)",
    );
  }
}

/**
 * OIDC_PAR=required: refuses to start when the provider's discovery document
 * names no PAR endpoint. A provider that cannot be reached yet is not a
 * refusal (the app recovers by itself): sign-in then refuses until it offers PAR.
 */
async function checkPushedAuthorizationOffered(env: Env) {
  let metadata;
  try {
    metadata = (await getOidcConfig()).serverMetadata();
  } catch (error) {
    logger.warn(
      `[server] OIDC_PAR=required: the provider's discovery document could not be read to check for PAR ` +
        `(${error instanceof Error ? error.message : String(error)}); sign-in refuses until it offers pushed authorization requests`,
    );
    return;
  }
  if (typeof metadata.pushed_authorization_request_endpoint !== "string") {
    throw new Error(parNotOfferedProblem(env.oidc.issuer.href));
  }
  log(
    `OIDC_PAR=required: the provider offers pushed authorization requests at ${metadata.pushed_authorization_request_endpoint}`,
  );
}

/** Once listening: a clear line when the provider cannot be reached; the app retries at sign-in. */
export async function probeProvider(env: Env) {
  const result = await fetchDiscoveryCheck();
  if (result === "ok") return log(`OpenID provider ${env.oidc.issuer.href} answers discovery`);
  logger.warn(
    `[server] the OpenID provider's discovery document at ${env.oidc.issuer.href} could not be fetched (${result}). ` +
      "Sign-in will show an error and retry until it answers; check OIDC_ISSUER.",
  );
}
