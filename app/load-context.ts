/** What server/index.ts hands every loader and action besides the request. */
declare module "@remix-run/node" {
  interface AppLoadContext {
    /** The client's address as Express sees it (`req.ip`). */
    clientIp?: string;
    /**
     * This request's id: the `reqId` of its log lines and its `X-Request-Id`
     * response header (server/request-logging.ts). Lines logged with `logger`
     * (app/utils/logger.server.ts) during the request already carry it.
     */
    requestId?: string;
  }
}
export {};
