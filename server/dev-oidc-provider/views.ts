/**
 * HTML pages of the embedded development OpenID provider: the login form, the
 * logout confirmation, the post-logout success page and the error page.
 *
 * Every interpolated value goes through `escapeHtml`. The pages are fully
 * self-contained (small inline CSS, no fonts/CDN/scripts): the machine running
 * this may have no internet access.
 */
import type { DemoUser } from "./accounts.ts";

export function escapeHtml(value: unknown): string {
  return String(value ?? "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const STYLE = `
  *{box-sizing:border-box}
  body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f4f6;color:#111827;margin:0;padding:40px 16px}
  main{max-width:380px;margin:0 auto;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.15);padding:24px 28px}
  h1{font-size:1.3rem;margin:0 0 4px}
  .sub{color:#6b7280;font-size:.85rem;margin:0 0 20px}
  label{display:block;font-size:.85rem;font-weight:600;margin:12px 0 4px}
  input[type=text],input[type=password]{width:100%;height:38px;padding:0 10px;font-size:1rem;border:1px solid #d1d5db;border-radius:6px}
  button,.button{display:block;width:100%;height:38px;margin-top:16px;font-size:.95rem;font-weight:600;border:0;border-radius:6px;cursor:pointer;text-align:center;line-height:38px;text-decoration:none}
  .primary,button[name=logout]{background:#2563eb;color:#fff}
  .primary:hover,button[name=logout]:hover{background:#1d4ed8}
  .secondary,button[form]:not([name]){background:#e5e7eb;color:#111827}
  .secondary:hover,button[form]:not([name]):hover{background:#d1d5db}
  .error{background:#fef2f2;color:#991b1b;border:1px solid #fecaca;border-radius:6px;padding:8px 10px;font-size:.9rem}
  .demo{margin-top:24px;background:#fffbeb;border:1px solid #fde68a;border-radius:6px;padding:10px 12px;font-size:.8rem}
  .demo table{border-collapse:collapse;width:100%}
  .demo td,.demo th{text-align:left;padding:2px 4px}
  code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
`;

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;
}

export interface LoginPageInput {
  uid: string;
  clientName?: string | undefined;
  username?: string | undefined;
  error?: string | undefined;
  demoUsers: readonly DemoUser[];
}

export function loginPage(input: LoginPageInput): string {
  const uid = encodeURIComponent(input.uid);
  const error = input.error ? `<p class="error" role="alert">${escapeHtml(input.error)}</p>` : "";
  const client = input.clientName
    ? `<p class="sub">to continue to <strong>${escapeHtml(input.clientName)}</strong></p>`
    : `<p class="sub">Development provider</p>`;
  const rows = input.demoUsers
    .map(
      (u) =>
        `<tr><td><code>${escapeHtml(u.username)}</code></td><td><code>${escapeHtml(u.password)}</code></td><td>${escapeHtml(u.groupCount)} groups</td></tr>`,
    )
    .join("");
  return page(
    "Dev OpenID Provider — sign in",
    `<h1>Sign in</h1>
${client}
${error}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
  <label for="username">Username</label>
  <input id="username" type="text" name="username" value="${escapeHtml(input.username ?? "")}" required autofocus autocapitalize="off" spellcheck="false">
  <label for="password">Password</label>
  <input id="password" type="password" name="password" required>
  <button type="submit" class="primary">Sign in</button>
</form>
<a class="button secondary" href="/interaction/${escapeHtml(uid)}/abort">Cancel</a>
<div class="demo">
  <strong>Development provider — demo users</strong>
  <table>
    <tr><th>Username</th><th>Password</th><th></th></tr>
    ${rows}
  </table>
  <p>Also <code>groups-&lt;N&gt;</code> / <code>groups-&lt;N&gt;-password</code> for N = 0…1000 (N groups).</p>
</div>`,
  );
}

/**
 * The RP-initiated logout confirmation. `form` is oidc-provider's hidden form
 * (`<form id="op.logoutForm">` with the xsrf field); it is trusted HTML produced
 * by oidc-provider, the buttons submit it via `form="op.logoutForm"`.
 */
export function logoutPage(input: { form: string; host: string; clientName?: string | undefined }): string {
  const from = input.clientName
    ? `<p class="sub">Requested by <strong>${escapeHtml(input.clientName)}</strong></p>`
    : "";
  return page(
    "Dev OpenID Provider — sign out",
    `<h1>Sign out of ${escapeHtml(input.host)}?</h1>
${from}
${input.form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`,
  );
}

export function postLogoutSuccessPage(input: { clientName?: string | undefined }): string {
  const display = input.clientName ? ` from <strong>${escapeHtml(input.clientName)}</strong>` : "";
  return page(
    "Dev OpenID Provider — signed out",
    `<h1>Signed out</h1>
<p>You have been signed out${display}. You can close this page.</p>`,
  );
}

export function errorPage(input: { title: string; message: string; detail?: string | undefined }): string {
  const detail = input.detail ? `<p class="sub">${escapeHtml(input.detail)}</p>` : "";
  return page(
    `Dev OpenID Provider — ${input.title}`,
    `<h1>${escapeHtml(input.title)}</h1>
<p class="error">${escapeHtml(input.message)}</p>
${detail}`,
  );
}
