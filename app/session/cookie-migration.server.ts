/**
 * Moving live users from cookie sessions to Redis without signing anyone out
 * (SESSION_MIGRATION=cookie). A request that has no Redis session but carries
 * a valid session of the cookie design (the cookie `cookieName`, or its chunks
 * `cookieName.0`, `cookieName.1`…, verified with one of `secrets`) gets a new
 * session in Redis holding the same data and tokens, and is sent again to the
 * same URL (307: method and body kept) with the small cookie set and the
 * legacy cookie and its chunks cleared: the person carries on, signed in,
 * with no trip to the provider.
 *
 * - Each legacy cookie moves once: a digest of it is remembered in Redis until
 *   it would have expired, so a copy replayed afterwards (or after logout) is
 *   no session.
 * - An expired, tampered or wrongly signed legacy cookie, or one past the
 *   absolute session lifetime, is no session, as before.
 * - With Redis down nothing is cleared: the request fails with the store's
 *   error (a 503 at the edge) and the legacy cookie stays for the next try.
 *
 * docs/decisions/015-moving-cookie-sessions-to-redis.md; rollout in docs/operations.md.
 */
import { createHash } from "node:crypto";
import { createCookie, type Cookie } from "@remix-run/node";
import { logger } from "../platform/logger.server.ts";

export interface CookieMigrationOptions<Data> {
  cookieName: string;
  secrets: string[];
  /** The session this app would keep for the legacy data, or undefined when it is no session (not signed in, past its lifetime). */
  toSession(legacy: Record<string, unknown>): { data: Data; expiresAt: number } | undefined;
  /** Stores a new session with `data` and returns its Set-Cookie. */
  commit(data: Data): Promise<string>;
  /** Ends the session a Set-Cookie was made for (a migration that lost a race to another copy). */
  discard(setCookie: string): Promise<void>;
  /** True the first time a digest is claimed (until `ttl` seconds from now). */
  claim(digest: string, ttl: number): Promise<boolean>;
  /** The name of the app's own session cookie: when it is the legacy one's, the new value replaces it. */
  sessionCookieName: string;
  /** Told of each legacy session moved, or refused as moved already (for metrics). */
  onOutcome?(outcome: "moved" | "already_moved"): void;
}

/** The cookies of a request, by name (the last of a name wins, as browsers send the most specific first). */
function cookiesOf(header: string | null): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const separator = part.indexOf("=");
    if (separator > 0) {
      const name = part.slice(0, separator).trim();
      if (!cookies.has(name)) cookies.set(name, part.slice(separator + 1).trim());
    }
  }
  return cookies;
}

export function createCookieMigration<Data>(options: CookieMigrationOptions<Data>) {
  const legacy: Cookie = createCookie(options.cookieName, { secrets: options.secrets });
  const chunk = new RegExp(`^${options.cookieName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.(\\d+)$`);

  /** The legacy cookie's value, whole or joined from its chunks, and the names to clear. */
  function legacyCookie(request: Request): { value: string; names: string[] } | undefined {
    const cookies = cookiesOf(request.headers.get("Cookie"));
    const chunks = [...cookies.keys()]
      .map((name) => ({ name, index: Number(chunk.exec(name)?.[1] ?? NaN) }))
      .filter(({ index }) => Number.isInteger(index))
      .sort((a, b) => a.index - b.index);
    const whole = cookies.get(options.cookieName);
    const names = [...(whole === undefined ? [] : [options.cookieName]), ...chunks.map((c) => c.name)];
    if (whole !== undefined) return { value: whole, names };
    if (chunks.length === 0 || chunks[0]!.index !== 0) return undefined;
    return { value: chunks.map((c) => cookies.get(c.name)).join(""), names };
  }

  return {
    /**
     * The redirect that moves this request's cookie session into Redis, or
     * null when there is nothing to move (no legacy cookie, or one that is no
     * session). Throws the store's errors (Redis down): nothing is cleared then.
     */
    async migrate(request: Request): Promise<Response | null> {
      const found = legacyCookie(request);
      if (!found) return null;
      const parsed: unknown = await legacy.parse(`${options.cookieName}=${found.value}`).catch(() => null);
      if (typeof parsed !== "object" || parsed === null) return null; // unsigned, tampered, another secret, or not a session
      const session = options.toSession(parsed as Record<string, unknown>);
      if (!session) return null;
      const setCookie = await options.commit(session.data);
      const digest = createHash("sha256").update(found.value).digest("base64url");
      const ttl = session.expiresAt - Math.floor(Date.now() / 1000);
      if (!(await options.claim(digest, ttl))) {
        // Moved already (a copy, replayed): no session for it. (Or a parallel request of the same browser won.)
        await options.discard(setCookie);
        logger.warn("[session-migration] refused a cookie session that was already moved to Redis");
        options.onOutcome?.("already_moved");
        return null;
      }
      const headers = new Headers({ Location: new URL(request.url).pathname + new URL(request.url).search });
      headers.set("Cache-Control", "no-store");
      headers.append("Set-Cookie", setCookie);
      for (const name of found.names) {
        // The app's own cookie of the same name is being set right above: clearing it would undo that.
        if (name === options.sessionCookieName) continue;
        const secure = /^__(Host|Secure)-/.test(name) ? "; Secure" : ""; // browsers ignore these prefixes without it
        headers.append("Set-Cookie", `${name}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT${secure}`);
      }
      logger.info("[session-migration] moved a cookie session into Redis");
      options.onOutcome?.("moved");
      return new Response(null, { status: 307, headers });
    },
  };
}
