/**
 * The tracing preload, run before the app's first module is loaded:
 *
 *     node --import tsx --import ./server/tracing.ts server/index.ts
 *
 * (what `npm run dev`, `npm start` and the tests do). Off unless the standard
 * OTEL_ variables ask for traces (server/tracing-state.ts decides); when off,
 * not one OpenTelemetry module is loaded, and this file costs a few string
 * comparisons. When on, it starts the SDK (server/tracing-sdk.ts) before the
 * app imports Express, ioredis or anything else, which is why it must be a
 * preload: the instrumentations have to be in place when those load. Top-level
 * await holds the app back until they are.
 *
 * It never stops the app from starting: a tracing set-up that fails is said
 * at start-up (server/startup.ts) and the app runs untraced.
 * docs/operations.md#traces, docs/decisions/017-traces.md
 */
import { existsSync } from "node:fs";
import { setTracingStatus, tracingSettings } from "./tracing-state.ts";

// The server loads ENV_FILE (default .env) itself once the configuration is read (server/startup.ts), which is
// too late for OTEL_ variables kept there: load it now, with the same rule (variables already set win).
const file = process.env.ENV_FILE ?? ".env";
if (file && existsSync(file)) process.loadEnvFile(file);

const settings = tracingSettings(process.env);
if (!settings.enabled) {
  setTracingStatus({ enabled: false, summary: settings.reason, warn: settings.problem, shutdown: async () => {} });
} else {
  try {
    const { startTracing } = await import("./tracing-sdk.ts");
    setTracingStatus(await startTracing(settings));
  } catch (error) {
    setTracingStatus({
      enabled: false,
      summary: `tracing off: it could not start (${error instanceof Error ? error.message : String(error)})`,
      warn: true,
      shutdown: async () => {},
    });
  }
}
