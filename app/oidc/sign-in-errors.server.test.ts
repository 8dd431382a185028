import * as client from "openid-client";
import { describe, expect, it } from "vitest";
import { IdTokenSignatureError } from "./id-token-signature.server.ts";
import { JwksUnavailableError } from "./provider-keys.server.ts";
import { ProviderMisconfiguredError, ProviderUnavailableError } from "./provider.server.ts";
import { SignInError, toSignInError } from "./sign-in-errors.server.ts";

const codeOf = (error: unknown) => (error instanceof SignInError ? error.code : undefined);
const clientError = (code: string, cause?: unknown) =>
  Object.assign(new client.ClientError("generic", { cause }), { code });
const bodyError = (error: string, status: number) =>
  new client.ResponseBodyError("error", { cause: { error }, response: new Response(null, { status }) });
const issuer = new URL("https://idp.example");

describe("toSignInError", () => {
  it("refuses an ID token whose signature no published key verifies as invalid_response, naming why; no jwks_uri is a configuration problem", () => {
    const unknown = toSignInError(
      new IdTokenSignatureError("unknown_key", 'no key the provider publishes verifies RS256 ID tokens with kid "k"'),
    );
    expect(codeOf(unknown)).toBe("invalid_response");
    expect((unknown as Error).message).toContain('with kid "k"');
    expect(codeOf(toSignInError(new IdTokenSignatureError("bad_signature", "does not verify")))).toBe(
      "invalid_response",
    );
    expect(codeOf(toSignInError(new IdTokenSignatureError("no_jwks_uri", "no jwks_uri")))).toBe(
      "provider_misconfigured",
    );
  });

  it("reports an unreachable, slow or failing provider as provider_unavailable", () => {
    const refused = new TypeError("fetch failed", {
      cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
    });
    for (const error of [
      refused,
      clientError("OAUTH_TIMEOUT"),
      clientError("OAUTH_RESPONSE_IS_NOT_CONFORM", new Response("<html>", { status: 502 })),
      clientError("OAUTH_RESPONSE_IS_NOT_CONFORM", new Response("slow down", { status: 429 })),
      bodyError("temporarily_unavailable", 503),
      new ProviderUnavailableError(issuer, new Error("down")),
      new JwksUnavailableError(
        "the provider's keys (https://idp.example/jwks) could not be fetched: it answered HTTP 503",
      ),
    ]) {
      expect(codeOf(toSignInError(error)), String(error)).toBe("provider_unavailable");
    }
  });

  it("reports refused client credentials as client_authentication_failed, telling the operator what to check", () => {
    const challenge = new client.WWWAuthenticateChallengeError("challenge", {
      cause: [{ scheme: "basic", parameters: {} }],
      response: new Response(null, { status: 401 }),
    });
    for (const error of [bodyError("invalid_client", 401), bodyError("invalid_client", 400), challenge]) {
      const mapped = toSignInError(error);
      expect(codeOf(mapped)).toBe("client_authentication_failed");
      expect((mapped as Error).message).toContain("OIDC_CLIENT_SECRET");
    }
  });

  it("tells a refused code (invalid_grant) from a refused sign-in (access_denied)", () => {
    expect(codeOf(toSignInError(bodyError("invalid_grant", 400)))).toBe("token_exchange_failed");
    const denied = new client.AuthorizationResponseError("denied", {
      cause: new URLSearchParams({ error: "access_denied" }),
    });
    expect(codeOf(toSignInError(denied))).toBe("provider_error");
  });

  it("names a response that failed a check, with the check that failed, whatever the check", () => {
    const error = toSignInError(
      clientError("OAUTH_JWT_CLAIM_COMPARISON_FAILED", new Error('unexpected JWT "aud" (audience) claim value')),
    );
    expect(codeOf(error)).toBe("invalid_response");
    expect((error as Error).message).toContain('"aud"');
    for (const code of [
      "OAUTH_INVALID_RESPONSE",
      "OAUTH_JWT_TIMESTAMP_CHECK_FAILED",
      "OAUTH_KEY_SELECTION_FAILED",
      "OAUTH_UNSUPPORTED_OPERATION",
    ]) {
      expect(codeOf(toSignInError(clientError(code))), code).toBe("invalid_response");
    }
  });

  it("tells an answer that is not OAuth (an HTML 404, broken JSON) from an outage", () => {
    expect(codeOf(toSignInError(clientError("OAUTH_RESPONSE_IS_NOT_CONFORM", new Response("", { status: 404 }))))).toBe(
      "unexpected_provider_response",
    );
    expect(codeOf(toSignInError(clientError("OAUTH_RESPONSE_IS_NOT_JSON")))).toBe("unexpected_provider_response");
    expect(codeOf(toSignInError(clientError("OAUTH_PARSE_ERROR")))).toBe("unexpected_provider_response");
  });

  it("reports a discovery document that cannot be used, or metadata that forbids the request, as provider_misconfigured", () => {
    expect(codeOf(toSignInError(new ProviderMisconfiguredError(issuer, new Error("issuer mismatch"))))).toBe(
      "provider_misconfigured",
    );
    expect(codeOf(toSignInError(clientError("OAUTH_MISSING_SERVER_METADATA")))).toBe("provider_misconfigured");
  });

  it("returns an error it does not know as it is: a bug is a 500 with its cause, never 'provider unavailable'", () => {
    for (const bug of [
      new TypeError("Cannot read properties of undefined (reading 'sub')"),
      new RangeError("out of range"),
      new client.ClientError("something went wrong", { cause: new Error("?") }), // openid-client's catch-all has no code
    ]) {
      expect(toSignInError(bug)).toBe(bug);
    }
  });
});
