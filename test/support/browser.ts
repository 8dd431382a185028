/**
 * A minimal HTTP "browser" for integration tests: fetch with a cookie jar per
 * host (as browsers scope cookies by host, not port), redirects followed by
 * hand so each hop can be inspected.
 */
export interface Hop {
  url: string;
  status: number;
  location: string | null;
  setCookies: string[];
}

export interface Page {
  url: string;
  status: number;
  html: string;
  hops: Hop[];
  /** The request Cookie header sent on the last request (what the server saw). */
  sentCookie: string;
}

export class Browser {
  /** host → cookie name → value */
  readonly jar = new Map<string, Map<string, string>>();

  /** `userAgent` and `headers`: sent with every request (as a browser, or the proxy in front of the app, would). */
  constructor(
    readonly userAgent?: string,
    readonly headers: Record<string, string> = {},
  ) {}

  cookieHeader(url: string): string {
    const cookies = this.jar.get(new URL(url).hostname);
    return cookies ? [...cookies].map(([n, v]) => `${n}=${v}`).join("; ") : "";
  }

  cookie(url: string, name: string): string | undefined {
    return this.jar.get(new URL(url).hostname)?.get(name);
  }

  setCookie(url: string, name: string, value: string) {
    const host = new URL(url).hostname;
    if (!this.jar.has(host)) this.jar.set(host, new Map());
    this.jar.get(host)!.set(name, value);
  }

  private store(url: string, setCookies: string[]) {
    const host = new URL(url).hostname;
    if (!this.jar.has(host)) this.jar.set(host, new Map());
    const cookies = this.jar.get(host)!;
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(";");
      const index = pair!.indexOf("=");
      const name = pair!.slice(0, index).trim();
      const value = pair!.slice(index + 1).trim();
      const expired = attributes.some((a) => {
        const [k, v] = a.trim().split("=");
        if (k!.toLowerCase() === "max-age") return Number(v) <= 0;
        if (k!.toLowerCase() === "expires") return Date.parse(v ?? "") <= Date.now();
        return false;
      });
      if (expired || value === "") cookies.delete(name);
      else cookies.set(name, value);
    }
  }

  /** One request, no redirect following. */
  async request(
    url: string,
    init: RequestInit & { form?: Record<string, string> } = {},
  ): Promise<Response & { sentCookie: string }> {
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(this.headers)) if (!headers.has(name)) headers.set(name, value);
    if (this.userAgent && !headers.has("User-Agent")) headers.set("User-Agent", this.userAgent);
    const sentCookie = this.cookieHeader(url);
    if (sentCookie && !headers.has("Cookie")) headers.set("Cookie", sentCookie);
    let body = init.body;
    if (init.form) {
      body = new URLSearchParams(init.form);
      headers.set("Content-Type", "application/x-www-form-urlencoded");
    }
    const response = await fetch(url, { ...init, body, headers, redirect: "manual" });
    this.store(url, response.headers.getSetCookie());
    return Object.assign(response, { sentCookie: headers.get("Cookie") ?? "" });
  }

  /**
   * A request, then every redirect (as GET) until a non-redirect answer.
   * `via` rewrites each URL before it is requested (e.g. to one instance behind a proxy).
   */
  async navigate(
    url: string,
    init: RequestInit & { form?: Record<string, string> } = {},
    { maxHops = 15, via = (u: string) => u }: { maxHops?: number; via?: (url: string) => string } = {},
  ): Promise<Page> {
    const hops: Hop[] = [];
    let current = via(url);
    let response = await this.request(current, init);
    for (;;) {
      const location = response.headers.get("Location");
      hops.push({ url: current, status: response.status, location, setCookies: response.headers.getSetCookie() });
      if (!location || response.status < 300 || response.status >= 400) break;
      if (hops.length > maxHops) throw new Error(`too many redirects: ${hops.map((h) => h.url).join(" → ")}`);
      await response.body?.cancel();
      current = via(new URL(location, current).href);
      response = await this.request(current);
    }
    return {
      url: current,
      status: response.status,
      html: await response.text(),
      hops,
      sentCookie: response.sentCookie,
    };
  }
}

/** The value of an input field in an HTML form, by name. */
export function inputValue(html: string, name: string): string | undefined {
  const tag = html.match(new RegExp(`<input[^>]*name="${name}"[^>]*>`))?.[0];
  return tag?.match(/value="([^"]*)"/)?.[1];
}

/** The action of the first form in the HTML whose tag matches `filter`. */
export function formAction(html: string, filter = /<form[^>]*>/): string | undefined {
  const tag = html.match(filter)?.[0];
  return tag?.match(/action="([^"]*)"/)?.[1]?.replace(/&amp;/g, "&");
}
