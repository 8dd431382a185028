/**
 * The ID token's signature (OpenID Connect Core §3.1.3.7 step 6), checked
 * against the provider's keys that back-channel logout uses too
 * (provider-keys.server.ts): one key cache and one refresh policy for every
 * token this app verifies (docs/decisions/020-provider-key-rotation-and-jwks-refresh.md).
 * openid-client checks everything else (alg, iss, aud, exp, nonce…) first;
 * its own key cache (oauth4webapi's: 5 minutes, an unknown `kid` refused for
 * 60 s after a fetch) is not used.
 *
 * Which key: the one with the token's `kid`. A `kid` no cached key has means
 * the provider has rotated its keys since they were fetched; as the ID token
 * came straight from the token endpoint (an answer to this app's own
 * authenticated request, never a browser's), the keys are fetched again at
 * once, without the 30 s cooldown that protects the back-channel endpoint
 * from forged `kid`s (a failed fetch still waits 5 s). Without a `kid`, each
 * published key of the token's type is tried: with one key that is the key;
 * with several, the token is accepted if one of them verifies it.
 */
import { compactVerify, decodeProtectedHeader, errors as joseErrors, type ProtectedHeaderParameters } from "jose";
import { JwksUnavailableError, providerKeys, type ProviderKeys } from "./provider-keys.server.ts";

/** Why an ID token's signature was refused. */
export type IdTokenSignatureRefusal =
  /** No key of the provider's (fetched again just now) has the token's `kid` and type. */
  | "unknown_key"
  /** A key matched, and the signature does not verify with it. */
  | "bad_signature"
  /** The token cannot be verified at all (not a JWS, an algorithm jose does not support…). */
  | "malformed"
  /** The provider's discovery document has no `jwks_uri`: no ID token can be verified (its configuration). */
  | "no_jwks_uri";

export class IdTokenSignatureError extends Error {
  constructor(
    readonly code: IdTokenSignatureRefusal,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "IdTokenSignatureError";
  }
}

const quote = (value: unknown) => JSON.stringify(String(value).slice(0, 80));

/** One verification against the cached keys; several candidates (no `kid`): each is tried. */
async function verifyOnce(idToken: string, keys: ProviderKeys, alg: string): Promise<void> {
  const options = { algorithms: [alg] };
  try {
    await compactVerify(idToken, keys.resolve, options);
  } catch (error) {
    if (!(error instanceof joseErrors.JWKSMultipleMatchingKeys)) throw error;
    for await (const key of error) {
      try {
        await compactVerify(idToken, key, options);
        return;
      } catch (attempt) {
        if (!(attempt instanceof joseErrors.JWSSignatureVerificationFailed)) throw attempt;
      }
    }
    throw new joseErrors.JWSSignatureVerificationFailed();
  }
}

function refusal(error: unknown, header: ProtectedHeaderParameters): unknown {
  if (error instanceof JwksUnavailableError) return error;
  const kid = header.kid === undefined ? "without a kid" : `with kid ${quote(header.kid)}`;
  if (error instanceof joseErrors.JWKSNoMatchingKey) {
    return new IdTokenSignatureError(
      "unknown_key",
      `no key the provider publishes verifies ${header.alg} ID tokens ${kid} (its signature cannot be checked)`,
      { cause: error },
    );
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new IdTokenSignatureError("bad_signature", `the ID token's signature (${kid}) does not verify`, {
      cause: error,
    });
  }
  if (error instanceof joseErrors.JOSEError) {
    return new IdTokenSignatureError("malformed", `the ID token's signature cannot be checked: ${error.message}`, {
      cause: error,
    });
  }
  return error;
}

/**
 * Resolves when the ID token is signed by one of the keys at the `jwks_uri`
 * of the provider's metadata. Throws IdTokenSignatureError (refuse the token)
 * or JwksUnavailableError (the keys cannot be fetched: retry later).
 */
export async function verifyIdTokenSignature(idToken: string, metadata: { jwks_uri?: string }): Promise<void> {
  const jwksUri = metadata.jwks_uri;
  if (!jwksUri) {
    throw new IdTokenSignatureError("no_jwks_uri", "the provider's discovery document has no jwks_uri");
  }
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(idToken);
  } catch (error) {
    throw new IdTokenSignatureError("malformed", "the ID token's header cannot be read", { cause: error });
  }
  if (typeof header.alg !== "string") throw new IdTokenSignatureError("malformed", "the ID token has no alg");
  const keys = providerKeys(jwksUri);
  const fetchedBefore = keys.fetchedAt();
  try {
    await verifyOnce(idToken, keys, header.alg);
    return;
  } catch (error) {
    // An unknown kid that jose did not fetch the keys for (its cooldown): the provider's new key, fetch them now.
    const fetchedMeanwhile = keys.fetchedAt() !== fetchedBefore;
    if (!(error instanceof joseErrors.JWKSNoMatchingKey) || fetchedMeanwhile) throw refusal(error, header);
  }
  try {
    await keys.resolve.reload();
    await verifyOnce(idToken, keys, header.alg);
  } catch (error) {
    throw refusal(error, header);
  }
}

/** The longest a logout waits for the keys to be fetched again before it sends the hint anyway. */
const HINT_CHECK_TIMEOUT_MS = 1_000;

/**
 * Whether the provider still publishes the key that signed a stored ID token,
 * as far as the cached keys say (fetched again for a `kid` they lack, at most
 * once per cooldown, or on the first use after OIDC_JWKS_MAX_AGE). Logout
 * asks before sending the token as `id_token_hint`: a provider refuses a hint
 * it cannot verify any more ("could not validate id_token_hint"), and the
 * person would be left on its error page. True when it cannot be told: no
 * keys fetched yet in this process (logout does not wait for a first fetch),
 * the keys cannot be fetched, no answer within 1 s, a token without `kid`.
 */
export async function signingKeyStillPublished(idToken: string, metadata: { jwks_uri?: string }): Promise<boolean> {
  if (!metadata.jwks_uri) return true;
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(idToken);
  } catch {
    return true;
  }
  if (header.kid === undefined || typeof header.alg !== "string") return true;
  const keys = providerKeys(metadata.jwks_uri);
  if (keys.fetchedAt() === undefined) return true;
  const lookup = keys.resolve(header).then(
    () => true,
    (error: unknown) =>
      error instanceof joseErrors.JWKSMultipleMatchingKeys || !(error instanceof joseErrors.JWKSNoMatchingKey),
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), HINT_CHECK_TIMEOUT_MS)));
  try {
    return await Promise.race([lookup, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
