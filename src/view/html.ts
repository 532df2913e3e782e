// HTML that cannot be injected into: a tagged template escapes every interpolated value unless it is already markup built here.
/** Markup this module built; the only thing `html` interpolates without escaping. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for an HTML or XML text node or a quoted attribute value. */
export const esc = (text: string): string => text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);

/** Nothing, for a branch that renders no markup. */
export const EMPTY = new Html("");

/** Markup from a fixed string the code wrote itself (never from data). */
export const trusted = (text: string): Html => new Html(text);

function part(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(part).join("");
  if (value === null || value === undefined || value === false) return "";
  return esc(String(value));
}

/**
 * `html\`<td>${text}</td>\``: strings, numbers and anything else are escaped; Html values and
 * arrays of them are inserted as markup; null, undefined and false render nothing.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += part(values[i]) + strings[i + 1]!;
  return new Html(out);
}
