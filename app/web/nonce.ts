/** The CSP nonce of this response, for the scripts Remix renders (set by entry.server.tsx; empty in the browser). */
import { createContext, useContext } from "react";

export const NonceContext = createContext("");
export const useNonce = () => useContext(NonceContext);
