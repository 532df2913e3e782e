#!/usr/bin/env node
// Entry point: loads tsx from this package's own node_modules, so it runs from any directory.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
