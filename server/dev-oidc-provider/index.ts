/**
 * Public API of the embedded development OpenID provider: `startDevProvider`
 * starts an oidc-provider based OpenID Connect provider on 127.0.0.1 (never on
 * all interfaces) with one registered confidential client, our own login and
 * logout pages, and demo users (see accounts.ts).
 *
 * Because oidc-provider needs its issuer at construction time and the port may
 * be 0 (pick a free one), the HTTP server listens first, then the Provider is
 * built with issuer `http://127.0.0.1:<port>` and the Express app is attached
 * as the request handler.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { interactionRouter } from "./interactions.ts";
import { laxEndSessionPost, refuseEncodedBasicCredentials } from "./provider-quirks.ts";
import type { JWK } from "oidc-provider";
import { createMemoryAdapter } from "./memory-adapter.ts";
import { createProvider, generateSigningKey } from "./provider.ts";
import { errorPage } from "./views.ts";

export interface DevProviderOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  port: number;
  client: {
    clientId: string;
    clientSecret: string;
    redirectUris: string[];
    postLogoutRedirectUris: string[];
    tokenEndpointAuthMethod?: "client_secret_basic" | "client_secret_post" | "private_key_jwt"; // default client_secret_basic
    /** private_key_jwt: where the provider fetches the client's public keys. */
    jwksUri?: string;
    /** private_key_jwt: the client's public keys inline (wins over jwksUri). */
    jwks?: { keys: import("oidc-provider").JWK[] };
    /** Back-Channel Logout: where the provider POSTs logout tokens (sid included in ID tokens). */
    backchannelLogoutUri?: string;
  };
  /** Where to print the provider's own log lines; default console.log. */
  log?: (line: string) => void;
  /** Publish `end_session_endpoint` (RP-initiated logout). Default true; false imitates a provider without it. */
  rpInitiatedLogout?: boolean;
  /** The issuer to announce when the provider is reached through a proxy; default `http://127.0.0.1:<port>`. */
  issuer?: string;
  /** Accept POST at the end-session endpoint (needs SameSite=None cookies: HTTP-level tests only). Default false. */
  httpPostMethods?: boolean;
  /** A private signing JWK (RS256, with kid) instead of a fresh one: lets tests sign their own tokens. */
  signingKey?: import("oidc-provider").JWK;
  /**
   * Compare Basic client credentials as sent, without form-decoding them, as
   * Glewlwyd and LemonLDAP::NG do: `test%2Dclient` is then no client (401,
   * `WWW-Authenticate: Basic`). client_secret_post still works. Default false.
   */
  rawBasicCredentials?: boolean;
  /**
   * Accept POST at the end-session endpoint while the session cookie stays
   * SameSite=Lax, as LemonLDAP::NG does: a cross-site POST then carries no
   * session, and the provider sends the browser back without ending any.
   * Default false.
   */
  laxEndSessionPost?: boolean;
  /** Put the identity claims (name, email, groups…) only in userinfo, not in the ID token, as LemonLDAP::NG and Okta's org server do. */
  identityClaimsInUserinfoOnly?: boolean;
  /** Require a DPoP nonce in every DPoP proof (`use_dpop_nonce` challenges). Default false. */
  dpopNonces?: boolean;
  /** Offer pushed authorization requests (RFC 9126). Default true; false imitates a provider without them. */
  pushedAuthorizationRequests?: boolean;
}

export interface DevProvider {
  /** e.g. "http://127.0.0.1:4000" — no trailing slash; equal to the issuer in the discovery document. */
  issuer: string;
  /**
   * Signing-key rotation, for tests (no HTTP endpoint reaches it): from the
   * next request on, the first of `keys` (private JWKs, each with its own
   * `kid`) signs ID tokens and logout tokens and all of them are published at
   * `jwks_uri`. Sessions, grants, codes and sign-ins in progress are kept (a
   * new Provider is built over the same storage and cookie keys); the process
   * keeps running. Rotate by adding the new key first (`[next, current]`),
   * then retire the old one (`[next]`).
   */
  setSigningKeys(keys: JWK[]): void;
  close(): Promise<void>;
}

