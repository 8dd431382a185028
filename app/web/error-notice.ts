/**
 * What an error page says, from what a route threw: the `{ code, message }`
 * of an answer made by http-errors.server.ts, else a plain line by status.
 * Never the error itself (in production Remix hands the browser no details
 * anyway, and a stack trace is never shown).
 */
import { isRouteErrorResponse } from "@remix-run/react";

export interface ErrorNotice {
  status: number;
  code?: string;
  message: string;
}

const UNEXPECTED = "An unexpected error happened on our side. It has been logged; please try again.";

export function errorNotice(error: unknown): ErrorNotice {
  if (!isRouteErrorResponse(error)) return { status: 500, message: UNEXPECTED };
  const data: unknown = error.data;
  if (typeof data === "object" && data && "message" in data) {
    const code = "code" in data && typeof data.code === "string" ? data.code : undefined;
    return { status: error.status, code, message: String(data.message) };
  }
  if (typeof data === "string" && data) return { status: error.status, message: data };
  return { status: error.status, message: error.statusText || `The request failed with status ${error.status}.` };
}
