import { describe, expect, it } from "vitest";
import { LogoutTokenError } from "../oidc/backchannel-logout.server.ts";
import { JwksUnavailableError } from "../oidc/provider-keys.server.ts";
import { SignInError } from "../oidc/sign-in-errors.server.ts";
import { RedisCommandError, RedisUnavailableError } from "../platform/redis.server.ts";
import { SessionTooLargeError } from "../session/cookie-session-storage.server.ts";
import { answerErrors, RequestRefusal } from "./http-errors.server.ts";

/** What a wrapped loader that throws `error` ends with: a Response it throws, or the error itself. */
async function outcome(error: unknown, format?: "page" | "oauth") {
  try {
    await answerErrors(async () => {
      throw error;
    }, format)(undefined);
  } catch (thrown) {
    return thrown;
  }
  throw new Error("the wrapped handler did not throw");
}

describe("answerErrors", () => {
  it("passes a thrown Response (a redirect) through untouched", async () => {
    const redirect = new Response(null, { status: 302, headers: { Location: "/login" } });
    expect(await outcome(redirect)).toBe(redirect);
  });

  it("turns a Redis outage into a 503 with Retry-After and a message that says nothing changed", async () => {
    const response = (await outcome(new RedisUnavailableError(new Error("connect ECONNREFUSED")))) as Response;
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).toBe("5");
    expect(await response.json()).toEqual({
      code: "redis_unavailable",
      message: expect.stringContaining("Nothing was changed"),
    });
  });

  it("gives each sign-in error code its status: 4xx for what the request or response got wrong, 5xx for faults", async () => {
    const codes = [
      ["unknown_state", 400],
      ["provider_error", 400],
      ["invalid_response", 400],
      ["userinfo_subject_mismatch", 400],
      ["client_authentication_failed", 500],
      ["provider_misconfigured", 500],
      ["missing_id_token", 502],
      ["unexpected_provider_response", 502],
      ["provider_unavailable", 503],
    ] as const;
    for (const [code, status] of codes) {
      const response = (await outcome(new SignInError(code, "why"))) as Response;
      expect([code, response.status]).toEqual([code, status]);
      expect(response.headers.has("Retry-After"), code).toBe(status === 503);
    }
  });

  it("shows a session too large for a cookie as a 500 page with its code", async () => {
    const response = (await outcome(new SessionTooLargeError(5000))) as Response;
    expect(response.status).toBe(500);
    expect((await response.json()).code).toBe("session_too_large");
  });

  it("answers the back-channel endpoint in OAuth's error format", async () => {
    const refused = (await outcome(new LogoutTokenError("unexpected_typ", "unexpected typ"), "oauth")) as Response;
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: "invalid_request", error_description: "unexpected typ" });
    const unavailable = (await outcome(new RedisUnavailableError(new Error("down")), "oauth")) as Response;
    expect(unavailable.status).toBe(503);
    expect(await unavailable.json()).toEqual({ error: "temporarily_unavailable" });
  });

  it("answers the provider's keys out of reach with a retryable 503, and a refused request with its own status and code", async () => {
    const keys = (await outcome(
      new JwksUnavailableError("the provider's keys could not be fetched"),
      "oauth",
    )) as Response;
    expect(keys.status).toBe(503);
    expect(keys.headers.get("Retry-After")).toBe("5");
    expect(await keys.json()).toEqual({ error: "temporarily_unavailable" });
    const refused = (await outcome(new RequestRefusal(404, "unknown_session", "Not one of yours."))) as Response;
    expect(refused.status).toBe(404);
    expect(await refused.json()).toEqual({ code: "unknown_session", message: "Not one of yours." });
  });

  it("rethrows what it does not know (a Redis reply that is a bug, any other error) for Remix to log as a 500", async () => {
    const commandError = new RedisCommandError(
      new Error("WRONGTYPE Operation against a key holding the wrong kind of value"),
    );
    expect(await outcome(commandError)).toBe(commandError);
    const bug = new Error("bug");
    expect(await outcome(bug)).toBe(bug);
  });
});
