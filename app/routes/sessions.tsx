import { data, redirect, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, useLoaderData } from "@remix-run/react";
import { logout, requireSignedInSession } from "~/auth/auth.server.ts";
import { endOtherSessions, listUserSessions } from "~/session/user-sessions.server.ts";
import { answerErrors } from "~/web/http-errors.server.ts";

export { headers } from "~/web/error-headers.ts";

export const meta: MetaFunction = () => [{ title: "Your sessions · remix-redis-oidc" }];

/** Protected: every browser signed in as this person. */
export const loader = answerErrors(async ({ request }: LoaderFunctionArgs) => {
  const session = await requireSignedInSession(request);
  const ended = new URL(request.url).searchParams.get("ended");
  return { sessions: await listUserSessions(session), ended: ended ? Number(ended) : null };
});

/** POST: end one other session, all others, or everywhere (this one too, at the provider as well). */
export const action = answerErrors(async ({ request }: ActionFunctionArgs) => {
  const session = await requireSignedInSession(request);
  const form = await request.formData();
  const intent = form.get("intent");
  if (intent === "end-everywhere") {
    await endOtherSessions(session, "all-others");
    return logout(request);
  }
  if (intent === "end-others") return redirect(`/sessions?ended=${await endOtherSessions(session, "all-others")}`);
  if (intent === "end" && typeof form.get("handle") === "string") {
    return redirect(`/sessions?ended=${await endOtherSessions(session, { handle: String(form.get("handle")) })}`);
  }
  throw data({ message: "Unknown request." }, { status: 400 });
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
