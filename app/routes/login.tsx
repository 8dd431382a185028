import { json, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { getSignedInSession, returnPath, startSignIn } from "~/utils/auth.server.ts";
import { getEnv } from "~/utils/env.server.ts";
import { SignInError } from "~/utils/oidc-strategy.server.ts";

export const meta: MetaFunction = () => [{ title: "Sign in · remix-redis-oidc" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const returnTo = returnPath(request);
  if (await getSignedInSession(request)) throw redirect(returnTo);
  return json({ returnTo, provider: getEnv().oidc.issuer.host });
}

/** POST: start the authorization code flow (the strategy throws the redirect to the provider). */
export async function action({ request }: ActionFunctionArgs) {
  try {
    return await startSignIn(request);
  } catch (error) {
    if (error instanceof SignInError) {
      console.error(`[sign-in] ${error.code}: ${error.cause instanceof Error ? error.cause.message : error.message}`);
      return json({ error: error.message }, { status: error.status });
    }
    throw error;
  }
}

export default function Login() {
  const { returnTo, provider } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <>
      <h1>Sign in</h1>
      {result?.error ? (
        <p className="notice error" role="alert">
          {result.error}
        </p>
      ) : null}
      <p>You will be sent to your OpenID provider ({provider}) to sign in, then brought back here.</p>
      <Form method="post" action={`/login?${new URLSearchParams({ returnTo })}`} reloadDocument>
        <button type="submit">Sign in with {provider}</button>
      </Form>
    </>
  );
}
