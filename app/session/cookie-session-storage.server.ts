/**
 * The design this project replaces, kept for comparison (SESSION_STORE=cookie):
 * the whole session, tokens included, signed into the cookie. Remix's
 * cookie storage, with its size limit made a typed error: the serialized
 * cookie is measured before it is handed out.
 */
import { createCookieSessionStorage, type Cookie, type SessionStorage } from "@remix-run/node";

/** Browsers keep at most 4096 bytes of one cookie (name, value and attributes); Remix refuses to commit more. */
export const MAX_COOKIE_BYTES = 4096;

/** The cookie design's limit: a session that does not fit in a cookie. */
export class SessionTooLargeError extends Error {
  readonly code = "session_too_large";
  constructor(readonly bytes: number) {
    super(
      `The session (${bytes} bytes as a cookie) does not fit in a cookie: browsers keep at most ${MAX_COOKIE_BYTES} bytes. ` +
        "That is the limit of the cookie-based design (SESSION_STORE=cookie); the Redis design (SESSION_STORE=redis, the default) has none.",
    );
    this.name = "SessionTooLargeError";
  }
}

export function createCookieDesignStorage<Data>(cookie: Cookie): SessionStorage<Data, Data> {
  const storage = createCookieSessionStorage<Data, Data>({ cookie });
  return {
    ...storage,
    async commitSession(session, options) {
      const header = await cookie.serialize(session.data, options);
      if (header.length > MAX_COOKIE_BYTES) throw new SessionTooLargeError(header.length);
      return header;
    },
  };
}
