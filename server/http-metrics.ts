/**
 * rro_http_request_duration_seconds for every request (static files and
 * refusals included), labelled by the route pattern that served it rather
 * than the path a client chose, so that no client can add label values; and
 * /metrics itself: on its own port (METRICS_PORT) and/or on the main port to
 * a bearer token (METRICS_TOKEN); with neither, requests are not timed and
 * nothing is served. docs/operations.md#metrics lists every metric.
 */
import { timingSafeEqual, createHash } from "node:crypto";
import http from "node:http";
import type { ServerBuild } from "@remix-run/node";
import type { RequestHandler } from "express";
import { metrics } from "../app/platform/metrics.server.ts";
import { taggedRoute } from "./tracing-state.ts";

/** The URL patterns of a Remix build's routes ("/", "/login", "/users/:id"…), layout routes without a path left out. */
export function routePatterns(routes: ServerBuild["routes"]): string[] {
  const full = (id: string): string => {
    const route = routes[id];
    if (!route) return "";
    const parent = route.parentId ? full(route.parentId) : "";
    return route.path ? `${parent.replace(/\/$/, "")}/${route.path}` : parent;
  };
  const patterns = Object.values(routes)
    .filter((route) => route.path !== undefined || route.index)
    .map((route) => full(route.id) || "/");
  return [...new Set(patterns)];
}

function matches(pattern: string, segments: string[]): boolean {
  const parts = pattern.split("/").filter(Boolean);
  for (const [i, part] of parts.entries()) {
    if (part === "*") return true;
    const segment = segments[i];
    if (segment === undefined) return part.startsWith(":") && part.endsWith("?") && i === parts.length - 1;
    if (!part.startsWith(":") && part.toLowerCase() !== segment.toLowerCase()) return false;
  }
  return parts.length === segments.length;
}

/**
 * The label for a request path: the route pattern it matches (Remix's data
 * requests, `/login.data`, count as their route), `/assets/*` for the
 * build's assets, `static` for other files, `unmatched` for anything else.
 */
export function routeLabel(pathname: string, patterns: readonly string[]): string {
  const path = pathname.replace(/\.data$/, "");
  if (path.startsWith("/assets/")) return "/assets/*";
  const segments = path.split("/").filter(Boolean);
  if (path === "/_root") return "/";
  const exact = patterns.find((p) => !p.includes(":") && !p.includes("*") && matches(p, segments));
  const found = exact ?? patterns.find((p) => matches(p, segments));
  if (found) return found;
  return /\.[A-Za-z0-9]{1,8}$/.test(path) ? "static" : "unmatched";
}

/** Observes every request when its answer is written (or the client left). */
export function measureRequests(patterns: () => readonly string[]): RequestHandler {
  const { httpRequestDuration } = metrics();
  return (req, res, next) => {
    const end = httpRequestDuration.startTimer();
    let done = false;
    const observe = () => {
      if (done) return;
      done = true;
      end({
        route: taggedRoute(req) ?? routeLabel(req.path, patterns()), // worked out once when traces noted it
        method: req.method,
        status: res.headersSent ? res.statusCode : 499,
      });
    };
    res.once("finish", observe).once("close", observe);
    next();
  };
}

async function answerMetrics(res: http.ServerResponse) {
  const { registry } = metrics();
  res.writeHead(200, { "Content-Type": registry.contentType, "Cache-Control": "no-store" });
  res.end(await registry.metrics());
}

const digest = (value: string) => createHash("sha256").update(value).digest();

/** GET /metrics on the main port, to `Authorization: Bearer <METRICS_TOKEN>`; anyone else gets the app's 404. */
export function metricsBehindToken(token: string): RequestHandler {
  const expected = digest(`Bearer ${token}`);
  return (req, res, next) => {
    if (req.path !== "/metrics" || req.method !== "GET") return next();
    const given = req.get("Authorization");
    if (!given || !timingSafeEqual(digest(given), expected)) return next();
    answerMetrics(res).catch(next);
  };
}

/** A server of its own answering GET /metrics (METRICS_PORT); 404 for anything else. */
export async function startMetricsServer(port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && req.url?.split("?")[0] === "/metrics") {
      return void answerMetrics(res).catch(() => {
        res.statusCode = 500;
        res.end();
      });
    }
    res.writeHead(404, { "Content-Type": "text/plain" }).end("Not found: metrics are at /metrics.");
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, resolve));
  return server;
}
