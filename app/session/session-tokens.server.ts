/**
 * The tokens in a session: sealed for storage when TOKEN_ENCRYPTION_KEYS is
 * set, opened only where they are used (docs/decisions/010).
 */
import { getEnv } from "../platform/env.server.ts";
import { logger } from "../platform/logger.server.ts";
import { openToken, sealToken, TokenDecryptionError } from "../platform/token-encryption.server.ts";
import type { AppSession } from "./session-data.ts";

export type TokenField = "idToken" | "accessToken" | "refreshToken";

/** Seals a token for storage when TOKEN_ENCRYPTION_KEYS is set. */
export function sealSessionToken(field: TokenField, value: string | undefined): string | undefined {
  const [key] = getEnv().tokenEncryptionKeys;
  return value && key ? sealToken(key, field, value) : value;
}

/** A stored token, opened. Undefined when it cannot be opened, which is logged. */
export function sessionToken(session: AppSession, field: TokenField): string | undefined {
  const value = session.get(field);
  if (!value) return undefined;
  try {
    return openToken(getEnv().tokenEncryptionKeys, field, value);
  } catch (error) {
    if (!(error instanceof TokenDecryptionError)) throw error;
    logger.error(`[session] ${error.message}`); // says which key id is missing, nothing of the token
    return undefined;
  }
}
