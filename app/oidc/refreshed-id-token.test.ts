import { describe, expect, it } from "vitest";
import { decodeIdTokenClaims, refreshedIdTokenProblem } from "./refreshed-id-token.ts";

const previous = { iss: "https://idp.example", sub: "alice", aud: "app", iat: 1000, exp: 1600, auth_time: 990 };

describe("refreshedIdTokenProblem", () => {
  it("accepts the same sign-in with new times, and an aud array holding the same one audience", () => {
    expect(refreshedIdTokenProblem(previous, { ...previous, iat: 2000, exp: 2600 })).toBeUndefined();
    expect(refreshedIdTokenProblem(previous, { ...previous, aud: ["app"] })).toBeUndefined();
    expect(refreshedIdTokenProblem(previous, previous), "the same token again").toBeUndefined();
    expect(
      refreshedIdTokenProblem({ ...previous, auth_time: undefined }, { ...previous, auth_time: 5 }),
    ).toBeUndefined();
  });

  it.each([
    ["iss", { iss: "https://evil.example" }, /"iss"/],
    ["sub", { sub: "mallory" }, /"sub"/],
    ["sub missing", { sub: undefined }, /"sub"/],
    ["aud", { aud: "another-app" }, /"aud"/],
    ["aud with one more audience", { aud: ["app", "another-app"], azp: "app" }, /"aud"/],
    ["azp added", { azp: "another-app" }, /has an "azp"/],
    ["auth_time", { auth_time: 1999 }, /"auth_time"/],
    ["iat, earlier than the previous one's", { iat: 999 }, /issued before/],
  ])("refuses another %s", (_name, change, reason) => {
    expect(refreshedIdTokenProblem(previous, { ...previous, ...change })).toMatch(reason);
  });

  it("refuses an azp that changed", () => {
    expect(refreshedIdTokenProblem({ ...previous, azp: "app" }, { ...previous, azp: "other" })).toMatch(/"azp" is not/);
  });
});

describe("decodeIdTokenClaims", () => {
  it("reads the payload, and undefined for anything that is not a JWT with a JSON object payload", () => {
    const payload = Buffer.from(JSON.stringify(previous)).toString("base64url");
    expect(decodeIdTokenClaims(`e30.${payload}.sig`)).toEqual(previous);
    for (const bad of [undefined, "", "abc", "e30.bm90IGpzb24.x", `e30.${Buffer.from("[1]").toString("base64url")}.x`])
      expect(decodeIdTokenClaims(bad)).toBeUndefined();
  });
});
