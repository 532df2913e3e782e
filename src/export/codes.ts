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
      return [t.name, helpers.length > 0 ? `${helpers.join("\n")}\n\n${source}` : source];
    }),
  );
}
