/**
 * DPoP (RFC 9449, OIDC_DPOP=on): one key pair per session, so the provider
 * binds the session's access tokens to that key (the `cnf.jkt` of the token,
 * RFC 9449 §6) and a stolen token is useless without the private key.
 *
 * - The key pair is made (ES256) when a sign-in starts, kept with the flow in
 *   the pre-sign-in session record (sealed with TOKEN_ENCRYPTION_KEYS when
 *   set), and moves into the session's token record at the callback: never in
 *   the hot record or the cookie. docs/decisions/019-dpop.md says why.
 * - Every request to the provider made with it (code exchange, refresh,
 *   userinfo) carries a proof signed with it; openid-client answers a
 *   `use_dpop_nonce` challenge by retrying once with the nonce the provider
 *   sent (RFC 9449 §8). The latest nonce of each server is shared by every
 *   session of this process, so one challenge serves them all until the
 *   server changes its nonce.
 */
import { remember } from "@epic-web/remember";
import * as client from "openid-client";
import { getEnv } from "../platform/env.server.ts";
import { openToken, sealToken } from "../platform/token-encryption.server.ts";

/** The stored DPoP key of a session or flow cannot be used (corrupt, or not a P-256 private JWK). */
export class DPoPKeyError extends Error {
  readonly code = "dpop_key_unreadable";
}

export interface DPoPKey {
  /** The private key as an exported JWK (JSON text): what is stored. */
  jwk: string;
  keyPair: CryptoKeyPair;
  /** Its JWK SHA-256 thumbprint (RFC 7638): the `dpop_jkt` and the tokens' `cnf.jkt`. */
  thumbprint: string;
}

/** The token type as RFC 9449 and RFC 6750 spell it (openid-client lowercases it): `DPoP`, `Bearer`, or as given. */
export function tokenTypeName(type: string | undefined): string | undefined {
  if (type?.toLowerCase() === "dpop") return "DPoP";
  if (type?.toLowerCase() === "bearer") return "Bearer";
  return type;
}

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;

/** RFC 7638 thumbprint of an EC public JWK. */
async function thumbprintOf(jwk: JsonWebKey): Promise<string> {
  const members = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return Buffer.from(await crypto.subtle.digest("SHA-256", Buffer.from(members, "utf8"))).toString("base64url");
}

/** A new ES256 key pair for one session. */
export async function newDPoPKey(): Promise<DPoPKey> {
  const generated = await client.randomDPoPKeyPair("ES256", { extractable: true });
  const jwk = await crypto.subtle.exportKey("jwk", generated.privateKey);
  return importDPoPKey(JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d }));
}

/** The key pair of a stored private JWK. Throws DPoPKeyError when it cannot be used. */
export async function importDPoPKey(stored: string): Promise<DPoPKey> {
  let jwk: JsonWebKey;
  try {
    jwk = JSON.parse(stored) as JsonWebKey;
  } catch {
    throw new DPoPKeyError("the stored DPoP key is not JSON");
  }
  const fields = [jwk?.x, jwk?.y, jwk?.d];
  if (jwk?.kty !== "EC" || jwk.crv !== "P-256" || fields.some((f) => typeof f !== "string")) {
    throw new DPoPKeyError("the stored DPoP key is not a P-256 private JWK");
  }
  const publicJwk = { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y };
  try {
    const keyPair = {
      // The private key stays inside WebCrypto; the public one must be extractable (it goes into each proof).
      privateKey: await crypto.subtle.importKey("jwk", { ...publicJwk, d: jwk.d }, ALGORITHM, false, ["sign"]),
      publicKey: await crypto.subtle.importKey("jwk", publicJwk, ALGORITHM, true, ["verify"]),
    };
    return { jwk: stored, keyPair, thumbprint: await thumbprintOf(publicJwk) };
  } catch (error) {
    throw new DPoPKeyError("the stored DPoP key does not import", { cause: error });
  }
}

/** The key as the flow keeps it in the pre-sign-in record: sealed when TOKEN_ENCRYPTION_KEYS is set. */
export function sealFlowKey(key: DPoPKey): string {
  const [seal] = getEnv().tokenEncryptionKeys;
  return seal ? sealToken(seal, "dpopKey", key.jwk) : key.jwk;
}

/** The flow's key back. Throws DPoPKeyError (or TokenDecryptionError when its encryption key is gone). */
export function openFlowKey(stored: string): Promise<DPoPKey> {
  return importDPoPKey(openToken(getEnv().tokenEncryptionKeys, "dpopKey", stored));
}

const NONCES_KEPT = 100;

/** The latest DPoP nonce of each server (by origin), shared by every session of this process. */
const nonces = remember("rro:dpop-nonces", () => new Map<string, string>());

interface NonceCaching {
  cacheNonce?: (response: Response, url: URL) => void;
}

/**
 * A DPoP handle of openid-client for one request or sequence of requests with
 * this key. A proof without a nonce of its own takes the server's latest one
 * seen by this process; every nonce a server sends is kept for the others.
 */
export function dpopHandle(config: client.Configuration, key: DPoPKey): client.DPoPHandle {
  const handle = client.getDPoPHandle(config, key.keyPair, {
    [client.modifyAssertion]: (_header, payload) => {
      if (payload.nonce !== undefined || typeof payload.htu !== "string") return;
      const nonce = nonces.get(new URL(payload.htu).origin);
      if (nonce) payload.nonce = nonce;
    },
  });
  // The handle's own nonce cache (per handle) is internal to oauth4webapi: wrap it when it is there,
  // else each handle learns its nonce by one challenge, which is still correct.
  const caching = handle as unknown as NonceCaching;
  const own = caching.cacheNonce?.bind(handle);
  if (own) {
    caching.cacheNonce = (response, url) => {
      const nonce = response.headers.get("dpop-nonce");
      if (nonce) {
        nonces.delete(url.origin);
        if (nonces.size >= NONCES_KEPT) nonces.delete(nonces.keys().next().value!);
        nonces.set(url.origin, nonce);
      }
      own(response, url);
    };
  }
  return handle;
}
