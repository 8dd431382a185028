/** Liveness: the process is up and serving. No dependency is checked (that is /readyz). */
export function loader() {
  return Response.json({ status: "ok" });
}
