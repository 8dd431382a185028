/**
 * What a sender chooses ends as a 4xx with a clear message and a log line at
 * info or warning level naming its code, never as a 5xx, an error-level line
 * or a stack trace: methods the app does not use (TRACE made `new Request()`
 * throw, DELETE ran the logout action), a Host header or request target that
 * is no URL, a path whose percent-encoding is broken (static files included),
 * a form on the sessions page that cannot be read, asks for nothing the page
 * does, or names a session that is not one of the person's others. Redis is
 * left as it was each time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectRefusalLogged, newRequestId } from "../support/app-log.ts";
import { Browser } from "../support/browser.ts";
import { SESSION_COOKIE, signIn } from "../support/flows.ts";
import { rawRequest } from "../support/raw-http.ts";
import { sessionId } from "../support/redis-keys.ts";
import { startStack, type Stack } from "../support/stack.ts";
import { expectHarmless, snapshot } from "./assertions.ts";
import { createHash } from "node:crypto";

let stack: Stack;
let cookie: string;
beforeAll(async () => {
  stack = await startStack();
  const browser = new Browser();
  await signIn(browser, stack.app.url);
  cookie = browser.cookie(stack.app.url, SESSION_COOKIE)!;
});
afterAll(async () => {
  await stack?.stop();
});

/** A request written by hand, with a request id to find its log lines by. */
async function raw(requestLine: string, headers: Record<string, string> = {}, body = "") {
  const reqId = newRequestId();
  const all: Record<string, string> = { Host: `localhost:${stack.app.port}`, "X-Request-Id": reqId, ...headers };
  if (body || /^(POST|PUT|PATCH|DELETE) /.test(requestLine)) all["Content-Length"] = String(Buffer.byteLength(body));
  const head = [requestLine, ...Object.entries(all).map(([name, value]) => `${name}: ${value}`)].join("\r\n");
  return { ...(await rawRequest(stack.app.port, head, body)), reqId };
}

