/**
 * A hostile man-in-the-middle for tests: forwards every request to the
 * development provider unchanged (Host header included, so the provider
 * builds its URLs with the proxy's address), counts requests by path, keeps
 * the headers each arrived with, and lets a test rewrite the JSON response of
 * an endpoint, delay or hold it, or make it fail.
 */
import http from "node:http";
import { freePort } from "./ports.ts";

export type TokenResponseTamper = (body: Record<string, unknown>) => Record<string, unknown>;

export async function startTamperingProxy(upstreamPort: number, port?: number) {
  const listenPort = port ?? (await freePort());
  const state = {
    tampers: new Map<string, TokenResponseTamper>(),
    failures: new Map<string, number>(),
    delays: new Map<string, number>(),
    holds: new Map<string, Promise<void>>(),
    headerRewrites: new Map<string, (headers: http.IncomingHttpHeaders) => http.IncomingHttpHeaders>(),
  };
  const counts = new Map<string, number>();
  const lastUrls = new Map<string, string>();
  const received: Array<{ method: string; path: string; headers: http.IncomingHttpHeaders }> = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    lastUrls.set(path, req.url ?? "/");
    received.push({ method: req.method ?? "GET", path, headers: { ...req.headers } });
    const failure = state.failures.get(path);
    if (failure) {
      res.writeHead(failure, { "Content-Type": "text/plain" }).end("provider down");
      return;
    }
    const delay = state.delays.get(path);
    if (delay) {
      req.pause();
      setTimeout(() => forward(req, res), delay);
      return;
    }
    const held = state.holds.get(path);
    if (held) {
      req.pause();
      void held.then(() => forward(req, res));
      return;
    }
    forward(req, res);
  });
  function forward(req: http.IncomingMessage, res: http.ServerResponse) {
    const upstream = http.request(
      {
        host: "127.0.0.1",
        port: upstreamPort,
        method: req.method,
        path: req.url,
        headers: state.headerRewrites.get((req.url ?? "/").split("?")[0]!)?.({ ...req.headers }) ?? req.headers,
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on("data", (c: Buffer) => chunks.push(c));
        answer.on("end", () => {
          let body = Buffer.concat(chunks);
          const headers = { ...answer.headers };
          const tamper = state.tampers.get((req.url ?? "/").split("?")[0]!);
          if (tamper && answer.statusCode === 200) {
            body = Buffer.from(JSON.stringify(tamper(JSON.parse(body.toString()))));
            headers["content-length"] = String(body.length);
          }
          res.writeHead(answer.statusCode ?? 502, headers);
          res.end(body);
        });
      },
    );
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
    req.resume();
  }
  await new Promise<void>((resolve) => server.listen(listenPort, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${listenPort}`,
    /** Rewrite the token endpoint's JSON answers (undefined: stop). */
    set tamper(fn: TokenResponseTamper | undefined) {
      this.tamperJson("/token", fn);
    },
    /** Rewrite the JSON answers of one path, e.g. "/me" (userinfo); undefined: stop. */
    tamperJson(path: string, fn: TokenResponseTamper | undefined) {
      if (fn) state.tampers.set(path, fn);
      else state.tampers.delete(path);
    },
    /** Rewrite the request headers sent upstream for one path, e.g. a DPoP proof (undefined: stop). */
    rewriteHeaders(path: string, fn: ((headers: http.IncomingHttpHeaders) => http.IncomingHttpHeaders) | undefined) {
      if (fn) state.headerRewrites.set(path, fn);
      else state.headerRewrites.delete(path);
    },
    /** Hold requests for this path this long (a slow provider); 0 to stop. */
    delay(path: string, ms: number) {
      if (ms) state.delays.set(path, ms);
      else state.delays.delete(path);
    },
    /**
     * Hold requests for this path, counted but not answered, until `release()`
     * (a provider that is slow exactly as long as the test needs).
     */
    hold(path: string): () => void {
      let release = () => {};
      state.holds.set(path, new Promise<void>((resolve) => (release = resolve)));
      return () => {
        state.holds.delete(path);
        release();
      };
    },
    /** Answer 503 at the token endpoint (a provider outage). */
    set failToken(fail: boolean) {
      this.fail("/token", fail ? 503 : 0);
    },
    /** Answer this status at a path instead of forwarding (0: forward again). */
    fail(path: string, status: number) {
      if (status) state.failures.set(path, status);
      else state.failures.delete(path);
    },
    /** The URL (path and query) of the last request for a path. */
    lastUrl: (path: string) => lastUrls.get(path),
    /** Every request received (method, path without the query, headers), oldest first. */
    received: () => received,
    /** Requests seen for a path since the last reset. */
    count: (path: string) => counts.get(path) ?? 0,
    resetCounts: () => counts.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
