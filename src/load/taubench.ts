// Reads FTRL's tau-bench layout: one folder per domain with tools.json, codes.json, data/*.json and tasks*.json.
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { z } from "zod";

/** A tool document as tools.json lists it: OpenAI function tools, or bare {name, description, parameters}. */
const FunctionDoc = z.object({ name: z.string(), description: z.string().default(""), parameters: z.record(z.string(), z.unknown()).default({ type: "object", properties: {} }) });
const ToolDoc = z.union([z.object({ type: z.literal("function"), function: FunctionDoc }).transform((t) => t.function), FunctionDoc]);

/** One task: the user's instruction, the gold actions, and the texts the agent's reply must contain. */
export const TaubenchTask = z.object({
  id: z.union([z.string(), z.number()]).optional(),
  user_id: z.string().optional(),
  instruction: z.string().min(1),
  actions: z.array(z.object({ name: z.string(), arguments: z.record(z.string(), z.json()).default({}), kwargs: z.record(z.string(), z.json()).optional() })).default([]),
  outputs: z.array(z.string()).default([]),
});
export type TaubenchTask = z.infer<typeof TaubenchTask>;

export interface TaubenchDomain {
  name: string;
  dir: string;
  tools: z.infer<typeof FunctionDoc>[];
  /** tool name -> Python source defining `def name(data, **params) -> str`. */
  codes: Record<string, string>;
  /** data/<table>.json -> data["<table>"]. */
  data: Record<string, unknown>;
  tasks: { file: string; index: number; task: TaubenchTask }[];
}

async function json(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as unknown;
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

const isDir = async (p: string) => (await stat(p).catch(() => null))?.isDirectory() ?? false;
const isFile = async (p: string) => (await stat(p).catch(() => null))?.isFile() ?? false;

/** Every domain folder below `root` (or `root` itself when it is one), each read whole; problems name the file. */
export async function readTaubench(root: string): Promise<{ domains: TaubenchDomain[]; problems: string[] }> {
  const candidates = (await isFile(join(root, "tools.json"))) ? [root] : (await readdir(root)).sort().map((n) => join(root, n));
  const domains: TaubenchDomain[] = [];
  const problems: string[] = [];
  for (const dir of candidates) {
    if (!(await isFile(join(dir, "tools.json"))) || !(await isFile(join(dir, "codes.json")))) continue;
    try {
      domains.push(await readDomain(dir));
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (domains.length === 0 && problems.length === 0) problems.push(`${root}: no domain folder (one holding tools.json and codes.json)`);
  return { domains, problems };
}

async function readDomain(dir: string): Promise<TaubenchDomain> {
  const tools = z.array(ToolDoc).safeParse(await json(join(dir, "tools.json")));
  if (!tools.success) throw new Error(`${join(dir, "tools.json")}: ${tools.error.issues[0]!.message} at ${tools.error.issues[0]!.path.join(".")}`);
  const codes = z.record(z.string(), z.string()).safeParse(await json(join(dir, "codes.json")));
  if (!codes.success) throw new Error(`${join(dir, "codes.json")}: expected an object of tool name -> Python source`);
  const data: Record<string, unknown> = {};
  const dataDir = join(dir, "data");
  if (await isDir(dataDir)) {
    for (const f of (await readdir(dataDir)).filter((f) => f.endsWith(".json")).sort()) data[basename(f, ".json")] = await json(join(dataDir, f));
  }
  const tasks: TaubenchDomain["tasks"] = [];
  for (const f of (await readdir(dir)).filter((f) => /^tasks.*\.json$/.test(f)).sort()) {
    const list = z.array(TaubenchTask).safeParse(await json(join(dir, f)));
    if (!list.success) throw new Error(`${join(dir, f)}: ${list.error.issues[0]!.message} at ${list.error.issues[0]!.path.join(".")}`);
    list.data.forEach((task, index) => tasks.push({ file: f, index, task }));
  }
  return { name: basename(dir), dir, tools: tools.data, codes: codes.data, data, tasks };
}
