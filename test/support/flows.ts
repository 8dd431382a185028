/** The user journeys, step by step over HTTP, for integration tests. */
import { Browser, formAction, inputValue, type Page } from "./browser.ts";
import { sessionKey } from "./redis-keys.ts";

export const SESSION_COOKIE = "rro_sid";

/** POST /login (as the sign-in page's button does), following redirects to the provider's login form. */
export async function startSignIn(browser: Browser, appUrl: string, returnTo = "/account"): Promise<Page> {
  return browser.navigate(`${appUrl}/login?${new URLSearchParams({ returnTo })}`, {
    method: "POST",
    headers: { Origin: appUrl },
  });
}

/** Submits the provider's login form, following redirects (back to the app on success). */
export async function submitLogin(
  browser: Browser,
  loginForm: Page,
  username: string,
  password: string,
): Promise<Page> {
  const action = formAction(loginForm.html, /<form[^>]*\/login"[^>]*>/);
  if (!action) throw new Error(`no login form at ${loginForm.url}:\n${loginForm.html.slice(0, 500)}`);
  return browser.navigate(new URL(action, loginForm.url).href, { method: "POST", form: { username, password } });
}

export function isLoginForm(page: Page) {
  return page.status === 200 && /name="password"/.test(page.html) && page.url.includes("/interaction/");
}

/** The whole sign-in: app → provider login form → credentials → back on the app. */
export async function signIn(
  browser: Browser,
  appUrl: string,
  username = "alice",
  password = `${username}-password`,
  returnTo = "/account",
) {
  const loginForm = await startSignIn(browser, appUrl, returnTo);
  if (!isLoginForm(loginForm))
    throw new Error(`expected the provider's login form, got ${loginForm.status} at ${loginForm.url}`);
  const landed = await submitLogin(browser, loginForm, username, password);
  return { loginForm, landed };
}

/** A fresh browser signed in as `username`: its session cookie, the session's Redis key, and the page it landed on. */
export async function signedInBrowser(appUrl: string, username = "alice") {
  const browser = new Browser();
  const { landed } = await signIn(browser, appUrl, username);
  const cookie = browser.cookie(appUrl, SESSION_COOKIE)!;
  return { browser, cookie, key: sessionKey(cookie), landed };
}

/** The provider's back-channel logout: POSTs `token` as the form field `logout_token` (with X-Request-Id `reqId`, when given). */
export function postLogoutToken(appUrl: string, token: string, reqId?: string): Promise<Response> {
  return fetch(`${appUrl}/auth/backchannel-logout`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...(reqId ? { "X-Request-Id": reqId } : {}) },
    body: new URLSearchParams({ logout_token: token }),
  });
}

/** POST /logout from the app's own page, without following the redirect. */
export function postLogout(browser: Browser, appUrl: string, origin = appUrl) {
  return browser.request(`${appUrl}/logout`, { method: "POST", headers: { Origin: origin }, form: {} });
}

/** At the provider's end-session page: confirms "Yes, sign me out" and follows redirects back. */
export async function confirmProviderLogout(browser: Browser, endSessionPage: Page): Promise<Page> {
  const action = formAction(endSessionPage.html, /<form[^>]*id="op.logoutForm"[^>]*>/);
  const xsrf = inputValue(endSessionPage.html, "xsrf");
  if (!action || !xsrf)
    throw new Error(`no logout form at ${endSessionPage.url}:\n${endSessionPage.html.slice(0, 800)}`);
  return browser.navigate(new URL(action, endSessionPage.url).href, { method: "POST", form: { xsrf, logout: "yes" } });
}

/** The byte length of the Set-Cookie lines for one cookie name. */
export function setCookieFor(setCookies: string[], name: string) {
  return setCookies.find((line) => line.startsWith(`${name}=`));
}

/** The logout page's self-submitting form (large ID tokens): its action and hidden fields. */
export function endSessionForm(html: string): { action: string; fields: Record<string, string> } | undefined {
  const action = formAction(html, /<form[^>]*data-testid="end-session-form"[^>]*>/);
  if (!action) return undefined;
  const fields: Record<string, string> = {};
  for (const name of ["id_token_hint", "post_logout_redirect_uri", "client_id", "state"]) {
    const value = inputValue(html, name);
    if (value !== undefined) fields[name] = value.replace(/&amp;/g, "&");
  }
  return { action, fields };
}
