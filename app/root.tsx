import type { LinksFunction } from "@remix-run/node";
import { Link, Links, Meta, Outlet, Scripts, ScrollRestoration, useRouteError } from "@remix-run/react";
import type { ReactNode } from "react";
import styles from "./styles.css?url";
import { errorNotice } from "./web/error-notice.ts";
import { useNonce } from "./web/nonce.ts";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: styles },
  { rel: "icon", href: "/favicon.ico" },
];

export { headers } from "./web/error-headers.ts";

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

const TITLES: Record<number, string> = { 503: "Temporarily unavailable", 404: "Page not found", 403: "Refused" };

/** Every error page: a plain message, never a stack trace. */
export function ErrorBoundary() {
  const { status, message } = errorNotice(useRouteError());
  const title = TITLES[status] ?? "Something went wrong";
  return (
    <>
      <title>{title}</title>
      <h1>{title}</h1>
      <p className="notice error">{message}</p>
      <p>
        <Link to="/">Back to the home page</Link>
      </p>
    </>
  );
}
