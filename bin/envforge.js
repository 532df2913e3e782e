#!/usr/bin/env node
// Entry point: runs the compiled CLI in dist/ (built by `npm ci` through `prepare`, or `npm run build`), so start-up loads no TypeScript tooling.
import { existsSync } from "node:fs";

const entry = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("envforge: the compiled CLI (dist/) is missing: run `npm run build` in the envforge folder (`npm ci` runs it)\n");
  process.exit(1);
}
const { cli } = await import(entry.href);
await cli(process.argv.slice(2));
