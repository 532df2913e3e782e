// Enforces which layer may import which, so dependencies keep pointing one way.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../src");

/** Each layer and the layers it may import. Anything unlisted is a violation. */
const ALLOWED: Record<string, string[]> = {
  schema: [],
  load: ["schema"],
  score: ["schema"],
  runtime: ["schema"],
  store: ["schema"],
  construct: ["schema", "load", "runtime", "score"],
  episode: ["schema", "load", "runtime", "score", "store"],
  serve: ["schema", "load", "runtime", "score", "store", "episode"],
  run: ["schema", "load", "runtime", "score", "store", "episode", "serve"],
  export: ["schema", "load", "score", "store"],
  view: ["schema", "load", "score", "store", "export"],
  cli: ["schema", "load", "runtime", "score", "store", "construct", "episode", "serve", "run", "export", "view"],
};

function filesBelow(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesBelow(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const layerOf = (file: string): string => relative(SRC, file).split(/[\\/]/)[0]!;

describe("architecture", () => {
  const files = filesBelow(SRC);

  it("puts every source file in a known layer", () => {
    for (const f of files) expect(Object.keys(ALLOWED), relative(SRC, f)).toContain(layerOf(f));
  });

  it("imports only from allowed layers", () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = layerOf(file);
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
        const target = resolve(dirname(file), m[1]!);
        const to = layerOf(target);
        if (to !== from && !ALLOWED[from]!.includes(to)) violations.push(`${relative(SRC, file)} imports ${m[1]} (${from} -> ${to})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it("keeps SQLite and PostgreSQL inside src/store", () => {
    const users = files.filter((f) => /["'](better-sqlite3|pg)["']/.test(readFileSync(f, "utf8"))).map((f) => layerOf(f));
    expect([...new Set(users)].filter((l) => l !== "store")).toEqual([]);
  });

  it("keeps src/schema to schemas: no node: imports and no I/O", () => {
    for (const f of files.filter((f) => layerOf(f) === "schema")) {
      expect(readFileSync(f, "utf8"), relative(SRC, f)).not.toMatch(/from\s+["']node:/);
    }
  });

  it("opens every source file with a line on what it is for", () => {
    for (const f of files) expect(readFileSync(f, "utf8"), relative(SRC, f)).toMatch(/^(#!.*\n)?\/\/ \S/);
  });
});
