// The versioned prompt files in ./prompts: each opens with a header naming it and its version, which
// goes into every cache key and record, so a changed prompt never reuses an old reply.
import { readdirSync, readFileSync } from "node:fs";

export interface PromptFile {
  name: string;
  version: number;
  body: string;
}

const DIR = new URL("./prompts/", import.meta.url);

function parsePrompt(file: string, text: string): PromptFile {
  const m = /^---\nprompt: ([a-z-]+)\nversion: (\d+)\n---\n([\s\S]*)$/.exec(text.replace(/\r\n/g, "\n"));
  if (!m) throw new Error(`prompt file ${file} lacks its header (---, prompt: NAME, version: N, ---)`);
  if (`${m[1]}.md` !== file) throw new Error(`prompt file ${file} names itself "${m[1]}"`);
  return { name: m[1]!, version: Number(m[2]), body: m[3]!.trimEnd() };
}

let loaded: Map<string, PromptFile> | null = null;

/** Every prompt file, read once. */
export function prompts(): Map<string, PromptFile> {
  loaded ??= new Map(
    readdirSync(DIR)
      .filter((f) => f.endsWith(".md"))
      .sort()
      .map((f) => {
        const p = parsePrompt(f, readFileSync(new URL(f, DIR), "utf8"));
        return [p.name, p];
      }),
  );
  return loaded;
}

/** `name@version`, as records and cache keys name a prompt. */
export const promptId = (p: PromptFile): string => `${p.name}@${p.version}`;

/** The prompt's body with every `{{var}}` filled in; a placeholder without a value is a bug here, not in the model. */
export function render(name: string, vars: Record<string, string>): { text: string; id: string } {
  const p = prompts().get(name);
  if (!p) throw new Error(`no prompt file ${name}.md`);
  const text = p.body.replace(/\{\{([a-z_]+)\}\}/g, (_, key: string) => {
    const v = vars[key];
    if (v === undefined) throw new Error(`prompt ${name} needs {{${key}}}`);
    return v;
  });
  return { text, id: promptId(p) };
}
