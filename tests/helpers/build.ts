// Vitest global setup: rebuilds dist/ when a source changed, so tests that spawn bin/envforge.js run the code under test.
import { spawnSync } from "node:child_process";
import { join } from "node:path";

export default function setup(): void {
  const r = spawnSync(process.execPath, [join(import.meta.dirname, "../../scripts/build.js"), "--if-stale"], { stdio: "inherit" });
  if (r.status !== 0) throw new Error("building dist/ failed (see above)");
}
