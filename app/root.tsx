import type { HeadersFunction, LinksFunction } from "@remix-run/node";
import { isRouteErrorResponse, Link, Links, Meta, Outlet, Scripts, ScrollRestoration, useRouteError } from "@remix-run/react";
import type { ReactNode } from "react";
import { useNonce } from "./nonce.ts";
import styles from "./styles.css?url";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "icon", href: "/favicon.ico" },
];

/** Headers of a thrown response (e.g. Retry-After on a 503) reach the browser. */
export const headers: HeadersFunction = ({ errorHeaders }) => errorHeaders ?? {};

export function Layout({ children }: { children: ReactNode }) {
  const nonce = useNonce();
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <Meta />
        <Links />
      </head>
      <body>
        <header>
          <Link to="/">remix-redis-oidc</Link>
          <Link to="/account">Account</Link>
          <Link to="/sessions">Sessions</Link>
        </header>
        <main>{children}</main>
        <ScrollRestoration nonce={nonce} />
        <Scripts nonce={nonce} />
      </body>
    </html>
  );
}

export default function App() {
  return <Outlet />;
}

/** Every error page: a plain message, never a stack trace. */
export function ErrorBoundary() {
  const error = useRouteError();
  if (isRouteErrorResponse(error)) {
    const message =
      typeof error.data === "object" && error.data && "message" in error.data
        ? String(error.data.message)
        : typeof error.data === "string" && error.data
          ? error.data
          : error.statusText;
    const title =
      error.status === 503 ? "Temporarily unavailable" : error.status === 404 ? "Page not found" : error.status === 403 ? "Refused" : "Something went wrong";
    return (
      <>
        <title>{title}</title>
        <h1>{title}</h1>
        <p className="notice error">{message || `The request failed with status ${error.status}.`}</p>
        <p>
          <Link to="/">Back to the home page</Link>
        </p>
      </>
    );
  }
  return (
    <>
      <title>Something went wrong</title>
      <h1>Something went wrong</h1>
      <p className="notice error">An unexpected error happened on our side. It has been logged; please try again.</p>
      <p>
        <Link to="/">Back to the home page</Link>
      </p>
    </>
  );
}
