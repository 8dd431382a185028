import { describe, expect, it } from "vitest";
import { safeRedirectPath } from "./safe-redirect.ts";

describe("safeRedirectPath", () => {
  it("keeps local paths with their query and hash", () => {
    expect(safeRedirectPath("/account")).toBe("/account");
    expect(safeRedirectPath("/account?tab=claims#groups")).toBe("/account?tab=claims#groups");
  });

  it.each([
    null,
    "",
    "account",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "https:evil.example",
    "javascript:alert(1)",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "%2F%2Fevil.example",
    "/\tevil",
    "/%E0%A4%A",
    "/.//evil.example",
    "/a/..//evil.example",
    "/%2e//evil.example",
    "/./\\evil.example",
    `/${"a".repeat(3000)}`,
  ])("turns %j into the fallback", (input) => {
    expect(safeRedirectPath(input, "/fallback")).toBe("/fallback");
  });
});
