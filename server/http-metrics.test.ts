import type { ServerBuild } from "@remix-run/node";
import { describe, expect, it } from "vitest";
import { routeLabel, routePatterns } from "./http-metrics.ts";

const route = (id: string, path: string | undefined, parentId?: string, index?: boolean) => ({
  id,
  path,
  parentId,
  index,
});

describe("routePatterns", () => {
  it("joins nested paths and leaves out layout routes", () => {
    const routes = {
      root: route("root", ""),
      "routes/_index": route("routes/_index", undefined, "root", true),
      "routes/login": route("routes/login", "login", "root"),
      "routes/auth.callback": route("routes/auth.callback", "auth/callback", "root"),
      "routes/_layout": route("routes/_layout", undefined, "root"),
      "routes/_layout.users.$id": route("routes/_layout.users.$id", "users/:id", "routes/_layout"),
    } as unknown as ServerBuild["routes"];
    expect(routePatterns(routes).sort()).toEqual(["/", "/auth/callback", "/login", "/users/:id"]);
  });
});

describe("routeLabel", () => {
  const patterns = ["/", "/login", "/auth/callback", "/users/:id", "/users/new", "/docs/*"];
  it.each([
    ["/", "/"],
    ["/_root.data", "/"],
    ["/login", "/login"],
    ["/LOGIN/", "/login"],
    ["/login.data", "/login"],
    ["/auth/callback", "/auth/callback"],
    ["/users/42", "/users/:id"],
    ["/users/new", "/users/new"],
    ["/docs/a/b/c", "/docs/*"],
    ["/assets/entry-abc.js", "/assets/*"],
    ["/favicon.ico", "static"],
    ["/wp-admin/setup.php", "static"],
    ["/made-up", "unmatched"],
    ["/auth/callback/extra", "unmatched"],
  ])("%s is %s", (path, label) => {
    expect(routeLabel(path, patterns)).toBe(label);
  });
});
