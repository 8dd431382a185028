/**
 * A SessionStorage over the session store: the cookie carries only the signed
 * id, the store does the rest. A thin adapter, for Remix v2 and React Router
 * v7 alike (pass the framework's `createSessionStorage`): `split` says which
 * of the data the app sets goes to the hot record and which to the cold one
 * (a session read back holds only the hot part), and `destroySession` hands
 * the store the session's data, so its index entries go without reading the
 * record first.
 */
import type { Cookie, Session, SessionIdStorageStrategy, SessionStorage } from "@remix-run/node";
import { ttlSeconds, type Indexed, type RedisSessionStore } from "./session-store.server.ts";

/** `createSessionStorage` of @remix-run/node or of react-router: the same function, the same shape. */
export type CreateSessionStorage = <Data, FlashData = Data>(
  strategy: SessionIdStorageStrategy<Data, FlashData>,
) => SessionStorage<Data, FlashData>;

export function createRedisSessionStorage<Data extends Hot, Hot extends Indexed, Cold>(options: {
  createSessionStorage: CreateSessionStorage;
  cookie: Cookie;
  store: RedisSessionStore<Hot, Cold>;
  split: (data: Data) => { hot: Hot; cold: Cold | undefined };
}): SessionStorage<Data, Data> {
  const { cookie, store, split } = options;
  const ttl = (expires: Date | undefined) => ttlSeconds(store.idleTimeout, expires);
  // What the framework hands over is the data as the app set it (no flash values are used).
  const parts = (data: Session<Data, Data>["data"]) => split(data as unknown as Data);
  const storage = options.createSessionStorage<Data, Data>({
    cookie,
    createData: (data, expires) => {
      const { hot, cold } = parts(data);
      return store.create(hot, cold, ttl(expires));
    },
    readData: (id) => store.read(id) as Promise<Session<Data, Data>["data"] | null>,
    updateData: (id, data, expires) => {
      const { hot, cold } = parts(data);
      return store.update(id, hot, ttl(expires), cold);
    },
    deleteData: (id) => store.destroy(id),
  });
  return {
    ...storage,
    async destroySession(session, serializeOptions) {
      await store.destroy(session.id, parts(session.data).hot);
      return cookie.serialize("", { ...serializeOptions, maxAge: undefined, expires: new Date(0) });
    },
  };
}
