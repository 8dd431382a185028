/** What server/index.ts hands every loader and action besides the request. */
declare module "@remix-run/node" {
  interface AppLoadContext {
    /** The client's address as Express sees it (`req.ip`). */
    clientIp?: string;
    /** This response's Content-Security-Policy nonce (server/security-headers.ts), for the scripts Remix renders. */
    cspNonce: string;
  }
}
export {};
