/**
 * Hostile session cookies are no session: tampered, unsigned, malformed,
 * oversized, a signed id that never existed, the cookie of a logged-out
 * session, a pre-sign-in id kept after sign-in (fixation), and a second cookie
 * of the same name. Each gets a precise answer and leaves Redis as it was, with
 * no stack trace and no secret in the answer or the app's output.
 */
import { createHmac, randomBytes } from "node:crypto";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser } from "../support/browser.ts";
import { postLogout, SESSION_COOKIE, signIn, startSignIn, submitLogin } from "../support/flows.ts";
import { sessionKey, sessionId } from "../support/redis-keys.ts";
import { SESSION_SECRET, startStack, type Stack } from "../support/stack.ts";
import { expectHarmless, snapshot } from "./assertions.ts";

let stack: Stack;
let valid: string;
beforeAll(async () => {
  stack = await startStack();
  const browser = new Browser();
  await signIn(browser, stack.app.url);
  valid = browser.cookie(stack.app.url, SESSION_COOKIE)!;
});
afterAll(async () => {
  await stack?.stop();
});

/** A request to `path` with a hand-made Cookie header, not following redirects. */
async function visitWith(cookieHeader: string, path = "/account") {
  const response = await fetch(`${stack.app.url}${path}`, { headers: { Cookie: cookieHeader }, redirect: "manual" });
  return {
    status: response.status,
    location: response.headers.get("Location"),
    setCookies: response.headers.getSetCookie(),
    body: await response.text(),
  };
}

/** What a signed-out visit of /account answers. */
function expectSignedOutRedirect(result: Awaited<ReturnType<typeof visitWith>>, label?: string) {
  expect(result.status, label).toBe(302);
  expect(result.location, label).toBe("/login?returnTo=%2Faccount");
  expect(result.setCookies, label).toEqual([]);
}

/** A cookie exactly as the app would sign it (Remix: base64 of the JSON id, HMAC-SHA256 with the secret). */
function signedCookieFor(id: string) {
  const value = Buffer.from(JSON.stringify(id)).toString("base64");
  const signature = createHmac("sha256", SESSION_SECRET).update(value).digest("base64").replace(/=+$/, "");
  return encodeURIComponent(`${value}.${signature}`);
}

it("the untouched cookie is signed in, and a cookie made with the test's secret is accepted (controls)", async () => {
  expect((await visitWith(`${SESSION_COOKIE}=${valid}`)).status).toBe(200);
  const id = sessionId(valid);
  expect((await visitWith(`${SESSION_COOKIE}=${signedCookieFor(id)}`)).status).toBe(200);
});