describe("methods the app does not use", () => {
  const methods = ["TRACE", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"];
  const paths = ["/", "/logout", "/sessions", "/auth/backchannel-logout", "/favicon.ico"];
  it(`${methods.join(", ")} on ${paths.join(", ")}: 405 with Allow, an info line, nothing changed (a signed-in DELETE /logout included)`, async () => {
    const before = await snapshot(stack);
    const bodies: string[] = [];
    for (const method of methods) {
      for (const path of paths) {
        const answer = await raw(`${method} ${path} HTTP/1.1`, { Cookie: `${SESSION_COOKIE}=${cookie}` });
        expect([method, path, answer.status]).toEqual([method, path, 405]);
        expect(answer.headers.allow).toBe("GET, HEAD, POST");
        expect(answer.body).toMatch(/only GET, HEAD, POST/);
        await expectRefusalLogged(stack.app, answer.reqId, "method_not_allowed", "info");
        bodies.push(answer.body);
      }
    }
    await expectHarmless(stack, before, bodies, [cookie]);
  });
});

describe("requests that make no URL", () => {
  const cases: Array<[string, string, Record<string, string>]> = [
    ["a Host header with a space", "GET / HTTP/1.1", { Host: "a b" }],
    ["an unclosed IPv6 Host", "GET /account HTTP/1.1", { Host: "[::1" }],
    ["a Host with a broken percent-escape", "GET / HTTP/1.1", { Host: "a%zz" }],
    ["an absolute URL as the target", "GET http://evil.example/ HTTP/1.1", {}],
    ["* as the target of a GET", "GET * HTTP/1.1", {}],
  ];
  it.each(cases)("%s: 400 malformed_request_target", async (_name, line, headers) => {
    const before = await snapshot(stack);
    const answer = await raw(line, headers);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatch(/not a valid URL/);
    await expectRefusalLogged(stack.app, answer.reqId, "malformed_request_target", "info");
    await expectHarmless(stack, before, answer.body);
  });

  it.each(["/%E0%A4%A", "/account%", "/assets/%E0%A4%A", "/favicon.ico%", "/sessions?x=1&%ZZ"])(
    "a path with broken percent-encoding (%s): 400 malformed_path, or answered as usual when only the query is broken",
    async (path) => {
      const before = await snapshot(stack);
      const answer = await raw(`GET ${path} HTTP/1.1`);
      if (path.includes("?")) {
        expect(answer.status).toBe(302); // the query is the page's business: signed out, to the sign-in page
        await expectHarmless(stack, before, answer.body);
        return;
      }
      expect(answer.status).toBe(400);
      expect(answer.body).toMatch(/percent-encoding/);
      await expectRefusalLogged(stack.app, answer.reqId, "malformed_path", "info");
      await expectHarmless(stack, before, answer.body);
    },
  );
});

describe("forms of the sessions page", () => {
  const post = (body: string, contentType?: string, path = "/sessions") =>
    raw(
      `POST ${path} HTTP/1.1`,
      {
        Cookie: `${SESSION_COOKIE}=${cookie}`,
        Origin: stack.app.url,
        ...(contentType ? { "Content-Type": contentType } : {}),
      },
      body,
    );
  const form = "application/x-www-form-urlencoded";
  const handleOf = (cookieValue: string) =>
    createHash("sha256").update(sessionId(cookieValue)).digest("base64url").slice(0, 16);

  const cases: Array<[string, number, string, "info" | "warn", () => ReturnType<typeof post>]> = [
    ["no body", 400, "unreadable_form", "info", () => post("")],
    [
      "a JSON body",
      400,
      "unreadable_form",
      "info",
      () => post(JSON.stringify({ intent: "end-others" }), "application/json"),
    ],
    [
      "a broken multipart body",
      400,
      "unreadable_form",
      "info",
      () => post("garbage", "multipart/form-data; boundary=x"),
    ],
    ["multipart without a boundary", 400, "unreadable_form", "info", () => post("garbage", "multipart/form-data")],
    [
      "a broken body as a data request (single fetch)",
      400,
      "unreadable_form",
      "info",
      () => post("garbage", "multipart/form-data; boundary=x", "/sessions.data"),
    ],
    ["no intent", 400, "unknown_intent", "info", () => post("x=1", form)],
    ["an unknown intent", 400, "unknown_intent", "info", () => post("intent=drop-tables", form)],
    ["end, without a handle", 400, "invalid_session_handle", "warn", () => post("intent=end", form)],
    [
      "end, with a handle of another shape",
      400,
      "invalid_session_handle",
      "warn",
      () => post("intent=end&handle=..%2F..%2Fetc", form),
    ],
    [
      "end, with a session id instead of a handle",
      400,
      "invalid_session_handle",
      "warn",
      () => post(`intent=end&handle=${sessionId(cookie)}`, form),
    ],
    [
      "end, with a handle that names no session",
      404,
      "unknown_session",
      "warn",
      () => post("intent=end&handle=AAAAAAAAAAAAAAAA", form),
    ],
    [
      "end, with this browser's own handle",
      404,
      "unknown_session",
      "warn",
      () => post(`intent=end&handle=${handleOf(cookie)}`, form),
    ],
  ];
  it.each(cases)("%s: %i %s", async (_name, status, code, level, send) => {
    const before = await snapshot(stack);
    const answer = await send();
    expect(answer.status).toBe(status);
    await expectRefusalLogged(stack.app, answer.reqId, code, level);
    // A data request (single fetch) is answered in turbo-stream, a page request with the page.
    if (!_name.includes("as a data request")) {
      expect(answer.headers["content-type"]).toContain("text/html");
      expect(answer.body).toContain(`data-code="${code}"`);
      expect(answer.body).toMatch(/Nothing was changed|could not be read as a form/);
    }
    await expectHarmless(stack, before, answer.body, [cookie]);
  });

  it("the count in ?ended= is shown only when it is one", async () => {
    const answer = await raw("GET /sessions?ended=abc HTTP/1.1", { Cookie: `${SESSION_COOKIE}=${cookie}` });
    expect(answer.status).toBe(200);
    expect(answer.body).not.toMatch(/Ended NaN/);
    expect(answer.body).not.toMatch(/role="status"/);
  });
});
