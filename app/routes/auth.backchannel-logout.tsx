/**
 * OpenID Connect Back-Channel Logout 1.0 endpoint (§2.5, §2.8): the provider
 * POSTs `logout_token`; 200 when valid (also when the sessions were already
 * gone), 400 with a JSON error when not, never cached.
 */
import { json, type ActionFunctionArgs } from "@remix-run/node";
import { backchannelLogout, LogoutTokenError } from "~/utils/backchannel-logout.server.ts";
import { logger } from "~/utils/logger.server.ts";
import { ProviderUnavailableError } from "~/utils/oidc.server.ts";
import { RedisUnavailableError } from "~/utils/redis.server.ts";

// Cache-Control: no-store is set on every response by the server (server/index.ts).

export async function loader() {
  return json({ error: "invalid_request", error_description: "POST a logout_token" }, { status: 405, headers: { Allow: "POST" } });
}

export async function action({ request }: ActionFunctionArgs) {
  const form = await request.formData().catch(() => new FormData());
  const token = form.get("logout_token");
  try {
    const ended = await backchannelLogout(typeof token === "string" ? token : "");
    logger.info({ sessionsEnded: ended }, `[backchannel-logout] ended ${ended} session(s)`);
    return json({}, { status: 200 });
  } catch (error) {
    if (error instanceof LogoutTokenError) {
      logger.warn(`[backchannel-logout] refused: ${error.message}`); // the reason, never the token
      return json({ error: "invalid_request", error_description: error.message }, { status: 400 });
    }
    if (error instanceof RedisUnavailableError || error instanceof ProviderUnavailableError) {
      // Nothing was destroyed; the provider may retry.
      logger.error({ err: error }, `[backchannel-logout] ${error.message}`);
      return json({ error: "temporarily_unavailable" }, { status: 503, headers: { "Retry-After": "5" } });
    }
    throw error;
  }
}
