import { data, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { displayName, getSignedInSession } from "~/auth/auth.server.ts";
import { readSignedOutNotice, type SignedOutNotice } from "~/auth/signed-out-notice.server.ts";
import { getEnv } from "~/platform/env.server.ts";
import { logoutStateCookie } from "~/session/session.server.ts";
import { answerErrors } from "~/web/http-errors.server.ts";
import { ProfileIncomplete } from "~/web/profile-incomplete.tsx";

export { headers } from "~/web/error-headers.ts";

export const meta: MetaFunction = () => [{ title: "remix-redis-oidc" }];

export const loader = answerErrors(async ({ request }: LoaderFunctionArgs) => {
  const session = await getSignedInSession(request);
  const { notice, setCookie } = session
    ? { notice: null, setCookie: undefined }
    : await readSignedOutNotice(request, logoutStateCookie());
  const user = session?.get("user");
  return data(
    {
      name: user ? displayName(user) : null,
      profileIncomplete: Boolean(session?.get("profileIncomplete")),
      notice,
      provider: getEnv().oidc.issuer.host,
    },
    { headers: setCookie ? { "Set-Cookie": setCookie } : {} },
  );
});

const NOTICES: Record<SignedOutNotice, { tone: "ok" | "warn"; text: (provider: string) => string }> = {
  provider: {
    tone: "ok",
    text: (p) => `You are signed out of this app and your session at the provider (${p}) has ended too.`,
  },
  "provider-returned": {
    tone: "warn",
    text: (p) =>
      `You are signed out of this app. The provider (${p}) sent you back, but this app cannot tell whether your session there has ended: the sign-out was sent to it as a form post, which some providers' session cookies do not accompany. If signing in again does not ask for your password, sign out at the provider too.`,
  },
  unconfirmed: {
    tone: "warn",
    text: (p) =>
      `You are signed out of this app. We sent you to the provider's sign-out page (${p}), but it came back without confirming, so we cannot tell whether your session there has ended.`,
  },
  "state-mismatch": {
    tone: "warn",
    text: () =>
      "You are signed out of this app. The provider sent you back with a logout state this app did not issue (or it expired), so we cannot confirm that the provider's session ended.",
  },
  unsupported: {
    tone: "warn",
    text: (p) =>
      `You are signed out of this app, but your provider (${p}) publishes no end-session endpoint, so your session there may still be active: sign out at the provider too. (An administrator can set OIDC_END_SESSION_URL.)`,
  },
  "provider-unreachable": {
    tone: "warn",
    text: (p) =>
      `You are signed out of this app, but the provider (${p}) could not be reached to end your session there, which may still be active: sign out at the provider too.`,
  },
  "no-session": { tone: "ok", text: () => "You were not signed in, so there was nothing to sign out of." },
};

export default function Index() {
  const { name, notice, provider, profileIncomplete } = useLoaderData<typeof loader>();
  return (
    <>
      {notice ? (
        <p className={`notice ${NOTICES[notice].tone === "warn" ? "warn" : ""}`} role="status" data-notice={notice}>
          {NOTICES[notice].text(provider)}
        </p>
      ) : null}
      <h1>Sessions in Redis, sign-in with OpenID Connect</h1>
      <p>
        This app keeps your session in Redis. Your browser holds only a small signed cookie with a random session id;
        the provider's tokens never leave the server. Signing out ends the session here and at the provider.
      </p>
      {name ? (
        <>
          <p>
            Signed in as <strong data-testid="user-name">{name}</strong>. <Link to="/account">See your session</Link>.
          </p>
          {profileIncomplete ? <ProfileIncomplete /> : null}
          <Form method="post" action="/logout" reloadDocument>
            <button type="submit">Sign out</button>
          </Form>
        </>
      ) : (
        <p>
          <Link className="button" to="/login">
            Sign in
          </Link>
        </p>
      )}
    </>
  );
}
