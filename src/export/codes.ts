// The `codes` of a training row: each tool's own source with only the prelude helpers it uses, so a row grows with its tools, not with the prelude.
import type { Environment } from "../schema/index.ts";

/** One top-level declaration of a prelude: its text and the names it defines. */
interface Chunk {
  text: string;
  names: string[];
}

const IDENTIFIER = /[A-Za-z_$][\w$]*/g;

/**
 * JavaScript prelude split at depth-0 boundaries (outside strings, templates and comments):
 * each `function`, `class`, `const`/`let`/`var` statement is one chunk. Returns null when the
 * text does not scan cleanly (a regular expression literal holding a brace, say): the caller
 * then keeps the whole prelude, which is always correct, only larger.
 */
function javascriptChunks(prelude: string): Chunk[] | null {
  const chunks: Chunk[] = [];
  let depth = 0;
  let start = 0;
  const n = prelude.length;
  for (let i = 0; i < n; i++) {
    const c = prelude[i]!;
    if (c === "/" && prelude[i + 1] === "/") {
      i = prelude.indexOf("\n", i);
      if (i < 0) i = n;
    } else if (c === "/" && prelude[i + 1] === "*") {
      i = prelude.indexOf("*/", i + 2);
      if (i < 0) return null;
      i++;
    } else if (c === '"' || c === "'" || c === "`") {
      for (i++; i < n && prelude[i] !== c; i++) if (prelude[i] === "\\") i++;
      if (i >= n) return null;
    } else if (c === "{" || c === "(" || c === "[") depth++;
    else if (c === "}" || c === ")" || c === "]") {
      depth--;
      if (depth < 0) return null;
    }
    const boundary = depth === 0 && (c === "}" || c === ";") && /^[ \t]*(\n|$)/.test(prelude.slice(i + 1, i + 3));
    if (boundary || i === n - 1) {
      const text = prelude.slice(start, i + 1).trim();
      if (text !== "") {
        // Comments before a declaration belong to it.
        const code = text.replace(/^(?:\/\/[^\n]*\n\s*|\/\*[\s\S]*?\*\/\s*)*/, "");
        const m = /^(?:async\s+)?(?:function\*?|class|const|let|var)\s+([A-Za-z_$][\w$]*)/.exec(code);
        if (!m) return null;
        chunks.push({ text, names: [m[1]!] });
      }
      start = i + 1;
    }
  }
  return depth === 0 ? chunks : null;
}

