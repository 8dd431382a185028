/**
 * The return path after sign-in: only ever a path on this app. Anything else
 * (absolute URLs, protocol-relative `//host`, `/\host`, control characters,
 * encoded variants, dot segments that normalise into any of those) becomes
 * `fallback`. The result is the normalised path, safe to put in `Location`.
 */
export function safeRedirectPath(to: string | null | undefined, fallback = "/account"): string {
  if (!to || typeof to !== "string" || to.length > 2048) return fallback;
  if (!to.startsWith("/") || to.startsWith("//") || to.startsWith("/\\")) return fallback;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(to)) return fallback;
  let decoded: string;
  try {
    decoded = decodeURIComponent(to);
  } catch {
    return fallback;
  }
  if (decoded.startsWith("//") || decoded.startsWith("/\\") || decoded.includes("\\")) return fallback;
  const base = "http://app.invalid";
  const url = new URL(to, base);
  // Judge the path as it will be sent: dot segments can turn "/.//evil" into "//evil".
  if (url.origin !== base || /^[/\\]{2}/.test(url.pathname)) return fallback;
  return `${url.pathname}${url.search}${url.hash}`;
}
