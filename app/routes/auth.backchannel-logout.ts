/**
 * OpenID Connect Back-Channel Logout 1.0 endpoint (§2.5, §2.8): the provider
 * POSTs `logout_token`; 200 when valid (also when the sessions were already
 * gone), 400 with a JSON error when not, 503 when it may retry, never cached
 * (Cache-Control: no-store is set on every response by server/index.ts).
 */
import type { ActionFunctionArgs } from "@remix-run/node";
import { backchannelLogout } from "~/oidc/backchannel-logout.server.ts";
import { logger } from "~/platform/logger.server.ts";
import { answerErrors } from "~/web/http-errors.server.ts";

export function loader() {
  return Response.json(
    { error: "invalid_request", error_description: "POST a logout_token" },
    { status: 405, headers: { Allow: "POST" } },
  );
}

export const action = answerErrors(async ({ request }: ActionFunctionArgs) => {
  const form = await request.formData().catch(() => new FormData());
  const token = form.get("logout_token");
  const ended = await backchannelLogout(typeof token === "string" ? token : "");
  logger.info({ sessionsEnded: ended }, `[backchannel-logout] ended ${ended} session(s)`);
  return Response.json({});
}, "oauth");
