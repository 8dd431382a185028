/**
 * tsx scripts/token-codec.ts — how the token record is compressed, chosen by
 * measurement (docs/decisions/014-hot-and-cold-session-records.md). For the
 * tokens of a development-provider user with 10, 150 and 400 group claims (an
 * RS256 ID token carrying the groups, random opaque access and refresh
 * tokens), prints the stored size and the median time to encode and decode,
 * for each codec Node 20 has (zlib's deflate and gzip, brotli at several
 * qualities; zstd needs Node 22.15), with the JWT kept as it is or with its
 * payload decoded (as token-record.server.ts stores it).
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  deflateRawSync,
  gunzipSync,
  gzipSync,
  inflateRawSync,
} from "node:zlib";
import { SignJWT } from "jose";
import type { AccountClaims, KoaContextWithOIDC } from "oidc-provider";
import { findAccount } from "../server/dev-oidc-provider/accounts.ts";

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const random = (bytes: number) => randomBytes(bytes).toString("base64url");

async function tokensOf(groups: number) {
  const account = await findAccount({} as KoaContextWithOIDC, `groups-${groups}`);
  const claims = (await account!.claims("id_token", "openid profile email", {}, [])) as AccountClaims;
  const idToken = await new SignJWT({ ...claims, nonce: random(32), at_hash: random(16), sid: random(21) })
    .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: `dev-${random(16)}` })
    .setIssuer("http://127.0.0.1:4000")
    .setAudience("remix-redis-oidc")
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(privateKey);
  return { idToken, accessToken: random(32), refreshToken: random(32) };
}

type Tokens = Awaited<ReturnType<typeof tokensOf>>;
const forms: Record<string, (t: Tokens) => string> = {
  "JWT as it is": (t) => JSON.stringify({ i: t.idToken, a: t.accessToken, r: t.refreshToken }),
  "payload decoded": (t) => {
    const [header, payload, signature] = t.idToken.split(".");
    const text = Buffer.from(payload!, "base64url").toString("utf8");
    return JSON.stringify({ i: [header, text, signature], a: t.accessToken, r: t.refreshToken });
  },
};
const brotli = (quality: number) => (b: Buffer) =>
  brotliCompressSync(b, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: quality,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: b.length,
    },
  });
const codecs: Record<string, [(b: Buffer) => Buffer, (b: Buffer) => Buffer]> = {
  none: [(b) => b, (b) => b],
  "gzip 6": [(b) => gzipSync(b, { level: 6 }), gunzipSync],
  "deflate-raw 6": [(b) => deflateRawSync(b, { level: 6 }), inflateRawSync],
  "deflate-raw 9": [(b) => deflateRawSync(b, { level: 9 }), inflateRawSync],
  "brotli 4": [brotli(4), brotliDecompressSync],
  "brotli 5": [brotli(5), brotliDecompressSync],
  "brotli 6": [brotli(6), brotliDecompressSync],
  "brotli 9": [brotli(9), brotliDecompressSync],
  "brotli 11": [brotli(11), brotliDecompressSync],
};

/** Median microseconds of `fn` over 301 runs, after 30 to warm up. */
function micros(fn: () => void): number {
  for (let i = 0; i < 30; i++) fn();
  const runs = Array.from({ length: 301 }, () => {
    const start = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - start) / 1000;
  });
  return Math.round(runs.sort((a, b) => a - b)[150]!);
}

console.log(
  `Node ${process.version}\n\n| groups | JWT | codec | stored bytes | encode µs | decode µs |\n|---:|---|---|---:|---:|---:|`,
);
for (const groups of [10, 150, 400]) {
  const tokens = await tokensOf(groups);
  for (const [form, serialize] of Object.entries(forms)) {
    const raw = Buffer.from(serialize(tokens));
    for (const [name, [encode, decode]] of Object.entries(codecs)) {
      const packed = encode(raw);
      if (!decode(packed).equals(raw)) throw new Error(`${name} does not round-trip`);
      console.log(
        `| ${groups} | ${form} | ${name} | ${packed.length} | ${micros(() => encode(raw))} | ${micros(() => decode(packed))} |`,
      );
    }
  }
}
