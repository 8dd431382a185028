/**
 * A SessionStorage over the session store: the cookie carries only the signed
 * id, the store does the rest. A thin adapter, for Remix v2 and React Router
 * v7 alike (pass the framework's `createSessionStorage`): `split` says which
 * of the data the app sets goes to the hot record and which to the cold one
 * (a session read back holds only the hot part), and `destroySession` hands
 * the store the session's data, so its index entries go without reading the
 * record first.
 */
import type { Cookie, Session, SessionIdStorageStrategy } from "@remix-run/node";
import { ttlSeconds, type Indexed, type RedisSessionStore } from "./session-store.server.ts";

/** What `createSessionStorage` returns, in @remix-run/node and in react-router alike (their types differ only in name). */
interface AnySessionStorage {
  destroySession(session: { id: string; data: unknown }, options?: object): Promise<string>;
}

/**
 * `createSessionStorage` is @remix-run/node's or react-router's (the same
 * function, typed by each package): the storage returned is that framework's.
 */
export function createRedisSessionStorage<
  Data extends Hot,
  Hot extends Indexed,
  Cold,
  Storage extends AnySessionStorage,
>(options: {
  createSessionStorage: (strategy: SessionIdStorageStrategy<Data, Data>) => Storage;
  cookie: Cookie;
  store: RedisSessionStore<Hot, Cold>;
  split: (data: Data) => { hot: Hot; cold: Cold | undefined };
}): Storage {
  const { cookie, store, split } = options;
  const ttl = (expires: Date | undefined) => ttlSeconds(store.idleTimeout, expires);
  // What the framework hands over is the data as the app set it (no flash values are used).
  const parts = (data: Session<Data, Data>["data"]) => split(data as unknown as Data);
  const storage = options.createSessionStorage({
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
    deleteData: async (id) => {
      await store.destroy(id);
    },
  });
  return {
    ...storage,
    async destroySession(session: Session<Data, Data>, serializeOptions?: object) {
      await store.destroy(session.id, parts(session.data).hot);
      return cookie.serialize("", { ...serializeOptions, maxAge: undefined, expires: new Date(0) });
    },
  };
}