export { generateSigningKey } from "./provider.ts";
export { DEMO_USERS } from "./accounts.ts"; // [{ username, password, name, groupCount }] for README / tests

const HOST = "127.0.0.1";

function listen(server: http.Server, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen(port, HOST, () => {
      server.off("error", onError);
      const address = server.address();
      if (address === null || typeof address === "string") {
        reject(new Error("dev OpenID provider: unexpected server address"));
        return;
      }
      resolve(address);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => {
      // Closing twice is not an error for our callers.
      if (err && (err as NodeJS.ErrnoException).code !== "ERR_SERVER_NOT_RUNNING") reject(err);
      else resolve();
    });
    server.closeAllConnections();
  });
}

export async function startDevProvider(options: DevProviderOptions): Promise<DevProvider> {
  const log = options.log ?? ((line: string) => console.log(line));

  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new RangeError(`dev OpenID provider: invalid port ${String(options.port)}`);
  }

  // Until the provider exists (between listen and construction), answer 503.
  let handler: http.RequestListener | undefined;
  const server = http.createServer((req, res) => {
    if (handler) {
      handler(req, res);
      return;
    }
    res.statusCode = 503;
    res.setHeader("Retry-After", "1");
    res.end();
  });

  const address = await listen(server, options.port);
  const issuer = options.issuer ?? `http://${HOST}:${address.port}`;

  // Shared by every Provider this process builds (a key rotation builds a new
  // one): its storage and cookie keys, so sessions and grants carry over.
  const adapter = createMemoryAdapter();
  const cookieKeys = [randomBytes(32).toString("base64url")];

  const build = (signingKeys: JWK[]): express.Express => {
    const provider = createProvider({
      issuer,
      client: options.client,
      log,
      rpInitiatedLogout: options.rpInitiatedLogout,
      httpPostMethods: options.httpPostMethods,
      signingKeys,
      adapter,
      cookieKeys,
      identityClaimsInUserinfoOnly: options.identityClaimsInUserinfoOnly,
      dpopNonces: options.dpopNonces,
      pushedAuthorizationRequests: options.pushedAuthorizationRequests,
    });

    const app = express();
    app.disable("x-powered-by");
    if (options.rawBasicCredentials) app.use(refuseEncodedBasicCredentials(options.client, issuer));
    if (options.laxEndSessionPost)
      app.post("/session/end", express.urlencoded({ extended: false }), laxEndSessionPost(provider));
    app.use(interactionRouter(provider, log));
    app.use(provider.callback());
    // Last resort (the routes above handle their own errors): never show a stack trace.
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      log(`[dev-oidc] unhandled error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      if (res.headersSent) {
        res.end();
        return;
      }
      res
        .status(500)
        .type("html")
        .send(errorPage({ title: "Error", message: "Something went wrong in the development OpenID provider." }));
    });
    return app;
  };

  try {
    handler = build([options.signingKey ?? generateSigningKey()]);
  } catch (err) {
    await closeServer(server);
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    issuer,
    setSigningKeys(keys: JWK[]) {
      if (keys.length === 0) throw new RangeError("dev OpenID provider: at least one signing key is needed");
      const kids = keys.map((key) => key.kid);
      if (kids.some((kid) => !kid) || new Set(kids).size !== kids.length) {
        throw new RangeError("dev OpenID provider: each signing key needs a kid of its own");
      }
      handler = build(keys); // throws (and changes nothing) if oidc-provider refuses a key
      log(`[dev-oidc] signing keys now ${kids.join(", ")} (${kids[0]} signs)`);
    },
    close() {
      closing ??= closeServer(server);
      return closing;
    },
  };
}
