/**
 * The journey in a real browser (Debian's Chromium), clicking the real
 * buttons: protected page → sign-in → provider login → account → sign out →
 * provider confirmation → signed out here and there → sign in shows the
 * provider's login form again. Screenshots land in test-results/screenshots/.
 */
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { launchChromium, SCREENSHOTS } from "../support/chromium.ts";
import { startStack, type Stack } from "../support/stack.ts";

let stack: Stack;
let browser: Browser;
beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const shot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });

it("signs in, signs out at the app and the provider, and must log in again", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const failures: string[] = [];
  // (Chromium fetches /favicon.ico on its own schedule; the provider has none.)
  page.on(
    "response",
    (r) => r.status() >= 400 && !r.url().endsWith("/favicon.ico") && failures.push(`${r.status()} ${r.url()}`),
  );
  page.on("pageerror", (e) => failures.push(`page error: ${e.message}`));
  // A script or form blocked by the Content-Security-Policy shows up as a console error.
  page.on(
    "console",
    (m) =>
      m.type() === "error" && /Content Security Policy|Refused to/.test(m.text()) && failures.push(`CSP: ${m.text()}`),
  );

  await page.goto(`${stack.app.url}/account`);
  expect(new URL(page.url()).pathname).toBe("/login");
  await shot(page, "01-sign-in-page");

  await page.getByRole("button", { name: /Sign in with/ }).click();
  await page.waitForURL(/127\.0\.0\.1:\d+\/interaction\//);
  await page.fill('input[name="username"]', "erin");
  await page.fill('input[name="password"]', "wrong-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("Invalid username or password.").waitFor();
  await page.fill('input[name="password"]', "erin-password");
  await shot(page, "02-provider-login");
  await page.getByRole("button", { name: "Sign in" }).click();

  await page.waitForURL(`${stack.app.url}/account`);
  expect(await page.getByTestId("user-name").first().textContent()).toBe("Erin Enterprise");
  expect(await page.getByTestId("group-count").textContent()).toBe("150");
  // What Chromium actually sent: one small cookie, whatever the tokens weigh.
  const cookieBytes = Number(await page.getByTestId("cookie-bytes").textContent());
  expect(cookieBytes).toBeGreaterThan(0);
  expect(cookieBytes).toBeLessThan(200);
  const cookies = await context.cookies(stack.app.url);
  expect(cookies.map((c) => c.name)).toEqual(["rro_sid"]);
  expect(cookies[0]!.httpOnly).toBe(true);
  await shot(page, "03-account");

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/127\.0\.0\.1:\d+\/session\/end/);
  await shot(page, "04-provider-logout-confirmation");
  await page.getByRole("button", { name: "Yes, sign me out" }).click();

  await page.waitForURL(new RegExp(`^${stack.app.url}/\\?state=`));
  expect(await page.locator('[data-notice="provider"]').textContent()).toContain("signed out of this app");
  expect(await context.cookies(stack.app.url)).toEqual([]);
  await shot(page, "05-signed-out");

  await page.getByRole("link", { name: "Sign in" }).click();
  await page.getByRole("button", { name: /Sign in with/ }).click();
  await page.waitForURL(/127\.0\.0\.1:\d+\/interaction\//);
  expect(await page.locator('input[name="password"]').count()).toBe(1);
  await shot(page, "06-login-form-again");

  // The only failed response of the journey is the wrong password at the provider.
  expect(failures).toEqual([expect.stringMatching(/^401 http:\/\/127\.0\.0\.1:\d+\/interaction\/[^/]+\/login$/)]);
  await context.close();
});

it("signing out everywhere else from the sessions page signs out another browser", async () => {
  const signInAs = async (page: Page) => {
    await page.goto(`${stack.app.url}/account`);
    await page.getByRole("button", { name: /Sign in with/ }).click();
    await page.waitForURL(/127\.0\.0\.1:\d+\/interaction\//);
    await page.fill('input[name="username"]', "alice");
    await page.fill('input[name="password"]', "alice-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${stack.app.url}/account`);
  };
  const [laptop, phone] = await Promise.all([browser.newContext(), browser.newContext()]);
  const [here, there] = await Promise.all([laptop.newPage(), phone.newPage()]);
  await signInAs(here);
  await signInAs(there);

  await here.goto(`${stack.app.url}/sessions`);
  expect(await here.locator('tr[data-current="yes"]').count()).toBe(1);
  expect(await here.locator('tr[data-current="no"]').count()).toBeGreaterThanOrEqual(1);
  await shot(here, "07-sessions");
  await here.getByRole("button", { name: "Sign out everywhere else" }).click();
  await here.getByText(/Ended \d+ session/).waitFor();
  expect(await here.locator('tr[data-current="no"]').count()).toBe(0);

  await there.goto(`${stack.app.url}/account`);
  expect(new URL(there.url()).pathname).toBe("/login");
  await shot(there, "08-other-browser-signed-out");
  await Promise.all([laptop.close(), phone.close()]);
});
