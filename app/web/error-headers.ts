/**
 * The headers of a thrown answer (Retry-After on a 503) on the response, for
 * a page and for its data request (single fetch applies the leaf route's
 * `headers` export to both). Routes that can answer 503 export it:
 *
 *     export { headers } from "~/web/error-headers.ts";
 */
import type { HeadersFunction } from "@remix-run/node";

export const headers: HeadersFunction = ({ errorHeaders }) => errorHeaders ?? {};
