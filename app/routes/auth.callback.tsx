import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useRouteError } from "@remix-run/react";
import { completeSignIn } from "~/auth/auth.server.ts";
import { answerErrors } from "~/web/http-errors.server.ts";
import { rateLimit } from "~/web/rate-limits.server.ts";
import { errorNotice } from "~/web/error-notice.ts";

export { headers } from "~/web/error-headers.ts";

export const meta: MetaFunction = () => [{ title: "Sign-in failed · remix-redis-oidc" }];

/** The provider's redirect back: completes sign-in (a redirect), or throws why it could not, creating no session. */
export const loader = answerErrors(async ({ request, context }: LoaderFunctionArgs) => {
  await rateLimit("callback", context.clientIp);
  return completeSignIn(request, context.clientIp);
});

/** Only ever rendered as the failure page: a successful callback redirects. */
export default function Callback() {
  return null;
}

export function ErrorBoundary() {
  const { code, message } = errorNotice(useRouteError());
  return (
    <>
      <h1>Sign-in failed</h1>
      <p className="notice error" role="alert" data-code={code}>
        {message}
      </p>
      <p>No session was created.</p>
      <p>
        <Link className="button" to="/login">
          Try again
        </Link>
      </p>
    </>
  );
}
