import { describe, expect, it } from "vitest";
import { chooseTokenAuthMethod } from "./provider.server.ts";

describe("chooseTokenAuthMethod", () => {
  it("uses the configured method whatever the provider lists", () => {
    expect(chooseTokenAuthMethod("client_secret_post", ["client_secret_basic"])).toBe("client_secret_post");
  });
  it("prefers client_secret_basic when listed, or when nothing is listed (the spec's default)", () => {
    expect(chooseTokenAuthMethod(undefined, ["client_secret_post", "client_secret_basic"])).toBe("client_secret_basic");
    expect(chooseTokenAuthMethod(undefined, undefined)).toBe("client_secret_basic");
  });
  it("uses client_secret_post when that is the only one of the two the provider lists", () => {
    expect(chooseTokenAuthMethod(undefined, ["private_key_jwt", "client_secret_post"])).toBe("client_secret_post");
  });
});
