/**
 * The design this project replaces, kept for comparison (SESSION_STORE=cookie):
 * the whole session, tokens included, signed into the cookie. Remix's
 * cookie storage, with its size limit made a typed error: the serialized
 * cookie is measured before it is handed out. With TOKEN_ENCRYPTION_KEYS,
 * each token is sealed on its own in the cookie (as an encrypted-cookie
 * design such as next-auth's would).
 */
import { createCookieSessionStorage, type Cookie, type SessionStorage } from "@remix-run/node";
import { isSealedToken, sealToken, type EncryptionKey } from "../platform/token-encryption.server.ts";

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

export function createCookieDesignStorage<Data>(
  cookie: Cookie,
  sealWith: EncryptionKey | undefined,
  tokenFields: readonly string[],
): SessionStorage<Data, Data> {
  const storage = createCookieSessionStorage<Data, Data>({ cookie });
  /** The data with each token sealed (once: a token read back from the cookie is already sealed). */
  const sealed = (data: Record<string, unknown>) => {
    if (!sealWith) return data;
    const copy = { ...data };
    for (const field of tokenFields) {
      const value = copy[field];
      if (typeof value === "string" && value && !isSealedToken(value)) copy[field] = sealToken(sealWith, field, value);
    }
    return copy;
  };
  return {
    ...storage,
    async commitSession(session, options) {
      const header = await cookie.serialize(sealed(session.data as Record<string, unknown>), options);
      if (header.length > MAX_COOKIE_BYTES) throw new SessionTooLargeError(header.length);
      return header;
    },
  };
}
