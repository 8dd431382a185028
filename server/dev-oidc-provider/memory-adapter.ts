/**
 * Storage for the development provider: everything in memory, each entry
 * kept until it expires. oidc-provider's own in-memory adapter is an LRU of
 * at most 1,000 entries, which drops sign-ins in progress (interactions,
 * codes) when a few hundred people sign in at once, as `npm run chaos` does.
 * One store per provider instance: tests start several in one process.
 */
import type { Adapter, AdapterPayload } from "oidc-provider";

interface Entry {
  value: unknown;
  expiresAt: number;
}

const SWEEP_EVERY_MS = 60_000;

export function createMemoryAdapter(): new (model: string) => Adapter {
  const store = new Map<string, Entry>();
  const get = <T>(key: string): T | undefined => {
    const entry = store.get(key);
    if (entry && entry.expiresAt <= Date.now()) store.delete(key);
    return entry && entry.expiresAt > Date.now() ? (entry.value as T) : undefined;
  };
  const set = (key: string, value: unknown, expiresIn?: number) =>
    store.set(key, { value, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
  setInterval(() => {
    const now = Date.now();
    for (const [key, entry] of store) if (entry.expiresAt <= now) store.delete(key);
  }, SWEEP_EVERY_MS).unref();

  return class MemoryAdapter implements Adapter {
    constructor(private readonly model: string) {}

    private key(id: string) {
      return `${this.model}:${id}`;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
      set(this.key(id), payload, expiresIn);
      if (this.model === "Session" && payload.uid) set(`sessionUid:${payload.uid}`, id, expiresIn);
      if (payload.userCode) set(`userCode:${payload.userCode}`, id, expiresIn);
      if (payload.grantId) {
        // Tokens of a grant, so that revoking the grant (logout, refresh token reuse) finds them all.
        const grantKey = `grant:${payload.grantId}`;
        const members = get<Set<string>>(grantKey) ?? new Set<string>();
        members.add(this.key(id));
        set(grantKey, members);
      }
    }

    async find(id: string) {
      return get<AdapterPayload>(this.key(id));
    }

    async findByUid(uid: string) {
      const id = get<string>(`sessionUid:${uid}`);
      return id ? this.find(id) : undefined;
    }

    async findByUserCode(userCode: string) {
      const id = get<string>(`userCode:${userCode}`);
      return id ? this.find(id) : undefined;
    }

    async consume(id: string) {
      const payload = get<AdapterPayload>(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id: string) {
      store.delete(this.key(id));
    }

    async revokeByGrantId(grantId: string) {
      for (const key of get<Set<string>>(`grant:${grantId}`) ?? []) store.delete(key);
      store.delete(`grant:${grantId}`);
    }
  };
}
