/**
 * One HTTP/1.1 request written by hand on a socket, for what fetch() will not
 * send: another Host header, a request target that is not a path (`*`, an
 * absolute URL), methods such as TRACE, a body that lies about its framing.
 */
import net from "node:net";

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A chunked body, joined (chunk sizes in hex, each chunk followed by CRLF, a 0-size chunk last). */
function dechunk(body: string): string {
  let out = "";
  for (let at = 0; at < body.length;) {
    const end = body.indexOf("\r\n", at);
    const size = Number.parseInt(body.slice(at, end), 16);
    if (!size) break;
    out += body.slice(end + 2, end + 2 + size);
    at = end + 2 + size + 2;
  }
  return out;
}

/** Sends `head` (request line and headers, without the blank line) and `body`; reads until the server closes. */
export function rawRequest(port: number, head: string, body = ""): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${head.split("\r\n")[0]}`)));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const [top = "", ...rest] = text.split("\r\n\r\n");
      const [statusLine = "", ...headerLines] = top.split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const at = line.indexOf(":");
        if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
      const body = rest.join("\r\n\r\n");
      const chunked = headers["transfer-encoding"]?.toLowerCase() === "chunked";
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body: chunked ? dechunk(body) : body });
    });
    socket.write(`${head}\r\nConnection: close\r\n\r\n${body}`);
  });
}
