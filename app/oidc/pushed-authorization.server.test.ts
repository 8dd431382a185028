import { describe, expect, it } from "vitest";
import type { ServerMetadata } from "openid-client";
import { pushesAuthorization } from "./pushed-authorization.server.ts";

const withPar = { issuer: "https://idp", pushed_authorization_request_endpoint: "https://idp/par" } as ServerMetadata;
const withoutPar = { issuer: "https://idp" } as ServerMetadata;

describe("OIDC_PAR", () => {
  it("auto pushes when the provider offers it, else redirects as before", () => {
    expect(pushesAuthorization("auto", withPar)).toBe(true);
    expect(pushesAuthorization("auto", withoutPar)).toBe(false);
  });
  it("required pushes, and refuses (undefined) when not offered; off never pushes", () => {
    expect(pushesAuthorization("required", withPar)).toBe(true);
    expect(pushesAuthorization("required", withoutPar)).toBeUndefined();
    expect(pushesAuthorization("off", withPar)).toBe(false);
  });
});
