// A small ORS client written against the published wire shapes (openrewardstandard.io): JSON routes, sessions by X-Session-ID, SSE calls.

export interface OrsToolOutput {
  blocks: { type: string; text?: string }[];
  metadata: Record<string, unknown> | null;
  reward: number | null;
  finished: boolean;
}

export type OrsCallResult = { ok: true; output: OrsToolOutput } | { ok: false; error: string; reason?: string };

export class OrsError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(`ORS ${status}: ${detail}`);
  }
}

/** Splits an SSE body into (event, data) pairs: blank lines end events, `:` lines are comments, data lines join with newlines. */
export function parseSse(text: string): [string, string][] {
  const out: [string, string][] = [];
  let event: string | null = null;
  let data: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (raw === "") {
      if (event !== null) out.push([event, data.join("\n")]);
      event = null;
      data = [];
      continue;
    }
    if (raw.startsWith(":")) continue;
    const colon = raw.indexOf(":");
    const field = colon === -1 ? raw : raw.slice(0, colon);
    const value = colon === -1 ? "" : raw.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return out;
}

/** The result of an SSE exchange: `chunk` events joined with the `end` event's data, as ORS clients read it. */
export function sseResult(events: readonly [string, string][]): { taskId: string | null; result: unknown } {
  let taskId: string | null = null;
  const chunks: string[] = [];
  for (const [event, data] of events) {
    if (event === "task_id") taskId = data.trim();
    else if (event === "chunk") chunks.push(data);
    else if (event === "error") throw new OrsError(200, data);
    else if (event === "end") {
      chunks.push(data);
      const joined = chunks.join("");
      return { taskId, result: joined === "" ? null : JSON.parse(joined) };
    }
  }
  throw new OrsError(200, "stream ended without an end event");
}

export class OrsClient {
  constructor(
    readonly base: string,
    readonly headers: Record<string, string> = {},
  ) {}

  private async request(method: string, path: string, body?: unknown, sid?: string): Promise<Response> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { ...this.headers, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(sid ? { "x-session-id": sid } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) {
      const text = await res.text();
      let detail = text;
      try {
        detail = (JSON.parse(text) as { detail?: string }).detail ?? text;
      } catch {
        // not JSON: the text is the detail
      }
      throw new OrsError(res.status, detail);
    }
    return res;
  }

  async json<T>(method: string, path: string, body?: unknown, sid?: string): Promise<T> {
    return (await (await this.request(method, path, body, sid)).json()) as T;
  }

  async sse(path: string, body: unknown, sid?: string): Promise<{ taskId: string | null; result: unknown }> {
    return sseResult(parseSse(await (await this.request("POST", path, body, sid)).text()));
  }

  listEnvironments = () => this.json<string[]>("GET", "/list_environments");
  splits = (env: string) => this.json<{ name: string }[]>("GET", `/${env}/splits`);
  tasks = (env: string, split: string) => this.json<{ tasks: Record<string, unknown>[]; env_name: string }>("POST", `/${env}/tasks`, { split });

  /** create_session, then create: the session id is the episode id. */
  async open(env: string, task: { task_spec: unknown } | { split: string; index: number }): Promise<string> {
    const { taskId } = await this.sse("/create_session", {});
    await this.json("POST", "/create", { env_name: env, ...task }, taskId!);
    return taskId!;
  }

  prompt = (env: string, sid: string) => this.json<{ type: string; text: string }[]>("GET", `/${env}/prompt`, undefined, sid);
  taskTools = (env: string, sid: string) => this.json<{ tools: { name: string; description: string; input_schema: unknown }[] }>("GET", `/${env}/task_tools`, undefined, sid);
  async call(env: string, sid: string, name: string, input: Record<string, unknown>): Promise<OrsCallResult> {
    return (await this.sse(`/${env}/call`, { name, input }, sid)).result as OrsCallResult;
  }
  close = (sid: string) => this.json("POST", "/delete", {}, sid);
}
