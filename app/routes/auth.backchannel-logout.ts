/**
 * OpenID Connect Back-Channel Logout 1.0 endpoint (§2.5, §2.8): the provider
 * POSTs `logout_token` as a form; 200 when valid (also when the sessions were
 * already gone), 400 with a JSON error naming what was wrong when not, 503
 * only when it may retry (the provider's keys, discovery or Redis out of
 * reach), never cached (Cache-Control: no-store is set on every response by
 * server/index.ts). The checks and their order: app/oidc/backchannel-logout.server.ts.
 */
import type { ActionFunctionArgs } from "@remix-run/node";
import { backchannelLogout, readLogoutToken } from "~/oidc/backchannel-logout.server.ts";
import { logger } from "~/platform/logger.server.ts";
import { metrics } from "~/platform/metrics.server.ts";
import { answerErrors } from "~/web/http-errors.server.ts";
import { rateLimit } from "~/web/rate-limits.server.ts";

const ONLY_POST = { error: "invalid_request", error_description: "POST a logout_token" };

export function loader() {
  return Response.json(ONLY_POST, { status: 405, headers: { Allow: "POST" } });
}

const handle = answerErrors(async ({ request, context }: ActionFunctionArgs) => {
  // Remix runs actions for PUT, PATCH and DELETE too (the server refuses those before Remix; this holds without it).
  if (request.method !== "POST") return loader();
  await rateLimit("backchannel", context.clientIp);
  const ended = await backchannelLogout(await readLogoutToken(request));
  logger.info({ sessionsEnded: ended }, `[backchannel-logout] ended ${ended} session(s)`);
  metrics().backchannelLogouts.inc({ outcome: ended > 0 ? "ended" : "no_session" });
  return Response.json({});
}, "oauth");

/** Counted by outcome: the answer's status says which (answerErrors turned any refusal into a Response). */
export async function action(args: ActionFunctionArgs) {
  try {
    return await handle(args);
  } catch (answer) {
    if (answer instanceof Response) {
      const outcome = answer.status === 429 ? "rate_limited" : answer.status < 500 ? "refused" : "unavailable";
      metrics().backchannelLogouts.inc({ outcome });
    }
    throw answer;
  }
}
