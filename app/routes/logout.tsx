import { type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { useEffect, useRef } from "react";
import { getSignedInSession, logout } from "~/auth/auth.server.ts";
import { answerErrors } from "~/web/http-errors.server.ts";
import { rateLimit } from "~/web/rate-limits.server.ts";

export { headers } from "~/web/error-headers.ts";

export const meta: MetaFunction = () => [{ title: "Sign out · remix-redis-oidc" }];

/** GET changes nothing: it only asks. */
export const loader = answerErrors(async ({ request }: LoaderFunctionArgs) => {
  return { signedIn: Boolean(await getSignedInSession(request)) };
});

/** POST signs out here and at the provider. */
export const action = answerErrors(async ({ request, context }: ActionFunctionArgs) => {
  await rateLimit("logout", context.clientIp);
  return logout(request);
});

/** OIDC_END_SESSION_METHOD=post: the app session is already gone; this form takes the logout to the provider. */
function ContinueAtProvider({ action, fields }: { action: string; fields: Array<[string, string]> }) {
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => form.current?.submit(), []);
  return (
    <>
      <h1>Signing you out at your provider…</h1>
      <p>You are signed out of this app. Your browser is now ending your session at the provider.</p>
      <form ref={form} method="post" action={action} data-testid="end-session-form">
        {fields.map(([name, value]) => (
          <input key={name} type="hidden" name={name} value={value} />
        ))}
        <button type="submit">Continue to the provider</button>
      </form>
    </>
  );
}

export default function Logout() {
  const { signedIn } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  if (result && "endSession" in result) return <ContinueAtProvider {...result.endSession} />;
  return (
    <>
      <h1>Sign out?</h1>
      {signedIn ? (
        <p>This ends your session in this app and at your OpenID provider.</p>
      ) : (
        <p>You are not signed in.</p>
      )}
      <Form method="post" reloadDocument>
        <button type="submit">Sign out</button> <Link to="/">Cancel</Link>
      </Form>
    </>
  );
}
