/**
 * Production needs only the dependencies: a copy of the project whose
 * node_modules went through `npm prune --omit=dev` (no Vite, no
 * oidc-provider, no pino-pretty) starts the built app, and a person signs in
 * and out through it.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import { confirmProviderLogout, postLogout, signIn } from "./support/flows.ts";
import { freePort } from "./support/ports.ts";
import { startApp, startTestProvider, startTestRedis, type App, type TestRedis } from "./support/stack.ts";
import type { DevProvider } from "../server/dev-oidc-provider/index.ts";

const root = path.resolve(import.meta.dirname, "..");
let copy: string;
let redis: TestRedis;
let provider: DevProvider;
let app: App | undefined;

beforeAll(async () => {
  copy = mkdtempSync(path.join(os.tmpdir(), "rro-production-"));
  // (The React Router fixture is a workspace of the root package: npm needs its package.json to prune.)
  const workspace = "test/fixtures/react-router-app/package.json";
  for (const entry of [
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "app",
    "server",
    "redis",
    "build",
    workspace,
  ]) {
    cpSync(path.join(root, entry), path.join(copy, entry), {
      recursive: true,
      filter: (p) => !p.includes("redis/data"),
    });
  }
  // Hard links: the copy costs no disk and no download. Only npm's own record is rewritten, so it gets a real copy.
  execFileSync("cp", ["-al", path.join(root, "node_modules"), path.join(copy, "node_modules")]);
  rmSync(path.join(copy, "node_modules/.package-lock.json"));
  cpSync(path.join(root, "node_modules/.package-lock.json"), path.join(copy, "node_modules/.package-lock.json"));
  execFileSync("npm", ["prune", "--omit=dev", "--no-audit", "--no-fund"], { cwd: copy, stdio: "ignore" });
  redis = await startTestRedis();
});

afterAll(async () => {
  await app?.stop();
  await provider?.close();
  await redis?.stop();
  if (copy) rmSync(copy, { recursive: true, force: true });
});

it("the production server starts from a pruned install and signs a person in and out", async () => {
  for (const devOnly of ["vite", "oidc-provider", "pino-pretty", "vitest", "@remix-run/dev", "remix-auth-oauth2"]) {
    expect(existsSync(path.join(copy, "node_modules", devOnly)), devOnly).toBe(false);
  }
  const port = await freePort();
  const url = `http://localhost:${port}`;
  provider = await startTestProvider(url);
  app = await startApp({ REDIS_URL: redis.url, OIDC_ISSUER: provider.issuer, APP_URL: url }, port, copy);

  const browser = new Browser();
  const { landed } = await signIn(browser, app.url);
  expect(landed.url).toBe(`${app.url}/account`);
  const logout = await postLogout(browser, app.url);
  const back = await confirmProviderLogout(browser, await browser.navigate(logout.headers.get("Location")!));
  expect(back.html).toContain('data-notice="provider"');
  expect(app.output()).not.toMatch(/Cannot find (module|package)/);
});