describe("hostile cookies", () => {
  it("a tampered signature is no session", async () => {
    const [value, signature] = decodeURIComponent(valid).split(".");
    const flipped = signature!.startsWith("A") ? `B${signature!.slice(1)}` : `A${signature!.slice(1)}`;
    const before = await snapshot(stack);
    const result = await visitWith(`${SESSION_COOKIE}=${encodeURIComponent(`${value}.${flipped}`)}`);
    expectSignedOutRedirect(result);
    await expectHarmless(stack, before, result.body, [valid]);
  });

  it("an unsigned id, even of a live session, is no session", async () => {
    const id = sessionId(valid);
    const before = await snapshot(stack);
    const bodies: string[] = [];
    for (const unsigned of [id, encodeURIComponent(Buffer.from(JSON.stringify(id)).toString("base64"))]) {
      const result = await visitWith(`${SESSION_COOKIE}=${unsigned}`);
      expectSignedOutRedirect(result, unsigned);
      bodies.push(result.body);
    }
    await expectHarmless(stack, before, bodies, [valid]);
  });

  it("a correctly signed id that never existed is no session", async () => {
    const before = await snapshot(stack);
    const result = await visitWith(`${SESSION_COOKIE}=${signedCookieFor(randomBytes(16).toString("base64url"))}`);
    expectSignedOutRedirect(result);
    await expectHarmless(stack, before, result.body, [valid]);
  });

  it("malformed encodings are no session and no error", async () => {
    const junk = [
      "%E0%A4%A", // truncated UTF-8 escape
      "%C0%AF", // overlong UTF-8
      "%FF%FE",
      "%",
      "%%",
      "%u0041",
      "!!!.###",
      ".",
      "..",
      "eyJ9.%%%",
      '"quoted"',
      `"${valid}`,
      "a.b.c.d",
      "=",
      encodeURIComponent(`${Buffer.from('{"__proto__":{"user":{"sub":"admin"}}}').toString("base64")}.sig`),
      encodeURIComponent(`${Buffer.from('"../../etc/passwd"').toString("base64")}.sig`),
      encodeURIComponent(`${Buffer.from('"*"').toString("base64")}.sig`),
      "x".repeat(3000),
    ];
    const before = await snapshot(stack);
    const bodies: string[] = [];
    for (const value of junk) {
      const result = await visitWith(`${SESSION_COOKIE}=${value}`);
      expectSignedOutRedirect(result, value);
      bodies.push(result.body);
    }
    await expectHarmless(stack, before, bodies, [valid]);
  });

  it("a 5 KB cookie gets the normal signed-out page", async () => {
    const cookie = `${SESSION_COOKIE}=${"A".repeat(5 * 1024)}`;
    const before = await snapshot(stack);
    const home = await visitWith(cookie, "/");
    expect(home.status).toBe(200);
    expect(home.body).toContain("Sessions in Redis, sign-in with OpenID Connect");
    expect(home.body).toContain('href="/login"');
    expect(home.body).not.toContain('data-testid="user-name"');
    expect(home.setCookies).toEqual([]);
    const account = await visitWith(cookie);
    expectSignedOutRedirect(account);
    await expectHarmless(stack, before, [home.body, account.body], [valid]);
  });

  it("a 17 KB and a 64 KB cookie are refused by Node with 431 before the app runs, and the app keeps serving", async () => {
    const before = await snapshot(stack);
    for (const size of [17 * 1024, 64 * 1024]) {
      // A raw socket: Node answers and closes while the request is still arriving (the close may
      // be a reset), and what it sent before closing is what a browser would get.
      const answer = await new Promise<string>((resolve) => {
        const socket = net.connect(stack.app.port, "127.0.0.1", () =>
          socket.write(
            `GET /account HTTP/1.1\r\nHost: localhost:${stack.app.port}\r\nCookie: ${SESSION_COOKIE}=${"A".repeat(size)}\r\n\r\n`,
          ),
        );
        let received = "";
        socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
        socket.on("error", () => resolve(received));
        socket.on("close", () => resolve(received));
      });
      const [head, body] = answer.split("\r\n\r\n");
      expect(head!.split("\r\n")[0], `${size} bytes`).toBe("HTTP/1.1 431 Request Header Fields Too Large");
      expect(head, `${size} bytes`).toMatch(/\r\nConnection: close(\r\n|$)/i);
      expect(body, `${size} bytes`).toBe("");
    }
    expect((await fetch(`${stack.app.url}/healthz`)).status).toBe(200);
    expect((await visitWith(`${SESSION_COOKIE}=${valid}`)).status).toBe(200);
    await expectHarmless(stack, before, "", [valid]);
  });

  it("a second cookie of the same name sent first (cookie tossing) is no session and ends nothing", async () => {
    const before = await snapshot(stack);
    const result = await visitWith(`${SESSION_COOKIE}=junk.value; ${SESSION_COOKIE}=${valid}`);
    expectSignedOutRedirect(result);
    const logout = await fetch(`${stack.app.url}/logout`, {
      method: "POST",
      headers: { Cookie: `${SESSION_COOKIE}=junk.value; ${SESSION_COOKIE}=${valid}`, Origin: stack.app.url },
      redirect: "manual",
    });
    expect(logout.status).toBe(302);
    expect(logout.headers.get("Location")).toBe("/?logout=no-session");
    expect(await stack.redis.client.exists(sessionKey(valid))).toBe(1);
    await expectHarmless(stack, before, [result.body, await logout.text()], [valid]);
  });
});

