/**
 * Signs in at the provider but stops at its redirect back to the app: the real
 * callback URL (a fresh code, the browser's `state`, the provider's `iss`), not
 * yet delivered, for tests that alter it or inspect the app's answer to it.
 */
import { formAction, type Browser } from "../support/browser.ts";
import { startSignIn } from "../support/flows.ts";

export async function realCallbackUrl(browser: Browser, appUrl: string, returnTo = "/account"): Promise<URL> {
  const loginForm = await startSignIn(browser, appUrl, returnTo);
  let url = new URL(formAction(loginForm.html, /<form[^>]*\/login"[^>]*>/)!, loginForm.url).href;
  let response = await browser.request(url, {
    method: "POST",
    form: { username: "alice", password: "alice-password" },
  });
  for (let hop = 0; hop < 10; hop++) {
    const location = response.headers.get("Location");
    await response.body?.cancel();
    if (!location) throw new Error(`the provider answered ${response.status} at ${url} instead of redirecting`);
    const next = new URL(location, url).href;
    if (next.startsWith(`${appUrl}/auth/callback`)) return new URL(next);
    url = next;
    response = await browser.request(url);
  }
  throw new Error("the provider never redirected back to the app");
}
