/**
 * Sessions a person can see and end: every live session of the signed-in
 * user (found through the user index), described for a person, and ending
 * one of them or all but the current one. Ending takes effect on the other
 * browser's next request (its record is gone). Sessions are named by a
 * handle (a hash of the id), never by the id itself. The cookie design keeps
 * no server-side record to list or end: there, the list is empty.
 */
import { createHash } from "node:crypto";
import { getEnv } from "../platform/env.server.ts";
import type { AppSession } from "./session-data.ts";
import { destroySessions, sessionsOf } from "./session.server.ts";
import { describeUserAgent } from "./user-agent.ts";

export interface SessionSummary {
  handle: string;
  current: boolean;
  device: string;
  ip: string | null;
  /** Epoch seconds. */
  signedInAt: number | null;
  lastActiveAt: number;
}

const handleFor = (id: string) => createHash("sha256").update(id).digest("base64url").slice(0, 16);

/** Whether a value is shaped like a handle this page gives out (16 base64url characters). */
export const isSessionHandle = (value: string) => /^[A-Za-z0-9_-]{16}$/.test(value);

async function live(session: AppSession) {
  const sub = session.get("user")?.sub;
  return sub ? sessionsOf({ sub }) : [];
}

/** The user's sessions, the current one first, then the most recently active. */
export async function listUserSessions(session: AppSession): Promise<SessionSummary[]> {
  const now = Math.floor(Date.now() / 1000);
  const idle = getEnv().sessionIdleTimeout;
  return (await live(session))
    .map(({ id, data, ttl }) => ({
      handle: handleFor(id),
      current: id === session.id,
      device: data.device ?? describeUserAgent(undefined),
      ip: data.ip ?? null,
      signedInAt: data.signedInAt ?? null,
      lastActiveAt: now - Math.max(0, idle - ttl), // every read resets the TTL to the idle timeout
    }))
    .sort((a, b) => Number(b.current) - Number(a.current) || b.lastActiveAt - a.lastActiveAt);
}

/** Ends one other session of this user (by handle), or all others. Returns how many ended. */
export async function endOtherSessions(session: AppSession, which: { handle: string } | "all-others"): Promise<number> {
  const others = (await live(session)).filter(({ id }) => id !== session.id);
  const ending = which === "all-others" ? others : others.filter(({ id }) => handleFor(id) === which.handle);
  await destroySessions(ending, "revoked");
  return ending.length;
}
