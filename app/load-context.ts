/** What server/index.ts hands every loader and action besides the request. */
declare module "@remix-run/node" {
  interface AppLoadContext {
    /** The client's address as Express sees it (`req.ip`). */
    clientIp?: string;
  }
}
export {};
