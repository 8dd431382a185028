import { type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, useLoaderData } from "@remix-run/react";
import { decodeJwt } from "jose";
import { displayName, requireSignedInSession } from "~/auth/auth.server.ts";
import { readTokens, storedBytes } from "~/session/session.server.ts";
import { answerErrors } from "~/web/http-errors.server.ts";
import { ProfileIncomplete } from "~/web/profile-incomplete.tsx";

export { headers } from "~/web/error-headers.ts";

export const meta: MetaFunction = () => [{ title: "Your session · remix-redis-oidc" }];

const byteLength = (s: string | null | undefined) => (s ? new TextEncoder().encode(s).length : 0);

/** Protected: who is signed in and what the session holds (never the raw tokens). */
export const loader = answerErrors(async ({ request }: LoaderFunctionArgs) => {
  const session = await requireSignedInSession(request);
  const { user, signedInAt, expiresAt, accessTokenExpiresAt } = session.data;
  // The one page besides logout and refresh that reads the tokens: the record every request reads has none.
  const [{ idToken, accessToken, refreshToken }, stored] = await Promise.all([
    readTokens(session),
    storedBytes(session),
  ]);
  // The ID token was validated at sign-in and is stored server-side: decoding it here is enough.
  const claims: Record<string, unknown> = idToken ? decodeJwt(idToken) : {};
  const groups = Array.isArray(claims.groups) ? claims.groups.map(String) : [];
  const shownClaims = Object.entries(claims)
    .filter(([name]) => name !== "groups")
    .map(([name, value]) => [name, typeof value === "string" ? value : JSON.stringify(value)] as const);
  return {
    name: user ? displayName(user) : "",
    claims: shownClaims,
    groups,
    times: { signedInAt, expiresAt, accessTokenExpiresAt },
    idTokenExpiresAt: typeof claims.exp === "number" ? claims.exp : undefined,
    tokens: {
      idToken: byteLength(idToken),
      accessToken: byteLength(accessToken),
      refreshToken: byteLength(refreshToken),
    },
    cookieHeaderBytes: byteLength(request.headers.get("Cookie")),
    stored,
    profileIncomplete: Boolean(session.data.profileIncomplete),
  };
});

const time = (epochSeconds: number | undefined) => (epochSeconds ? new Date(epochSeconds * 1000).toISOString() : "—");

export default function Account() {
  const data = useLoaderData<typeof loader>();
  return (
    <>
      <h1>
        Signed in as <span data-testid="user-name">{data.name}</span>
      </h1>
      {data.profileIncomplete ? <ProfileIncomplete /> : null}
      <Form method="post" action="/logout" reloadDocument>
        <button type="submit">Sign out</button>
      </Form>

      <h2>What your browser sends</h2>
      <p>
        The <code>Cookie</code> header of this request was{" "}
        <strong data-testid="cookie-bytes">{data.cookieHeaderBytes}</strong> bytes.
        {data.stored ? (
          <>
            {" "}
            In Redis, the record every request reads is <strong data-testid="hot-bytes">{data.stored.hot}</strong>{" "}
            bytes; the tokens, read only where they are used (here, at sign-out and at refresh), take{" "}
            <strong data-testid="cold-bytes">{data.stored.cold}</strong> bytes, compressed. Neither leaves the server.
          </>
        ) : null}
      </p>

      <h2>Tokens held for you on the server</h2>
      <table>
        <tbody>
          <tr>
            <th>ID token</th>
            <td data-testid="id-token-bytes">{data.tokens.idToken} bytes</td>
            <td>expires {time(data.idTokenExpiresAt)}</td>
          </tr>
          <tr>
            <th>Access token</th>
            <td>{data.tokens.accessToken} bytes</td>
            <td>expires {time(data.times.accessTokenExpiresAt)}</td>
          </tr>
          <tr>
            <th>Refresh token</th>
            <td>{data.tokens.refreshToken ? `${data.tokens.refreshToken} bytes` : "none"}</td>
            <td />
          </tr>
          <tr>
            <th>Session</th>
            <td>signed in {time(data.times.signedInAt)}</td>
            <td>ends at the latest {time(data.times.expiresAt)}</td>
          </tr>
        </tbody>
      </table>

      <h2>Claims from the ID token</h2>
      <table>
        <tbody>
          {data.claims.map(([name, value]) => (
            <tr key={name}>
              <th>{name}</th>
              <td>
                <code>{value}</code>
              </td>
            </tr>
          ))}
          <tr>
            <th>groups</th>
            <td>
              <span data-testid="group-count">{data.groups.length}</span> groups
              {data.groups.length ? (
                <ul className="groups">
                  {data.groups.map((g) => (
                    <li key={g}>{g}</li>
                  ))}
                </ul>
              ) : null}
            </td>
          </tr>
        </tbody>
      </table>
    </>
  );
}
