// Checks a call's arguments against the tool's input JSON Schema and words each problem so it names the argument.
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import type { Environment } from "../schema/index.ts";

/** One Ajv for the process; validators are removed from its cache once compiled, so they live as long as their environment. */
let ajv: Ajv | undefined;

function instance(): Ajv {
  ajv ??= new Ajv({ strict: false, allErrors: true, validateFormats: false, logger: false });
  return ajv;
}

/** Compiles one input schema; throws with Ajv's reason when the schema itself is invalid. */
export function compileInputSchema(schema: Record<string, unknown>): ValidateFunction {
  // A `$schema` naming a draft Ajv was not built with would make compiling fail; the keywords are what matter.
  const { $schema: _ignored, ...rest } = schema;
  const a = instance();
  try {
    return a.compile(rest);
  } finally {
    a.removeSchema(rest);
  }
}

/** Each tool's source and compiled input schema, in document order, and every problem found (a missing implementation, an invalid schema). */
export function compileTools(env: Environment): { tools: { name: string; source: string; validate: ValidateFunction }[]; problems: string[] } {
  const tools: { name: string; source: string; validate: ValidateFunction }[] = [];
  const problems: string[] = [];
  for (const tool of env.tools) {
    const source = env.implementation.tools[tool.name];
    if (source === undefined) {
      problems.push(`tool "${tool.name}": no implementation`);
      continue;
    }
    try {
      tools.push({ name: tool.name, source, validate: compileInputSchema(tool.input_schema) });
    } catch (err) {
      problems.push(`tool "${tool.name}": invalid input_schema: ${(err as Error).message}`);
    }
  }
  return { tools, problems };
}

export type CheckedArguments = { ok: true; json: string } | { ok: false; message: string };

/**
 * Turns arbitrary arguments into the JSON text the sandbox receives and validates exactly
 * that (what survives JSON is what the tool sees). Never throws: values that are not JSON,
 * or too deeply nested to check, are reported as invalid arguments.
 */
export function checkArguments(validate: ValidateFunction, args: unknown): CheckedArguments {
  let json: string | undefined;
  try {
    json = args === undefined ? "{}" : JSON.stringify(args);
  } catch (err) {
    return { ok: false, message: `arguments are not JSON: ${(err as Error).message}` };
  }
  if (json === undefined) return { ok: false, message: `arguments must be an object, not ${typeof args}` };
  try {
    if (validate(JSON.parse(json))) return { ok: true, json };
  } catch (err) {
    return { ok: false, message: `arguments could not be checked: ${(err as Error).message}` };
  }
  return { ok: false, message: describeErrors(validate.errors ?? []) };
}

/** `title`, `max results`, `filters[0].name`, `options["page size"]` from a JSON Pointer: the argument's own name first, as written. */
function argumentPath(pointer: string, extra?: string): string {
  const parts = pointer === "" ? [] : pointer.slice(1).split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (extra !== undefined) parts.push(extra);
  const [name = "", ...rest] = parts;
  let out = name;
  for (const p of rest) {
    if (/^\d+$/.test(p)) out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(p)) out += `.${p}`;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

function subject(pointer: string): string {
  return pointer === "" ? "arguments" : `argument "${argumentPath(pointer)}"`;
}

function typeList(type: unknown): string {
  return (Array.isArray(type) ? type.map(String) : [String(type)]).join(" or ");
}

function describeOne(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "required":
      return `missing required argument "${argumentPath(e.instancePath, String(p.missingProperty))}"`;
    case "additionalProperties":
      return `unexpected argument "${argumentPath(e.instancePath, String(p.additionalProperty))}"`;
    case "type":
      return e.instancePath === "" && p.type === "object" ? "arguments must be an object" : `${subject(e.instancePath)} must be ${typeList(p.type)}`;
    case "enum":
      return `${subject(e.instancePath)} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "const":
      return `${subject(e.instancePath)} must be ${JSON.stringify(p.allowedValue)}`;
    default:
      return `${subject(e.instancePath)} ${e.message ?? "is invalid"}`;
  }
}

/**
 * One message for all of Ajv's errors. The errors Ajv reports inside an `anyOf`/`oneOf`
 * are folded into the composite: "must be string or number" when every branch failed on
 * its type, otherwise "must match one of the allowed forms".
 */
export function describeErrors(errors: readonly ErrorObject[]): string {
  const composites = errors.filter((e) => e.keyword === "anyOf" || e.keyword === "oneOf");
  const inside = (e: ErrorObject, c: ErrorObject) => e !== c && e.schemaPath.startsWith(`${c.schemaPath}/`);
  const messages: string[] = [];
  for (const e of errors) {
    if (composites.some((c) => inside(e, c))) continue;
    if (e.keyword === "anyOf" || e.keyword === "oneOf") {
      const branches = errors.filter((b) => inside(b, e));
      const allTypes = branches.length > 0 && branches.every((b) => b.keyword === "type" && b.instancePath === e.instancePath);
      if (allTypes) {
        messages.push(`${subject(e.instancePath)} must be ${branches.map((b) => typeList((b.params as { type: unknown }).type)).join(" or ")}`);
      } else if (e.keyword === "oneOf" && (e.params as { passingSchemas?: unknown }).passingSchemas != null) {
        messages.push(`${subject(e.instancePath)} matches more than one of the allowed forms`);
      } else {
        messages.push(`${subject(e.instancePath)} must match one of the allowed forms`);
      }
      continue;
    }
    messages.push(describeOne(e));
  }
  return [...new Set(messages)].join("; ");
}
