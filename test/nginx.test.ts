/**
 * The seed post's 502, reproduced behind a real nginx with its default
 * buffers: the cookie design's Set-Cookie (21 groups: about 4 KB, still under
 * Remix's and the browsers' 4096-byte limit) pushes the response headers past
 * `proxy_buffer_size` (4 KB), and nginx answers 502 "upstream sent too big
 * header". The Redis design passes, and so does the seed post's workaround.
 */
import { afterAll, describe, expect, it } from "vitest";
import { Browser } from "./support/browser.ts";
import { signIn, startSignIn, submitLogin } from "./support/flows.ts";
import { startNginx, type NginxBuffers } from "./support/nginx.ts";
import { freePort } from "./support/ports.ts";
import { startStack } from "./support/stack.ts";

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function behindNginx(store: "cookie" | "redis", buffers: NginxBuffers) {
  const publicPort = await freePort();
  const stack = await startStack({ appEnv: { SESSION_STORE: store }, publicPort });
  cleanups.push(stack.stop);
  const nginx = await startNginx({ port: publicPort, upstreamPort: stack.app.port, buffers });
  cleanups.push(nginx.stop);
  return { stack, nginx };
}

/** Signs in as groups-21 through nginx and returns the status of the app's callback answer. */
async function callbackStatus(url: string) {
  const browser = new Browser();
  const page = await submitLogin(browser, await startSignIn(browser, url), "groups-21", "groups-21-password");
  const callback = page.hops.find((h) => h.url.startsWith(`${url}/auth/callback`))!;
  return { status: callback.status, page };
}

describe("behind nginx with default buffers", () => {
  it("the cookie design gets 502 upstream sent too big header", async () => {
    const { stack, nginx } = await behindNginx("cookie", "default");
    const { status, page } = await callbackStatus(nginx.url);
    expect(status).toBe(502);
    expect(page.html).toContain("502 Bad Gateway");
    expect(nginx.errorLog()).toContain("upstream sent too big header");
    expect(stack.app.output()).not.toContain("Cookie length will exceed"); // the app itself answered fine
  });

  it("the Redis design gets 200", async () => {
    const { nginx } = await behindNginx("redis", "default");
    const browser = new Browser();
    const { landed } = await signIn(browser, nginx.url, "groups-21");
    expect(landed.url).toBe(`${nginx.url}/account`);
    expect(landed.status).toBe(200);
    expect(landed.html).toMatch(/data-testid="group-count">21</);
  });
});

describe("behind nginx with the seed post's workaround (proxy_buffers 8 16k; proxy_buffer_size 32k)", () => {
  it("the cookie design passes again", async () => {
    const { nginx } = await behindNginx("cookie", "seed-post-workaround");
    const { landed } = await signIn(new Browser(), nginx.url, "groups-21");
    expect(landed.url).toBe(`${nginx.url}/account`);
    expect(landed.status).toBe(200);
  });
});
