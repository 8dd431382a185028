/** Readiness: 200 when Redis and the provider answer, else 503 saying which does not. */
import { readiness } from "~/web/readiness.server.ts";

export async function loader() {
  const { ready, checks } = await readiness();
  return Response.json({ status: ready ? "ready" : "not ready", checks }, { status: ready ? 200 : 503 });
}
