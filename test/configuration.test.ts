/** Configuration as the running process sees it: refused at start-up with a message, or applied. */
import { afterAll, describe, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import { signIn } from "./support/flows.ts";
import { startApp, startStack, type Stack } from "./support/stack.ts";

const stacks: Stack[] = [];
afterAll(async () => {
  await Promise.all(stacks.map((s) => s.stop()));
});

describe("start-up", () => {
  it("refuses to start in production without OIDC_ISSUER, saying what to set", async () => {
    await expect(startApp({ REDIS_URL: "redis://127.0.0.1:1" })).rejects.toThrow(
      /exit 1[\s\S]*OIDC_ISSUER is required when NODE_ENV=production/,
    );
  });

  it("refuses an http issuer that is not on loopback", async () => {
    await expect(startApp({ REDIS_URL: "redis://127.0.0.1:1", OIDC_ISSUER: "http://idp.example.com" })).rejects.toThrow(
      /must be https/,
    );
  });
});

describe("https app URL", () => {
  it("names the cookie __Host-, marks it Secure, and keeps it under 200 bytes", async () => {
    const stack = await startStack();
    stacks.push(stack);
    const https = await startApp({
      REDIS_URL: stack.redis.url,
      OIDC_ISSUER: stack.provider.issuer,
      APP_URL: "https://localhost:8443",
    });
    try {
      const response = await fetch(`${https.url}/login?returnTo=%2Faccount`, {
        method: "POST",
        // As a TLS-terminating proxy in front of the app would send them.
        headers: {
          Origin: "https://localhost:8443",
          "X-Forwarded-Host": "localhost:8443",
          "X-Forwarded-Proto": "https",
        },
        redirect: "manual",
      });
      expect(response.status).toBe(302);
      const cookie = response.headers.getSetCookie().find((c) => c.startsWith("__Host-rro_sid="))!;
      expect(cookie).toMatch(/; Path=\/(;|$)/);
      expect(cookie).toMatch(/; Secure/);
      expect(cookie).toMatch(/; HttpOnly/);
      expect(cookie).toMatch(/; SameSite=Lax/);
      expect(cookie).not.toMatch(/Domain=/);
      expect(Buffer.byteLength(`Set-Cookie: ${cookie}`)).toBeLessThan(200);
    } finally {
      await https.stop();
    }
  });
});

describe("OIDC_TOKEN_AUTH_METHOD", () => {
  it("signs in with client_secret_post against a provider that registered the client that way", async () => {
    const stack = await startStack({
      providerOptions: { tokenEndpointAuthMethod: "client_secret_post" },
      appEnv: { OIDC_TOKEN_AUTH_METHOD: "client_secret_post" },
    });
    stacks.push(stack);
    const { landed } = await signIn(new Browser(), stack.app.url);
    expect(landed.url).toBe(`${stack.app.url}/account`);
  });
});

describe("TRUST_PROXY", () => {
  // Every request says it came through a proxy for 203.0.113.7; the app is reached over loopback.
  const viaProxy = () => new Browser(undefined, { "X-Forwarded-For": "203.0.113.7" });
  const sessionsPage = async (appEnv: Record<string, string>) => {
    const stack = await startStack({ appEnv });
    stacks.push(stack);
    const browser = viaProxy();
    await signIn(browser, stack.app.url);
    return (await browser.navigate(`${stack.app.url}/sessions`)).html;
  };

  it("believes X-Forwarded-For from a trusted proxy (the sessions page shows the client's network)", async () => {
    const html = await sessionsPage({ TRUST_PROXY: "loopback" });
    expect(html).toContain("203.0.113.0");
  });

  it("ignores it by default: anyone could send it", async () => {
    const html = await sessionsPage({});
    expect(html).not.toContain("203.0.113");
    expect(html).toContain("127.0.0.0");
  });
});
