// Reading a JSON value out of a model's reply: bare JSON, a ```json fence, or one object amid prose.

export type Extracted = { ok: true; value: unknown } | { ok: false; error: string };

const tryParse = (text: string): Extracted => {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
};

/**
 * The JSON value in a reply. Tried in order: the whole reply; each fenced block (```json or bare ```),
 * first to last; the text from the first `{` to the last `}`. The error names the first failure, which
 * is what a model needs to fix its reply.
 */
export function extractJson(reply: string): Extracted {
  const text = reply.trim();
  if (text === "") return { ok: false, error: "the reply is empty" };
  const whole = tryParse(text);
  if (whole.ok) return whole;
  const fences = [...text.matchAll(/```[a-zA-Z0-9_-]*[ \t]*\r?\n([\s\S]*?)\r?\n[ \t]*```/g)];
  let first: Extracted | null = null;
  for (const m of fences) {
    const r = tryParse(m[1]!);
    if (r.ok) return r;
    first ??= r;
  }
  const open = text.indexOf("{");
  const close = text.lastIndexOf("}");
  if (fences.length === 0 && open >= 0 && close > open) {
    const r = tryParse(text.slice(open, close + 1));
    if (r.ok) return r;
    first ??= r;
  }
  const error = first && !first.ok ? first.error : whole.ok ? "" : whole.error;
  return { ok: false, error: `${fences.length > 0 ? "the fenced block is not valid JSON" : "the reply is not valid JSON"}: ${error}` };
}
