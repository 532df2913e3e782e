// The reply cache and the audit log. A cache entry is keyed by a hash of (prompt versions, model,
// messages, temperature), so a re-run sends nothing; the audit log is one JSON line per request and
// per candidate outcome, so a run can be read back and checked.
import { createHash } from "node:crypto";
import { appendFile, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ModelReply, PromptMessage } from "./model.ts";

/** Bumped when the key or entry layout changes, so old entries are never misread. */
export const CACHE_FORMAT = "envforge-llm-cache@1";

export interface CacheEntry {
  format: typeof CACHE_FORMAT;
  key: string;
  /** Versions of the prompt files the messages were rendered from, e.g. `system@1+deploy@1`. */
  prompt: string;
  model: string;
  temperature: number | null;
  messages: PromptMessage[];
  reply: ModelReply;
}

export function cacheKey(prompt: string, model: string, messages: readonly PromptMessage[], temperature: number | null): string {
  const canonical = JSON.stringify([CACHE_FORMAT, prompt, model, temperature, messages.map((m) => [m.role, m.content])]);
  return createHash("sha256").update(canonical).digest("hex");
}

let tmpCounter = 0;

/** Entries live at `<dir>/<first two hex digits>/<key>.json`; a torn or foreign file reads as a miss. */
export class ReplyCache {
  constructor(readonly dir: string) {}

  file(key: string): string {
    return join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  async get(key: string): Promise<ModelReply | null> {
    let entry: Partial<CacheEntry>;
    try {
      entry = JSON.parse(await readFile(this.file(key), "utf8"));
    } catch {
      return null;
    }
    const reply = entry.reply;
    if (entry.format !== CACHE_FORMAT || entry.key !== key || !reply || typeof reply.text !== "string") return null;
    return { text: reply.text, usage: reply.usage ?? null };
  }

  /** Written to a temporary name and renamed, so a reader never sees half an entry. */
  async put(entry: CacheEntry): Promise<void> {
    const file = this.file(entry.key);
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${++tmpCounter}.tmp`;
    await writeFile(tmp, `${JSON.stringify(entry)}\n`);
    await rename(tmp, file);
  }
}

/** One JSON object per line, appended in the order records arrive. */
export class AuditLog {
  private chain: Promise<void>;

  private constructor(
    readonly file: string,
    start: Promise<void>,
  ) {
    this.chain = start;
  }

  /** Starts a fresh log (a log describes one run). */
  static create(file: string): AuditLog {
    return new AuditLog(
      file,
      mkdir(dirname(file), { recursive: true }).then(() => writeFile(file, "")),
    );
  }

  write(record: Record<string, unknown>): Promise<void> {
    this.chain = this.chain.then(() => appendFile(this.file, `${JSON.stringify(record)}\n`));
    return this.chain;
  }

  flush(): Promise<void> {
    return this.chain;
  }
}