/** Python prelude split into top-level statements (a line at column 0 with its indented or bracketed continuation; decorators stay with theirs). */
function pythonChunks(prelude: string): Chunk[] | null {
  const chunks: Chunk[] = [];
  let current: string[] = [];
  const flush = () => {
    const text = current.join("\n").trim();
    current = [];
    if (text === "") return;
    const names = definedPython(text);
    if (names === null) throw new Error("unknown statement");
    chunks.push({ text, names });
  };
  let open = 0;
  try {
    for (const line of prelude.split("\n")) {
      const top = open === 0 && /^[^\s#)\]}]/.test(line) && !/^(else|elif|except|finally)\b/.test(line);
      if (top && !(current.length > 0 && current[current.length - 1]!.startsWith("@"))) flush();
      current.push(line);
      for (const ch of line.replace(/#.*$/, "").replace(/(["'])(?:\\.|(?!\1).)*\1/g, "")) {
        if (ch === "(" || ch === "[" || ch === "{") open++;
        else if (ch === ")" || ch === "]" || ch === "}") open--;
      }
    }
    flush();
  } catch {
    return null;
  }
  return chunks;
}

function definedPython(text: string): string[] | null {
  const body = text.replace(/^(@.*\n)+/, "");
  let m = /^(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)/.exec(body);
  if (m) return [m[1]!];
  m = /^import\s+(.+)$/m.exec(body);
  if (m) return m[1]!.split(",").map((p) => p.trim().split(/\s+as\s+/).pop()!.split(".")[0]!);
  m = /^from\s+\S+\s+import\s+\(?([^)]*)\)?/s.exec(body);
  if (m) return m[1]!.split(",").map((p) => p.trim().split(/\s+as\s+/).pop()!).filter(Boolean);
  m = /^([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(?::[^=]*)?=/.exec(body);
  if (m) return m[1]!.split(",").map((s) => s.trim());
  return null;
}

/** The chunks `source` needs, followed through the chunks' own uses, in prelude order. */
function needed(chunks: readonly Chunk[], source: string): string[] {
  const byName = new Map<string, number>();
  chunks.forEach((c, i) => c.names.forEach((n) => byName.set(n, i)));
  const keep = new Set<number>();
  const queue = [source];
  while (queue.length > 0) {
    for (const [word] of queue.pop()!.matchAll(IDENTIFIER)) {
      const i = byName.get(word);
      if (i === undefined || keep.has(i)) continue;
      keep.add(i);
      queue.push(chunks[i]!.text);
    }
  }
  return chunks.filter((_, i) => keep.has(i)).map((c) => c.text);
}

const PYTHON_NAME = /^[A-Za-z_]\w*$/;

/**
 * A tool whose name is no Python name (`find-orders`) is defined with underscores (`find_orders`, where the
 * sandbox looks it up too); the reference's executor looks the function up by the tool's own name in the
 * namespace it execs the code in, so the code also binds it there. Our sandbox has no `globals`: there the
 * binding is skipped and the underscore name is found.
 */
function withToolName(name: string, code: string): string {
  const defined = name.replace(/-/g, "_");
  if (PYTHON_NAME.test(name) || !PYTHON_NAME.test(defined) || !new RegExp(`^(?:async\\s+)?def\\s+${defined}\\s*\\(`, "m").test(code)) return code;
  const bind = `try:\n    globals()[${JSON.stringify(name)}] = ${defined}\nexcept NameError:\n    pass\n`;
  return code.includes(bind) ? code : `${code.replace(/\n*$/, "\n")}\n${bind}`;
}

/**
 * Tool name -> the code the sandbox runs for it, alone: the prelude helpers it uses
 * (transitively), then the tool's own source. For a Python environment this is what the
 * reference's reward manager `exec`s before calling the function by its name.
 */
export function toolCodes(env: Environment): Record<string, string> {
  const prelude = env.implementation.prelude.trim();
  const chunks = prelude === "" ? [] : env.implementation.language === "python" ? pythonChunks(prelude) : javascriptChunks(prelude);
  return Object.fromEntries(
    env.tools.map((t) => {
      const source = env.implementation.tools[t.name]!;
      const helpers = chunks === null ? [prelude] : needed(chunks, source);
      const code = helpers.length > 0 ? `${helpers.join("\n")}\n\n${source}` : source;
      return [t.name, env.implementation.language === "python" ? withToolName(t.name, code) : code];
    }),
  );
}

/**
 * One order of the texts that keeps each list's own order where the lists agree (so a
 * statement stays after those it came after in every tool), earliest first seen otherwise.
 */
function mergedOrder(lists: readonly string[][]): string[] {
  const seen = [...new Set(lists.flat())];
  const after = new Map(seen.map((t) => [t, new Set<string>()]));
  for (const list of lists) list.forEach((t, i) => list.slice(0, i).forEach((b) => b !== t && after.get(t)!.add(b)));
  const out: string[] = [];
  while (out.length < seen.length) {
    const left = seen.filter((t) => !out.includes(t));
    // Lists that disagree leave no text free of predecessors: then take the first seen.
    out.push(left.find((t) => [...after.get(t)!].every((b) => out.includes(b))) ?? left[0]!);
  }
  return out;
}

/** A tool's code from its chunks as `toolCodes` lays them out: helpers one per line, a blank line, then the tool. */
function ownCode(chunks: readonly Chunk[], name: string): string {
  const own = chunks.findIndex((c) => c.names.includes(name));
  const helpers = chunks.slice(0, own).map((c) => c.text);
  const rest = chunks.slice(own).map((c) => c.text).join("\n\n");
  return `${helpers.length > 0 ? `${helpers.join("\n")}\n\n` : ""}${rest}\n`;
}

/**
 * The inverse of `toolCodes` for Python: each tool's code split into top-level statements; a
 * helper found identically in two or more tools' codes (and defined nowhere differently, and
 * needing only helpers that move too) goes to the prelude once, everything else stays with its
 * tool. A code that does not split cleanly stays whole, which the sandbox runs the same way
 * (each tool is evaluated in its own copy of the prelude's namespace).
 */
export function splitToolCodes(codes: Readonly<Record<string, string>>): { prelude: string; tools: Record<string, string> } {
  const split = Object.entries(codes).map(([name, code]) => {
    const chunks = pythonChunks(code);
    return { name, code, chunks: chunks !== null && chunks.some((c) => c.names.includes(name)) ? chunks : null };
  });
  const helpers = split.flatMap((s) => (s.chunks ?? []).filter((c) => !c.names.includes(s.name)).map((c) => ({ ...c, tool: s.name })));
  const textsOf = new Map<string, Set<string>>();
  for (const h of helpers) for (const n of h.names) textsOf.set(n, (textsOf.get(n) ?? new Set()).add(h.text));
  const toolsWith = new Map<string, Set<string>>();
  for (const h of helpers) toolsWith.set(h.text, (toolsWith.get(h.text) ?? new Set()).add(h.tool));
  const shared = new Set([...toolsWith].filter(([text, tools]) => tools.size >= 2 && helpers.find((h) => h.text === text)!.names.every((n) => textsOf.get(n)!.size === 1)).map(([text]) => text));
  // A prelude helper sees only the prelude: drop any that uses a helper staying behind, until none does.
  for (let changed = true; changed; ) {
    changed = false;
    for (const text of shared) {
      const uses = [...text.matchAll(IDENTIFIER)].map(([w]) => w);
      if (helpers.some((h) => !shared.has(h.text) && h.names.some((n) => uses.includes(n)))) (shared.delete(text), (changed = true));
    }
  }
  const prelude = mergedOrder(split.map((s) => (s.chunks ?? []).map((c) => c.text).filter((t) => shared.has(t))));
  return {
    prelude: prelude.length > 0 ? `${prelude.join("\n\n")}\n` : "",
    tools: Object.fromEntries(split.map((s) => [s.name, s.chunks === null ? s.code : ownCode(s.chunks.filter((c) => !shared.has(c.text)), s.name)])),
  };
}
