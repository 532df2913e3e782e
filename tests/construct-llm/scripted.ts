// Scripted stage replies for LLM-build tests: a good reply is what the procedural stage makes of the
// prompt's inputs; bad ones break it in one named way (unreadable JSON, a contract misfit, code that
// answers wrongly, loops forever or leaks sub-answers). Used by the fake OpenAI server and the sampling client.
import { decompose, deploy, document, integrate, scale } from "../../src/construct/index.ts";
import type { Decomposition, Documentation, Environment, Integration, Scaling } from "../../src/schema/index.ts";
import { startFakeOpenAI, type FakeOpenAI } from "../run/openai-server.ts";

export type Stage = "decompose" | "document" | "integrate" | "scale" | "deploy";
export type Variant = "good" | "invalid-json" | "schema" | "wrong-answer" | "loop" | "leak";

/** Marks the code of bad variants, so a test can show none of it reached a written file. */
export const BAD_MARK = "scripted_bad_variant";

export const stageOf = (system: string): Stage => {
  const m = /^envforge build stage: ([a-z]+)/.exec(system);
  if (!m) throw new Error(`no stage marker in the system prompt: ${system.slice(0, 80)}`);
  return m[1] as Stage;
};

/** The named JSON inputs of a stage prompt (`### Input \`name\`` and a json fence). */
export function inputsOf(user: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of user.matchAll(/### Input `([a-z_]+)`\n```json\n(.*)\n```/g)) out[m[1]!] = JSON.parse(m[2]!);
  return out;
}

/**
 * What the procedural stage makes of the inputs. With `givenTools`, the documents are those of the
 * merged toolset (a given toolset is documented as it is, not one tool per sub-question).
 */
export function goodOutput(stage: Stage, inputs: Record<string, unknown>, givenTools = false): unknown {
  const d = inputs.decomposition as Decomposition;
  switch (stage) {
    case "decompose":
      return decompose(inputs.request as Parameters<typeof decompose>[0]);
    case "document": {
      const doc = document(d);
      if (!givenTools) return doc;
      const merged = integrate(d, doc);
      return { style: merged.style, tools: merged.tools, calls: merged.calls };
    }
    case "integrate":
      return integrate(d, inputs.documentation as Documentation);
    case "scale":
      return scale(d, inputs.integration as Integration);
    case "deploy":
      return deploy(d, inputs.scaling as Scaling);
  }
}

/** The deploy output with the first gold step's tool replaced or wrapped. */
function badEnvironment(env: Environment, variant: Variant): Environment {
  const tool = env.tasks[0]!.gold_plan[0]!.tool;
  const fn = tool.replace(/-/g, "_");
  const impl = { ...env.implementation, tools: { ...env.implementation.tools } };
  if (variant === "wrong-answer") impl.tools[tool] = `function ${fn}(args, state) {\n  return { ${BAD_MARK}: true, result: "Nobody In Particular" };\n}`;
  else if (variant === "loop") impl.tools[tool] = `function ${fn}(args, state) {\n  let ${BAD_MARK} = 0;\n  while (true) ${BAD_MARK}++;\n}`;
  else {
    // Every error of the tool lists the sub-answers it is meant to yield: any wrong call reveals them.
    const answers = env.tasks.flatMap((t) => t.unsolved_set[tool] ?? []);
    const inner = env.implementation.tools[tool]!.replace(`function ${fn}(`, `function ${BAD_MARK}(`);
    impl.tools[tool] = `function ${fn}(args, state) {\n  ${inner}\n  try {\n    return ${BAD_MARK}(args, state);\n  } catch (e) {\n    throw new Error(e.message + " Records on file: ${answers.join("; ")}.");\n  }\n}`;
  }
  return { ...env, implementation: impl };
}

export function replyText(stage: Stage, inputs: Record<string, unknown>, variant: Variant, givenTools = false): string {
  if (variant === "invalid-json") return `Here is the ${stage} output: {"title": "unfinished`;
  const good = goodOutput(stage, inputs, givenTools) as Record<string, unknown>;
  if (variant === "good") return `\`\`\`json\n${JSON.stringify(good, null, 1)}\n\`\`\``;
  if (variant === "schema") {
    const { [Object.keys(good).find((k) => k !== "request")!]: _dropped, ...rest } = good;
    return JSON.stringify({ ...rest, [BAD_MARK]: true });
  }
  if (stage !== "deploy") throw new Error(`variant ${variant} is for the deploy stage`);
  return JSON.stringify(badEnvironment(good as unknown as Environment, variant));
}

/** Per stage, the variants to play in order; once a queue runs out, replies are good. */
export type Script = Partial<Record<Stage, Variant[]>>;

export interface ScriptedServer extends FakeOpenAI {
  /** Requests per stage, in arrival order. */
  byStage(stage: Stage): FakeOpenAI["requests"];
}

export async function startScriptedServer(script: Script = {}, givenTools = false): Promise<ScriptedServer> {
  const queues = Object.fromEntries(Object.entries(script).map(([k, v]) => [k, [...v]])) as Script;
  const server = await startFakeOpenAI((body) => {
    const system = body.messages[0]?.content ?? "";
    const stage = stageOf(system);
    const variant = queues[stage]?.shift() ?? "good";
    return { content: replyText(stage, inputsOf(body.messages[1]?.content ?? ""), variant, givenTools) };
  });
  return { ...server, byStage: (stage) => server.requests.filter((r) => stageOf(r.body.messages[0]?.content ?? "") === stage) };
}
