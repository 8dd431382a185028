import { json, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, useActionData, useLoaderData } from "@remix-run/react";
import { getSignedInSession, returnPath, signInFailure, startSignIn } from "~/utils/auth.server.ts";
import { getEnv } from "~/utils/env.server.ts";

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
    return signInFailure(error);
  }
}

export default function Login() {
  const { returnTo, provider } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <>
      <h1>Sign in</h1>
      {result?.message ? (
        <p className="notice error" role="alert" data-code={result.code}>
          {result.message}
        </p>
      ) : null}
      <p>You will be sent to your OpenID provider ({provider}) to sign in, then brought back here.</p>
      <Form method="post" action={`/login?${new URLSearchParams({ returnTo })}`} reloadDocument>
        <button type="submit">Sign in with {provider}</button>
      </Form>
    </>
  );
}
