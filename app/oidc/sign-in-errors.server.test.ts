import * as client from "openid-client";
import { describe, expect, it } from "vitest";
import { ProviderUnavailableError } from "./provider.server.ts";
import { SignInError, toSignInError } from "./sign-in-errors.server.ts";

const codeOf = (error: unknown) => (error instanceof SignInError ? error.code : undefined);

describe("toSignInError", () => {
  it("reports an unreachable or silent provider as provider_unavailable", () => {
    const refused = new TypeError("fetch failed", {
      cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
    });
    expect(codeOf(toSignInError(refused))).toBe("provider_unavailable");
    expect(
      codeOf(toSignInError(Object.assign(new client.ClientError("operation timed out"), { code: "OAUTH_TIMEOUT" }))),
    ).toBe("provider_unavailable");
    expect(codeOf(toSignInError(new ProviderUnavailableError(new URL("https://idp.example"), new Error("down"))))).toBe(
      "provider_unavailable",
    );
  });

  it("names a response that failed validation, with the check that failed", () => {
    const error = toSignInError(
      new client.ClientError("unexpected JWT claim value encountered", {
        cause: new Error('unexpected JWT "aud" (audience) claim value'),
      }),
    );
    expect(codeOf(error)).toBe("invalid_response");
    expect((error as Error).message).toContain('"aud"');
  });

  it("returns an error it does not know as it is: a bug is a 500 with its cause, never 'provider unavailable'", () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'sub')");
    expect(toSignInError(bug)).toBe(bug);
    const other = new RangeError("out of range");
    expect(toSignInError(other)).toBe(other);
  });
});
