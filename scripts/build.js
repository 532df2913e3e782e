// Compiles src/ to dist/ (tsc with tsconfig.build.json) and copies the non-TypeScript files (view assets, LLM prompts) beside the output.
// `npm ci` runs it through `prepare`; `npm test` and `npm start` run it with --if-stale, which rebuilds only when a source changed.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SRC = join(ROOT, "src");
export const DIST = join(ROOT, "dist");
const STAMP = ".source-hash";

/** Every file the output depends on, sorted, relative to the package root. */
function inputs() {
  const sources = readdirSync(SRC, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(ROOT.length));
  return [...sources, "tsconfig.json", "tsconfig.build.json", "scripts/build.js"].sort();
}

/** SHA-256 of the inputs' names and bytes: content, not mtimes, so a checkout or a touch alone rebuilds nothing. */
function sourceHash() {
  const h = createHash("sha256");
  for (const file of inputs()) h.update(`${file}\0`).update(readFileSync(join(ROOT, file))).update("\0");
  return h.digest("hex");
}

export function isFresh() {
  const stamp = join(DIST, STAMP);
  return existsSync(stamp) && readFileSync(stamp, "utf8") === sourceHash();
}

/**
 * Builds into a fresh folder and swaps it in, so a deleted source leaves no stale module behind.
 * Emits without type-checking (`noCheck`): `npm test` type-checks src, tests and bench first (`tsc --noEmit`),
 * and an install should not fail on a type error; emit does not depend on types (`isolatedModules`).
 */
export function build() {
  const t0 = performance.now();
  const hash = sourceHash();
  const out = `${DIST}.new-${process.pid}`;
  rmSync(out, { recursive: true, force: true });
  const tsc = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin/tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.build.json"), "--noCheck", "--outDir", out], { stdio: "inherit" });
  if (r.status !== 0) {
    rmSync(out, { recursive: true, force: true });
    throw new Error(`tsc failed (exit ${r.status ?? r.signal})`);
  }
  cpSync(SRC, out, { recursive: true, filter: (from) => !from.endsWith(".ts") });
  writeFileSync(join(out, STAMP), hash);
  rmSync(DIST, { recursive: true, force: true });
  renameSync(out, DIST);
  console.error(`build: compiled src/ into dist/ in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** Rebuilds when dist/ is missing or older than the sources; true when it built. */
export function ensureBuilt() {
  if (isFresh()) return false;
  build();
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    if (process.argv.includes("--if-stale")) ensureBuilt();
    else build();
  } catch (err) {
    console.error(`build: ${err.message}`);
    process.exitCode = 1;
  }
}
