/**
 * A hostile man-in-the-middle for tests: forwards every request to the
 * development provider unchanged (Host header included, so the provider
 * builds its URLs with the proxy's address), and lets a test rewrite the
 * token endpoint's JSON response.
 */
import http from "node:http";
import { freePort } from "./ports.ts";

export type TokenResponseTamper = (body: Record<string, unknown>) => Record<string, unknown>;

export async function startTamperingProxy(upstreamPort: number, port?: number) {
  const listenPort = port ?? (await freePort());
  const state: { tamper: TokenResponseTamper | undefined } = { tamper: undefined };
  const server = http.createServer((req, res) => {
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
  });
  await new Promise<void>((resolve) => server.listen(listenPort, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${listenPort}`,
    set tamper(fn: TokenResponseTamper | undefined) {
      state.tamper = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
