import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { completeSignIn, signInFailure } from "~/utils/auth.server.ts";

export const meta: MetaFunction = () => [{ title: "Sign-in failed · remix-redis-oidc" }];

/** The provider's redirect back: completes sign-in, or shows why it could not, creating no session. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  try {
    return await completeSignIn(request, context.clientIp);
  } catch (error) {
    return signInFailure(error);
  }
}

export default function SignInFailed() {
  const { code, message } = useLoaderData<typeof loader>();
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
