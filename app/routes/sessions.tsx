import { redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData, useRouteError } from "@remix-run/react";
import { logout, requireSignedInSession } from "~/auth/auth.server.ts";
import { endOtherSessions, isSessionHandle, listUserSessions } from "~/session/user-sessions.server.ts";
import { errorNotice } from "~/web/error-notice.ts";
import { answerErrors, readForm, RequestRefusal } from "~/web/http-errors.server.ts";

export { headers } from "~/web/error-headers.ts";

export const meta: MetaFunction = () => [{ title: "Your sessions · remix-redis-oidc" }];

/** Protected: every browser signed in as this person. */
export const loader = answerErrors(async ({ request }: LoaderFunctionArgs) => {
  const session = await requireSignedInSession(request);
  const ended = new URL(request.url).searchParams.get("ended");
  // The count this page's own redirect put there; anything else is not shown.
  return { sessions: await listUserSessions(session), ended: ended && /^\d{1,4}$/.test(ended) ? Number(ended) : null };
});

/** POST: end one other session, all others, or everywhere (this one too, at the provider as well). */
export const action = answerErrors(async ({ request }: ActionFunctionArgs) => {
  const session = await requireSignedInSession(request);
  const form = await readForm(request);
  const intent = form.get("intent");
  if (intent === "end-everywhere") {
    await endOtherSessions(session, "all-others");
    return logout(request);
  }
  if (intent === "end-others") return redirect(`/sessions?ended=${await endOtherSessions(session, "all-others")}`);
  if (intent === "end") {
    const handle = form.get("handle");
    if (typeof handle !== "string" || !isSessionHandle(handle)) {
      const message = "This form does not name a session as this page does. Nothing was changed.";
      throw new RequestRefusal(400, "invalid_session_handle", message, "warn");
    }
    const ended = await endOtherSessions(session, { handle });
    if (ended === 0) {
      const message =
        "That session is not one of your other sessions: it has ended already, or it is this browser's (use Sign out), or someone else's. Nothing was changed.";
      throw new RequestRefusal(404, "unknown_session", message, "warn");
    }
    return redirect(`/sessions?ended=${ended}`);
  }
  throw new RequestRefusal(400, "unknown_intent", "This page cannot do what the form asked. Nothing was changed.");
});

const time = (epochSeconds: number | null) =>
  epochSeconds ? new Date(epochSeconds * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "—";

export default function Sessions() {
  const { sessions, ended } = useLoaderData<typeof loader>();
  return (
    <>
      <h1>Your sessions</h1>
      {ended !== null ? (
        <p className="notice" role="status">
          Ended {ended} session{ended === 1 ? "" : "s"}.{" "}
          {ended ? "Those browsers are signed out at their next request." : ""}
        </p>
      ) : null}
      <table data-testid="sessions">
        <thead>
          <tr>
            <th>Browser</th>
            <th>Approximate address</th>
            <th>Signed in</th>
            <th>Last active</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {sessions.map((s) => (
            <tr key={s.handle} data-current={s.current ? "yes" : "no"}>
              <td>{s.device}</td>
              <td>{s.ip ?? "—"}</td>
              <td>{time(s.signedInAt)}</td>
              <td>{time(s.lastActiveAt)}</td>
              <td>
                {s.current ? (
                  <strong>This browser</strong>
                ) : (
                  <Form method="post" reloadDocument>
                    <input type="hidden" name="handle" value={s.handle} />
                    <button type="submit" name="intent" value="end" className="secondary">
                      Sign out this session
                    </button>
                  </Form>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        <Form method="post" reloadDocument className="inline">
          <button type="submit" name="intent" value="end-others" className="secondary">
            Sign out everywhere else
          </button>
        </Form>{" "}
        <Form method="post" reloadDocument className="inline">
          <button type="submit" name="intent" value="end-everywhere">
            Sign out everywhere
          </button>
        </Form>
      </p>
      <p>“Sign out everywhere” also ends your session at the provider, from this browser.</p>
    </>
  );
}

/** A refused form (a session that is not one of yours…) or a fault: what happened, and the way back. */
export function ErrorBoundary() {
  const { code, message } = errorNotice(useRouteError());
  return (
    <>
      <h1>Your sessions</h1>
      <p className="notice error" role="alert" data-code={code}>
        {message}
      </p>
      <p>
        <Link to="/sessions">Back to your sessions</Link>
      </p>
    </>
  );
}
