/**
 * npm run sessions:migrate — moves every session record of the layout before
 * the hot/cold split (one JSON record at `<prefix>sess:<id>`, tokens inside)
 * to the current one (`sess:{<id>}` and `tok:{<id>}`), under the same ids, so
 * nobody is signed out. Optional: the app moves a record by itself the next
 * time its session is used; this does them all at once (SCAN, never KEYS; on
 * a Cluster, every primary). Safe to run again, and while the app serves.
 * Reads the same configuration as the server (.env, REDIS_*, TOKEN_ENCRYPTION_KEYS).
 */
import { closeRedis } from "../app/platform/redis.server.ts";
import { moveLegacySessions } from "../app/session/session.server.ts";
import { loadConfiguration } from "../server/startup.ts";

const env = await loadConfiguration();
if (env.sessionStore !== "redis") {
  console.log("[migrate] SESSION_STORE=cookie: there are no sessions in Redis to move");
  process.exit(0);
}
try {
  const moved = await moveLegacySessions((count) => process.stdout.write(`\r[migrate] ${count} moved`));
  console.log(`\n[migrate] done: ${moved} session record(s) moved to the current layout`);
} finally {
  await closeRedis();
}
