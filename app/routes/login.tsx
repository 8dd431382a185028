import { redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, useLoaderData, useRouteError } from "@remix-run/react";
import { getSignedInSession, returnPath, startSignIn } from "~/auth/auth.server.ts";
import { getEnv } from "~/platform/env.server.ts";
import { answerErrors } from "~/web/http-errors.server.ts";
import { rateLimit } from "~/web/rate-limits.server.ts";
import { errorNotice } from "~/web/error-notice.ts";

export { headers } from "~/web/error-headers.ts";

export const meta: MetaFunction = () => [{ title: "Sign in · remix-redis-oidc" }];

export const loader = answerErrors(async ({ request }: LoaderFunctionArgs) => {
  const returnTo = returnPath(request);
  if (await getSignedInSession(request)) throw redirect(returnTo);
  return { returnTo, provider: getEnv().oidc.issuer.host };
});

/** POST: start the authorization code flow (the strategy throws the redirect to the provider). */
export const action = answerErrors(async ({ request, context }: ActionFunctionArgs) => {
  await rateLimit("sign_in", context.clientIp);
  return startSignIn(request);
});

function SignInForm({ returnTo, provider }: { returnTo: string; provider?: string }) {
  return (
    <Form method="post" action={`/login?${new URLSearchParams({ returnTo })}`} reloadDocument>
      <button type="submit">{provider ? `Sign in with ${provider}` : "Try again"}</button>
    </Form>
  );
}

export default function Login() {
  const { returnTo, provider } = useLoaderData<typeof loader>();
  return (
    <>
      <h1>Sign in</h1>
      <p>You will be sent to your OpenID provider ({provider}) to sign in, then brought back here.</p>
      <SignInForm returnTo={returnTo} provider={provider} />
    </>
  );
}

/** A sign-in that could not start (the provider unreachable…): why, and the button again. */
export function ErrorBoundary() {
  const { code, message } = errorNotice(useRouteError());
  return (
    <>
      <h1>Sign in</h1>
      <p className="notice error" role="alert" data-code={code}>
        {message}
      </p>
      <SignInForm returnTo="/account" />
    </>
  );
}
