import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { getSignedInSession, logout } from "~/utils/auth.server.ts";

export const meta: MetaFunction = () => [{ title: "Sign out · remix-redis-oidc" }];

/** GET changes nothing: it only asks. */
export async function loader({ request }: LoaderFunctionArgs) {
  return json({ signedIn: Boolean(await getSignedInSession(request)) }, { headers: { "Cache-Control": "no-store" } });
}

/** POST signs out here and at the provider. */
export async function action({ request }: ActionFunctionArgs) {
  return logout(request);
}

export default function Logout() {
  const { signedIn } = useLoaderData<typeof loader>();
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
