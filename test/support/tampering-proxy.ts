/**
 * A hostile man-in-the-middle for tests: forwards every request to the
 * development provider unchanged (Host header included, so the provider
 * builds its URLs with the proxy's address), counts requests by path, and
 * lets a test rewrite the token endpoint's JSON response or make it fail.
 */
import http from "node:http";
import { freePort } from "./ports.ts";

export type TokenResponseTamper = (body: Record<string, unknown>) => Record<string, unknown>;

export async function startTamperingProxy(upstreamPort: number, port?: number) {
  const listenPort = port ?? (await freePort());
  const state: { tamper: TokenResponseTamper | undefined; failToken: boolean; delays: Map<string, number> } = {
    tamper: undefined,
    failToken: false,
    delays: new Map(),
  };
  const counts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    if (state.failToken && path === "/token") {
      res.writeHead(503, { "Content-Type": "text/plain" }).end("provider down");
      return;
    }
    const delay = state.delays.get(path);
    if (delay) {
      req.pause();
      setTimeout(() => forward(req, res), delay);
      return;
    }
    forward(req, res);
  });
  function forward(req: http.IncomingMessage, res: http.ServerResponse) {
    const upstream = http.request(
      { host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on("data", (c: Buffer) => chunks.push(c));
        answer.on("end", () => {
          let body = Buffer.concat(chunks);
          const headers = { ...answer.headers };
          if (state.tamper && req.url?.startsWith("/token") && answer.statusCode === 200) {
            body = Buffer.from(JSON.stringify(state.tamper(JSON.parse(body.toString()))));
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
    set tamper(fn: TokenResponseTamper | undefined) {
      state.tamper = fn;
    },
    /** Hold requests for this path this long (a slow provider); 0 to stop. */
    delay(path: string, ms: number) {
      if (ms) state.delays.set(path, ms);
      else state.delays.delete(path);
    },
    /** Answer 503 at the token endpoint (a provider outage). */
    set failToken(fail: boolean) {
      state.failToken = fail;
    },
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
