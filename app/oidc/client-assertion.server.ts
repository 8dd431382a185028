/**
 * `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): openid-client's
 * PrivateKeyJwt with the first key of OIDC_CLIENT_KEYS, its `kid` and `alg`
 * in the assertion's header; and the JWK Set the app publishes at
 * /auth/jwks.json, every key, public members only. Why:
 * docs/decisions/018-client-authentication-and-par.md
 */
import * as client from "openid-client";
import type { ClientKey, ClientKeyAlg, PublicJwk } from "../platform/client-keys.server.ts";

const WEBCRYPTO: Record<ClientKeyAlg, RsaHashedImportParams | EcKeyImportParams | { name: "Ed25519" }> = {
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  PS256: { name: "RSA-PSS", hash: "SHA-256" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  EdDSA: { name: "Ed25519" },
};

/** The client authentication that signs each request's assertion with `key` (the first of OIDC_CLIENT_KEYS). */
export async function privateKeyJwt(key: ClientKey): Promise<client.ClientAuth> {
  const cryptoKey = await crypto.subtle.importKey("jwk", key.privateJwk, WEBCRYPTO[key.alg], false, ["sign"]);
  return client.PrivateKeyJwt(
    { key: cryptoKey, kid: key.kid },
    {
      // oauth4webapi names an Ed25519 key's algorithm "Ed25519" (RFC 9864); the published key says EdDSA, which every provider knows.
      [client.modifyAssertion]: (header) => {
        header.alg = key.alg;
        Object.assign(header, key.thumbprints);
      },
    },
  );
}

/** The public JWK Set of the app's client keys, in their configured order. */
export function publicJwks(keys: readonly ClientKey[]): { keys: PublicJwk[] } {
  return { keys: keys.map((k) => ({ ...k.publicJwk })) };
}
