import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { openToken, parseEncryptionKeys, sealToken, TokenDecryptionError } from "./token-encryption.server.ts";

const key = (id: string) => `${id}:${randomBytes(32).toString("base64")}`;
const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

describe("token encryption", () => {
  it("seals so the token is not readable, and opens it again", () => {
    const { keys } = parseEncryptionKeys(key("k1"));
    const sealed = sealToken(keys[0]!, "idToken", token);
    expect(sealed).toMatch(/^enc:v1:k1:/);
    expect(sealed).not.toContain("eyJ");
    expect(openToken(keys, "idToken", sealed)).toBe(token);
    expect(sealToken(keys[0]!, "idToken", token)).not.toBe(sealed); // a fresh IV each time
  });

  it("opens with an older key after rotation, and leaves unsealed values alone", () => {
    const old = parseEncryptionKeys(key("k1")).keys;
    const sealed = sealToken(old[0]!, "idToken", token);
    const rotated = parseEncryptionKeys(
      `${key("k2")},${key("k1").replace(/:.*/, "")}:${old[0]!.key.toString("base64")}`,
    ).keys;
    expect(rotated[0]!.id).toBe("k2");
    expect(openToken(rotated, "idToken", sealed)).toBe(token);
    expect(openToken(rotated, "idToken", token)).toBe(token);
  });

  it("refuses a token moved to another field, tampered, or sealed with an unknown key", () => {
    const { keys } = parseEncryptionKeys(key("k1"));
    const sealed = sealToken(keys[0]!, "idToken", token);
    expect(() => openToken(keys, "accessToken", sealed)).toThrow(TokenDecryptionError);
    const parts = sealed.split(":");
    parts[4] = `${parts[4]!.startsWith("A") ? "B" : "A"}${parts[4]!.slice(1)}`;
    expect(() => openToken(keys, "idToken", parts.join(":"))).toThrow(TokenDecryptionError);
    expect(() => openToken(parseEncryptionKeys(key("k9")).keys, "idToken", sealed)).toThrow(/no key "k1"/);
    const truncated = sealed.split(":");
    truncated[5] = Buffer.from(truncated[5]!, "base64url").subarray(0, 4).toString("base64url");
    expect(() => openToken(keys, "idToken", truncated.join(":"))).toThrow(/truncated authentication tag/);
  });

  it("validates the variable", () => {
    expect(parseEncryptionKeys("").keys).toEqual([]);
    expect(parseEncryptionKeys("k1:c2hvcnQ=").problems[0]).toMatch(/is 5 bytes; AES-256 needs 32/);
    expect(parseEncryptionKeys("nokeyid").problems[0]).toMatch(/must be kid:base64key/);
    const twice = key("k1");
    expect(parseEncryptionKeys(`${twice},${twice}`).problems[0]).toMatch(/appears twice/);
  });
});
