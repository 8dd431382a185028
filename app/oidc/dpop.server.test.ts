import * as client from "openid-client";
import { describe, expect, it } from "vitest";
import { DPoPKeyError, importDPoPKey, newDPoPKey, tokenTypeName } from "./dpop.server.ts";

describe("DPoP keys", () => {
  it("a new key is an ES256 private JWK that imports back to the same thumbprint openid-client computes", async () => {
    const key = await newDPoPKey();
    const jwk = JSON.parse(key.jwk) as JsonWebKey;
    expect(Object.keys(jwk).sort()).toEqual(["crv", "d", "kty", "x", "y"]);
    expect(jwk).toMatchObject({ kty: "EC", crv: "P-256" });
    const again = await importDPoPKey(key.jwk);
    expect(again.thumbprint).toBe(key.thumbprint);
    const config = new client.Configuration({ issuer: "https://idp.example.com" }, "app");
    expect(await client.getDPoPHandle(config, again.keyPair).calculateThumbprint()).toBe(key.thumbprint);
    expect(again.keyPair.privateKey.extractable).toBe(false);
  });

  it("a stored key that is not a P-256 private JWK is a DPoPKeyError, never a crash elsewhere", async () => {
    const { kty, crv, x, y } = JSON.parse((await newDPoPKey()).jwk) as JsonWebKey;
    for (const stored of [
      "",
      "{",
      "null",
      JSON.stringify({ kty, crv, x, y }), // public only
      JSON.stringify({ kty: "RSA", n: "x", e: "AQAB", d: "x" }),
      JSON.stringify({ kty, crv, x, y, d: "AAAA" }), // a private part that does not fit
    ]) {
      await expect(importDPoPKey(stored), stored).rejects.toBeInstanceOf(DPoPKeyError);
    }
  });

  it("token types are kept as the RFCs spell them", () => {
    expect(tokenTypeName("dpop")).toBe("DPoP");
    expect(tokenTypeName("bearer")).toBe("Bearer");
    expect(tokenTypeName("N_A")).toBe("N_A");
    expect(tokenTypeName(undefined)).toBeUndefined();
  });
});