describe("cookies of sessions that ended", () => {
  it("the cookie of a logged-out session, replayed, is no session anywhere", async () => {
    const browser = new Browser();
    await signIn(browser, stack.app.url);
    const old = browser.cookie(stack.app.url, SESSION_COOKIE)!;
    expect((await postLogout(browser, stack.app.url)).status).toBe(302);

    const before = await snapshot(stack);
    const account = await visitWith(`${SESSION_COOKIE}=${old}`);
    expectSignedOutRedirect(account);
    const sessions = await visitWith(`${SESSION_COOKIE}=${old}`, "/sessions");
    expect(sessions.status).toBe(302);
    expect(sessions.location).toBe("/login?returnTo=%2Fsessions");
    const home = await visitWith(`${SESSION_COOKIE}=${old}`, "/");
    expect(home.status).toBe(200);
    expect(home.body).not.toContain('data-testid="user-name"');
    await expectHarmless(stack, before, [account.body, sessions.body, home.body], [old]);
  });

  it("a sign-in started with a dead or planted signed id gets a new id, never a record under that id", async () => {
    const dead = new Browser();
    await signIn(dead, stack.app.url);
    const deadCookie = dead.cookie(stack.app.url, SESSION_COOKIE)!;
    await stack.redis.client.del(sessionKey(deadCookie));
    const planted = signedCookieFor(randomBytes(16).toString("base64url"));

    for (const cookie of [deadCookie, planted]) {
      const browser = new Browser();
      browser.setCookie(stack.app.url, SESSION_COOKIE, cookie);
      await startSignIn(browser, stack.app.url);
      const issued = browser.cookie(stack.app.url, SESSION_COOKIE)!;
      expect(sessionKey(issued)).not.toBe(sessionKey(cookie));
      expect(await stack.redis.client.exists(sessionKey(issued))).toBe(1);
      expect(await stack.redis.client.exists(sessionKey(cookie))).toBe(0);
    }
  });

  it("fixation: a pre-sign-in cookie planted in the victim's browser is not signed in after the victim signs in", async () => {
    // The attacker starts a sign-in, keeps its pre-sign-in cookie and the provider URL (with its state)...
    const attacker = new Browser();
    const attackerForm = await startSignIn(attacker, stack.app.url);
    const planted = attacker.cookie(stack.app.url, SESSION_COOKIE)!;
    const authorizationUrl = attackerForm.hops.find((h) => h.url.includes("/auth?"))!.url;
    // ...plants the cookie in the victim's browser and sends the victim to that URL, where the victim signs in.
    const victim = new Browser();
    victim.setCookie(stack.app.url, SESSION_COOKIE, planted);
    const landed = await submitLogin(victim, await victim.navigate(authorizationUrl), "alice", "alice-password");
    expect(landed.url).toBe(`${stack.app.url}/account`);
    const victimCookie = victim.cookie(stack.app.url, SESSION_COOKIE)!;
    expect(sessionKey(victimCookie)).not.toBe(sessionKey(planted));
    expect(await stack.redis.client.exists(sessionKey(planted))).toBe(0);

    // The planted id is worth nothing to the attacker.
    const before = await snapshot(stack);
    const result = await visitWith(`${SESSION_COOKIE}=${planted}`);
    expectSignedOutRedirect(result);
    const sessions = await visitWith(`${SESSION_COOKIE}=${planted}`, "/sessions");
    expect(sessions.status).toBe(302);
    await expectHarmless(stack, before, [result.body, sessions.body], [victimCookie, planted]);
  });
});
