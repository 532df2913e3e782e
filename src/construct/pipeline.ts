// The five construction stages in order, with their contracts checked at the boundaries and a compact
// record of each stage's artifact in the environment's provenance.
import type { z } from "zod";
import { BuildRequest, Decomposition, Documentation, Environment, Integration, Scaling } from "../schema/index.ts";
import { decompose } from "./decompose.ts";
import { deploy } from "./deploy.ts";
import { document } from "./document.ts";
import { integrate } from "./integrate.ts";
import { scale } from "./scale.ts";

/** The stages; an LLM-backed generator replaces any of them with a function of the same contract. */
export interface Stages {
  decompose(request: BuildRequest): Decomposition;
  document(d: Decomposition): Documentation;
  integrate(d: Decomposition, doc: Documentation): Integration;
  scale(d: Decomposition, integration: Integration): Scaling;
  deploy(d: Decomposition, scaling: Scaling): Environment;
}

export const PROCEDURAL: Stages = { decompose, document, integrate, scale, deploy };

export interface Artifacts {
  decomposition: Decomposition;
  documentation: Documentation;
  integration: Integration;
  scaling: Scaling;
}

function checked<T>(schema: z.ZodType<T>, value: T, stage: string, check: boolean): T {
  if (!check) return value;
  const r = schema.safeParse(value);
  if (!r.success) throw new Error(`stage ${stage} broke its contract: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return r.data;
}

/** What a reader needs to retrace the stages, kept small: the full artifacts are large and mostly repeat the file. */
export function provenanceStages(a: Artifacts, env: Environment): Record<string, z.core.util.JSONType> {
  const d = a.decomposition;
  return {
    decompose: {
      tasks: d.tasks.map((t) => ({
        id: t.id,
        pattern: t.pattern,
        sub_questions: t.sub_questions.map((s) => ({ id: s.id, text: s.text, relation: s.relation })),
      })),
      rows: Object.fromEntries(Object.entries(d.knowledge.tables).map(([n, t]) => [n, t.rows.length])),
    },
    document: {
      style: { casing: a.documentation.style.casing, verb: a.documentation.style.verb, verbosity: a.documentation.style.verbosity },
      tools: a.documentation.tools.map((t) => t.name),
    },
    integrate: {
      n: a.documentation.tools.length,
      m: a.integration.tools.length,
      merges: a.integration.merges.map((m) => ({ into: m.into, from: m.from, reason: m.reason })),
    },
    scale: {
      operations: a.scaling.operations.map((o) => ({ strategy: o.strategy, level: o.level, change: o.change, ...(o.strategy === "parameter_expansion" ? {} : { tools: o.tools }) })),
      distractors: a.scaling.distractors.map((x) => ({ name: x.name, kind: x.kind, example: x.example })),
    },
    deploy: {
      state: Object.keys(env.initial_state),
      stateful_tools: a.scaling.tools.filter((t) => t.behavior.kind === "action").map((t) => t.name),
    },
  };
}

/** Runs stages 1-5. `check` validates every artifact against its contract (always done for replaced stages). */
export function generate(request: BuildRequest, stages: Stages = PROCEDURAL, check = false): { env: Environment; artifacts: Artifacts } {
  const own = (k: keyof Stages) => check || stages[k] !== PROCEDURAL[k];
  const decomposition = checked(Decomposition, stages.decompose(checked(BuildRequest, request, "request", true)), "decompose", own("decompose"));
  const documentation = checked(Documentation, stages.document(decomposition), "document", own("document"));
  const integration = checked(Integration, stages.integrate(decomposition, documentation), "integrate", own("integrate"));
  const scaling = checked(Scaling, stages.scale(decomposition, integration), "scale", own("scale"));
  const env = checked(Environment, stages.deploy(decomposition, scaling), "deploy", own("deploy"));
  const artifacts = { decomposition, documentation, integration, scaling };
  env.provenance.stages = provenanceStages(artifacts, env);
  return { env, artifacts };
}

/** The file text: 2-space JSON with a trailing newline. */
export const environmentText = (env: Environment): string => `${JSON.stringify(env, null, 2)}\n`;
