/**
 * Express router for the login interaction of the embedded development OpenID
 * provider (mounted before `provider.callback()`):
 *
 * - GET  /interaction/:uid        the login form
 * - POST /interaction/:uid/login  checks the password, finishes the `login` prompt
 * - GET  /interaction/:uid/abort  the user cancelled: `access_denied` to the client
 *
 * There is no consent screen (see `loadExistingGrant` in provider.ts), so the
 * only prompt expected here is `login`.
 */
import express from "express";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type Provider from "oidc-provider";
import { errors } from "oidc-provider";
import { authenticate, DEMO_USERS } from "./accounts.ts";
import { errorPage, loginPage } from "./views.ts";

type AsyncHandler = (req: Request, res: Response) => Promise<void>;

function sendHtml(res: Response, status: number, html: string): void {
  res.status(status).type("html").send(html);
}

function isProviderError(err: unknown): err is errors.OIDCProviderError {
  return err instanceof errors.OIDCProviderError;
}

export function interactionRouter(provider: Provider, log: (line: string) => void): express.Router {
  const router = express.Router();

  function renderFailure(res: Response, err: unknown): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    if (err instanceof errors.SessionNotFound) {
      sendHtml(
        res,
        400,
        errorPage({
          title: "Sign-in expired",
          message:
            "This sign-in request has expired or is no longer valid. Go back to the application and sign in again.",
        }),
      );
      return;
    }
    if (isProviderError(err)) {
      sendHtml(
        res,
        400,
        errorPage({
          title: "Sign-in error",
          message: err.error_description ?? err.message,
          detail: `Error code: ${err.error}`,
        }),
      );
      return;
    }
    log(`[dev-oidc] interaction error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    sendHtml(
      res,
      500,
      errorPage({
        title: "Sign-in error",
        message: "Something went wrong in the development OpenID provider. Check its log output.",
      }),
    );
  }

  const wrap =
    (handler: AsyncHandler): RequestHandler =>
    (req, res) => {
      handler(req, res).catch((err: unknown) => renderFailure(res, err));
    };

  /** Loads the interaction and checks it is the one named in the URL. */
  async function loadInteraction(req: Request, res: Response) {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== req.params["uid"]) {
      throw new errors.SessionNotFound("interaction uid does not match the interaction cookie");
    }
    return details;
  }

  async function clientName(clientId: unknown): Promise<string | undefined> {
    if (typeof clientId !== "string") return undefined;
    const client = await provider.Client.find(clientId);
    return client?.clientName ?? client?.clientId;
  }

  router.use("/interaction", (_req: Request, res: Response, next: NextFunction) => {
    res.set({
      "Cache-Control": "no-store",
      Pragma: "no-cache",
      "X-Frame-Options": "DENY",
      "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
      "Referrer-Policy": "no-referrer",
    });
    next();
  });

  router.get(
    "/interaction/:uid",
    wrap(async (req, res) => {
      const details = await loadInteraction(req, res);
      const { prompt, params, session, grantId } = details;

      if (prompt.name === "login") {
        sendHtml(
          res,
          200,
          loginPage({
            uid: details.uid,
            clientName: await clientName(params["client_id"]),
            username: typeof params["login_hint"] === "string" ? params["login_hint"] : undefined,
            demoUsers: DEMO_USERS,
          }),
        );
        return;
      }

      if (prompt.name === "consent" && session?.accountId && typeof params["client_id"] === "string") {
        // Should not happen (loadExistingGrant grants everything to our
        // first-party client), but if it does, grant what is missing instead of
        // showing a consent screen.
        log(`[dev-oidc] unexpected consent prompt (${prompt.reasons.join(", ")}); granting automatically`);
        const grant =
          (grantId ? await provider.Grant.find(grantId) : undefined) ??
          new provider.Grant({ accountId: session.accountId, clientId: params["client_id"] });
        const details_ = prompt.details as {
          missingOIDCScope?: string[];
          missingOIDCClaims?: string[];
          missingResourceScopes?: Record<string, string[]>;
        };
        if (details_.missingOIDCScope) grant.addOIDCScope(details_.missingOIDCScope);
        if (details_.missingOIDCClaims) grant.addOIDCClaims(details_.missingOIDCClaims);
        for (const [indicator, scopes] of Object.entries(details_.missingResourceScopes ?? {})) {
          grant.addResourceScope(indicator, scopes);
        }
        const savedGrantId = await grant.save();
        await provider.interactionFinished(
          req,
          res,
          { consent: { grantId: savedGrantId } },
          { mergeWithLastSubmission: true },
        );
        return;
      }

      log(`[dev-oidc] unsupported interaction prompt: ${prompt.name}`);
      sendHtml(
        res,
        400,
        errorPage({
          title: "Sign-in error",
          message: "This development provider cannot handle this kind of sign-in request.",
          detail: `Prompt: ${prompt.name}`,
        }),
      );
    }),
  );

  router.post(
    "/interaction/:uid/login",
    express.urlencoded({ extended: false, limit: "16kb" }),
    wrap(async (req, res) => {
      const details = await loadInteraction(req, res);
      if (details.prompt.name !== "login") {
        sendHtml(
          res,
          400,
          errorPage({
            title: "Sign-in error",
            message:
              "This sign-in request is not waiting for a password. Go back to the application and sign in again.",
          }),
        );
        return;
      }

      const body = (req.body ?? {}) as Record<string, unknown>;
      const username = typeof body["username"] === "string" ? body["username"].trim() : "";
      const password = typeof body["password"] === "string" ? body["password"] : "";
      const accountId = username && password ? authenticate(username, password) : null;

      if (!accountId) {
        sendHtml(
          res,
          401,
          loginPage({
            uid: details.uid,
            clientName: await clientName(details.params["client_id"]),
            username,
            error: "Invalid username or password.",
            demoUsers: DEMO_USERS,
          }),
        );
        return;
      }

      await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
    }),
  );

  router.get(
    "/interaction/:uid/abort",
    wrap(async (req, res) => {
      await loadInteraction(req, res);
      await provider.interactionFinished(
        req,
        res,
        { error: "access_denied", error_description: "The user cancelled the sign-in." },
        { mergeWithLastSubmission: false },
      );
    }),
  );

  return router;
}
