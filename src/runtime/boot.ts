// The code a worker thread starts with: the compiled module as is, or from sources tsx registered first (workers start without the parent's TypeScript loader).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

/** Source for `new Worker(source, { eval: true })` that loads `moduleUrl`; both are named by absolute URL, so any cwd works. */
export function workerBoot(moduleUrl: URL): string {
  // Compiled (dist/), the module sits beside this one as .js and needs no loader.
  if (import.meta.url.endsWith(".js")) return `import(${JSON.stringify(moduleUrl.href.replace(/\.ts$/, ".js"))});`;
  const pkgFile = createRequire(import.meta.url).resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as { exports: Record<string, { import: { default: string } }> };
  const api = pathToFileURL(join(dirname(pkgFile), pkg.exports["./esm/api"]!.import.default)).href;
  return `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(moduleUrl.href)}); });`;
}
