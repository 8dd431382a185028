/**
 * A preload for the app process in a test (startApp's `preloads`): when the
 * process exits, writes the file of every CommonJS module it loaded (Node's
 * module cache, which also holds the CommonJS packages imported from ESM, as
 * every OpenTelemetry package is) to LOADED_MODULES_FILE, one a line.
 */
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const file = process.env.LOADED_MODULES_FILE;
if (file) {
  const cache = createRequire(import.meta.url).cache;
  process.on("exit", () => writeFileSync(file, Object.keys(cache).join("\n")));
}
