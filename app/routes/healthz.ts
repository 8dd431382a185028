/** Liveness: the process is up and serving. No dependency is checked (that is /readyz). */
import { json } from "@remix-run/node";

export function loader() {
  return json({ status: "ok" });
}
