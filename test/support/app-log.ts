/**
 * The app's JSON log as a test reads it: the lines one request wrote (found
 * by the X-Request-Id the test sent, which the app keeps and puts on every
 * line written while handling it), and the checks a refusal's lines must
 * pass: one line at the expected level with the expected code, no stack, and
 * nothing at error level.
 */
import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import type { App } from "./stack.ts";

export interface LogLine {
  level: string;
  msg: string;
  code?: string;
  reqId?: string;
  req?: { method: string; path: string };
  res?: { statusCode: number };
  err?: { stack?: string };
  [field: string]: unknown;
}

/** A fresh request id to send as X-Request-Id (a safe token: the app keeps it). */
export const newRequestId = () => `test-${randomUUID()}`;

/** Every JSON line the app has written on stdout. */
export function logLines(app: App): LogLine[] {
  return app
    .stdout()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as LogLine);
}

/**
 * The lines of the request with this id, once its request line (written as
 * the response leaves) has reached the test: stdout is read asynchronously.
 */
export async function linesOf(app: App, reqId: string): Promise<LogLine[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const lines = logLines(app).filter((line) => line.reqId === reqId);
    if (lines.some((line) => line.res)) return lines;
    if (Date.now() > deadline) throw new Error(`no request line with reqId ${reqId} in:\n${app.stdout().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A refusal's log: exactly one line (besides the request line) with `code`,
 * at `level`, whose message names the code; no stack anywhere; no line at
 * error level or above (the request line included, as the status is a 4xx).
 */
export async function expectRefusalLogged(app: App, reqId: string, code: string, level: "warn" | "info" = "warn") {
  const lines = await linesOf(app, reqId);
  const refusals = lines.filter((line) => !line.res);
  expect(
    refusals.map((line) => ({ level: line.level, code: line.code })),
    `the log of request ${reqId}`,
  ).toEqual([{ level, code }]);
  expect(refusals[0]!.msg).toContain(code);
  for (const line of lines) {
    expect(line.err, `a stack in "${line.msg}"`).toBeUndefined();
    expect(["error", "fatal"], `"${line.msg}" is at ${line.level}`).not.toContain(line.level);
  }
  expect(lines.find((line) => line.res)!.res!.statusCode).toBeLessThan(500);
  return refusals[0]!;
}
