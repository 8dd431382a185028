/**
 * A real nginx (Debian's) in front of the app, on loopback, from a generated
 * config in a temp dir: nginx's defaults, or the seed post's workaround
 * (`proxy_buffers 8 16k; proxy_buffer_size 32k`). Given several upstream
 * ports, nginx balances round robin over the app instances (`npm run chaos`).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export function nginxPath(): string {
  const found = [process.env.NGINX_PATH, "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/opt/homebrew/bin/nginx"].find(
    (p): p is string => Boolean(p && existsSync(p)),
  );
  if (found) return found;
  const which = spawnSync("sh", ["-c", "command -v nginx"], { encoding: "utf8" }).stdout.trim();
  if (which) return which;
  throw new Error("nginx not found: run `npm run setup` (installs Debian's nginx) or set NGINX_PATH.");
}

export type NginxBuffers = "default" | "seed-post-workaround";

/**
 * The upstream block. One instance: as before. Several: nginx's default round
 * robin; `max_fails=1 fail_timeout=2s` takes a dead instance out of rotation
 * at its first failed connection and tries it again 2 s later (nginx's default
 * is 10 s), so a restarted instance is back in rotation quickly. Idempotent
 * requests that fail to connect or are cut off are retried on the next
 * instance (nginx's default `proxy_next_upstream error timeout`).
 */
function upstreamBlock(ports: readonly number[]): string {
  if (ports.length === 1) return `upstream app { server 127.0.0.1:${ports[0]}; keepalive 16; }`;
  return `upstream app {\n${ports.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join("\n")}\n    keepalive 16;\n  }`;
}

export async function startNginx(options: {
  port: number;
  upstreamPort: number | readonly number[];
  buffers: NginxBuffers;
}) {
  const upstreamPorts = typeof options.upstreamPort === "number" ? [options.upstreamPort] : options.upstreamPort;
  if (upstreamPorts.length === 0) throw new Error("startNginx: at least one upstream port");
  const dir = mkdtempSync(path.join(os.tmpdir(), "rro-nginx-"));
  for (const sub of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(path.join(dir, sub));
  const buffers =
    options.buffers === "seed-post-workaround"
      ? "proxy_buffers 8 16k;\n      proxy_buffer_size 32k;"
      : "# nginx defaults: proxy_buffer_size 4k|8k (one memory page), large_client_header_buffers 4 8k";
  writeFileSync(
    path.join(dir, "nginx.conf"),
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  ${upstreamBlock(upstreamPorts)}
  server {
    listen 127.0.0.1:${options.port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      ${buffers}
    }
  }
}
`,
  );
  const child = spawn(nginxPath(), ["-p", dir, "-c", path.join(dir, "nginx.conf")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stderr.on("data", (b: Buffer) => (output += b.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const onExit = () => child.kill("SIGKILL");
  process.once("exit", onExit);
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(options.port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      process.off("exit", onExit);
      child.kill("SIGKILL"); // not left running when it did not listen in time
      await exited;
      throw new Error(`nginx did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://localhost:${options.port}`,
    errorLog: () => (existsSync(path.join(dir, "error.log")) ? readFileSync(path.join(dir, "error.log"), "utf8") : ""),
    async stop() {
      process.off("exit", onExit);
      child.kill("SIGQUIT");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number) {
  return new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}
