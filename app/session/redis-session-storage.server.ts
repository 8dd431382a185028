/**
 * Remix's SessionStorage over the session store: the cookie carries only the
 * signed id, the store does the rest. A thin adapter; the one thing it adds
 * to Remix's `createSessionStorage` is a `destroySession` that hands the store
 * the session's data, so its index entries go without reading the record first.
 */
import { createSessionStorage, type Cookie, type Session, type SessionStorage } from "@remix-run/node";
import { ttlSeconds, type Indexed, type RedisSessionStore } from "./session-store.server.ts";

export function createRedisSessionStorage<Data extends Indexed>(options: {
  cookie: Cookie;
  store: RedisSessionStore<Data>;
}): SessionStorage<Data, Data> {
  const { cookie, store } = options;
  const ttl = (expires: Date | undefined) => ttlSeconds(store.idleTimeout, expires);
  // What Remix hands over is the data as the app set it (this app uses no flash values).
  const stored = (data: Session<Data, Data>["data"]) => data as unknown as Data;
  const storage = createSessionStorage<Data, Data>({
    cookie,
    createData: (data, expires) => store.create(stored(data), ttl(expires)),
    readData: (id) => store.read(id) as Promise<Session<Data, Data>["data"] | null>,
    updateData: (id, data, expires) => store.update(id, stored(data), ttl(expires)),
    deleteData: (id) => store.destroy(id),
  });
  return {
    ...storage,
    async destroySession(session, serializeOptions) {
      await store.destroy(session.id, stored(session.data));
      return cookie.serialize("", { ...serializeOptions, maxAge: undefined, expires: new Date(0) });
    },
  };
}
