/**
 * Pushed authorization requests (RFC 9126), OIDC_PAR: `auto` pushes when the
 * discovery document names a `pushed_authorization_request_endpoint`,
 * `required` refuses to sign anyone in without one (and start-up fails when
 * the provider answers without it, server/startup.ts), `off` never pushes.
 * With PAR the browser's redirect carries only `client_id` and `request_uri`;
 * state, nonce and the PKCE challenge go to the provider over the back channel,
 * client-authenticated as the token requests are.
 * docs/decisions/018-client-authentication-and-par.md
 */
import type * as client from "openid-client";

export type ParMode = "auto" | "required" | "off";

/** The provider's discovery document has no PAR endpoint while OIDC_PAR=required: what to tell a person. */
export function parNotOfferedProblem(issuer: string): string {
  return (
    `OIDC_PAR=required, but the provider ${issuer} advertises no pushed_authorization_request_endpoint in its ` +
    "discovery document: enable pushed authorization requests at the provider, or set OIDC_PAR=auto (push when offered)"
  );
}

/** Whether this sign-in pushes its request: `undefined` when it must not go ahead (required, not offered). */
export function pushesAuthorization(mode: ParMode, metadata: client.ServerMetadata): boolean | undefined {
  const offered = typeof metadata.pushed_authorization_request_endpoint === "string";
  if (mode === "off") return false;
  if (mode === "required") return offered ? true : undefined;
  return offered;
}
