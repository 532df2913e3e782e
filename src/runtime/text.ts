// Renders tool outputs as the Python reference shows them to the agent: json.dumps(value, ensure_ascii=False).

/** The reference's wording for a failed call, typo included, so exported rows match its data byte for byte. */
export function formatCallError(tool: string, message: string): string {
  return `an error occured when call ${tool}: ${message}`;
}

/**
 * The text the agent sees for a tool's return value: strings as they are, every other JSON
 * value as Python's `json.dumps(value, ensure_ascii=False)` writes it (", " and ": "
 * separators, `1e+16`, `1.5e-07`, `NaN`, lone surrogates unescaped).
 *
 * JavaScript has one number type, so a number that is a safe integer prints as a Python int
 * (`2`, never `2.0`); every other finite number prints as a Python float. Throws a TypeError
 * naming the path for anything that is not JSON (undefined, functions, bigints, cycles).
 */
export function toolOutputText(value: unknown): string {
  return typeof value === "string" ? value : pyDumps(value);
}

/**
 * The same text as `toolOutputText(JSON.parse(json))` for JSON written by JSON.stringify (in
 * V8 or QuickJS), made by one pass over the JSON instead of walking the parsed value: it adds
 * Python's spaces after "," and ":", rewrites numbers that Python writes differently, and
 * unescapes lone surrogates, which JSON.stringify escapes and Python leaves raw. Everything
 * else JSON.stringify already escapes exactly as Python does.
 */
export function pythonTextOfJson(json: string): string {
  let out = "";
  let copied = 0;
  const n = json.length;
  for (let i = 0; i < n; i++) {
    const c = json.charCodeAt(i);
    if (c === QUOTE) {
      for (i++; i < n; i++) {
        const d = json.charCodeAt(i);
        if (d === QUOTE) break;
        if (d !== BACKSLASH) continue;
        if (json.charCodeAt(i + 1) === LOWER_U && isSurrogateEscape(json, i + 2)) {
          out += json.slice(copied, i) + String.fromCharCode(parseInt(json.slice(i + 2, i + 6), 16));
          copied = i + 6;
          i += 5;
        } else i++;
      }
    } else if (c === COMMA || c === COLON) {
      out += `${json.slice(copied, i + 1)} `;
      copied = i + 1;
    } else if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) {
      let end = i + 1;
      let integer = true;
      for (; end < n; end++) {
        const d = json.charCodeAt(end);
        if (d >= DIGIT_0 && d <= DIGIT_9) continue;
        if (d === DOT || d === LOWER_E || d === UPPER_E || d === PLUS || d === MINUS) integer = false;
        else break;
      }
      // Up to 15 digits an integer is always safe, and Python writes it the same way.
      if (!integer || end - i > 15) {
        out += json.slice(copied, i) + pyNumber(Number(json.slice(i, end)));
        copied = end;
      }
      i = end - 1;
    }
  }
  return out + json.slice(copied);
}

// Character codes the scanner looks at.
const QUOTE = 34, BACKSLASH = 92, COMMA = 44, COLON = 58, MINUS = 45, PLUS = 43, DOT = 46;
const DIGIT_0 = 48, DIGIT_9 = 57, LOWER_E = 101, UPPER_E = 69, LOWER_U = 117;

/** `dXXX` with a second digit 8-f: the escape of a surrogate, which JSON.stringify writes only for lone ones. */
function isSurrogateEscape(json: string, at: number): boolean {
  return /^[dD][89a-fA-F][\da-fA-F]{2}/.test(json.slice(at, at + 4));
}

/** An array or object being written: its keys (objects only), how many children, and the next one. */
interface Frame {
  container: object;
  keys: string[] | undefined;
  length: number;
  next: number;
}

/** Iterative, so nesting as deep as a sandbox can produce cannot overflow the host's stack. */
function pyDumps(root: unknown): string {
  const stack: Frame[] = [];
  const open = new Set<object>();
  let out = "";
  let value = root;
  for (;;) {
    if (typeof value === "object" && value !== null) {
      if (open.has(value)) throw new TypeError(`not a JSON value: ${pathOf(stack)} refers to itself`);
      const keys = Array.isArray(value) ? undefined : Object.keys(value);
      const length = keys ? keys.length : (value as unknown[]).length;
      if (length === 0) out += keys ? "{}" : "[]";
      else {
        out += keys ? "{" : "[";
        open.add(value);
        const frame: Frame = { container: value, keys, length, next: 0 };
        stack.push(frame);
        [out, value] = enter(frame, out);
        continue;
      }
    } else out += pyScalar(value, stack);
    // The value is written: close every container it completed, then move to the next sibling.
    for (;;) {
      const top = stack[stack.length - 1];
      if (!top) return out;
      if (top.next < top.length) {
        [out, value] = enter(top, out + ", ");
        break;
      }
      out += top.keys ? "}" : "]";
      open.delete(top.container);
      stack.pop();
    }
  }
}

/** Writes the key of the frame's next child (objects only) and returns that child. */
function enter(frame: Frame, out: string): [string, unknown] {
  const i = frame.next++;
  if (!frame.keys) return [out, (frame.container as unknown[])[i]];
  const key = frame.keys[i]!;
  return [`${out}${pyString(key)}: `, (frame.container as Record<string, unknown>)[key]];
}

function pyScalar(value: unknown, stack: Frame[]): string {
  switch (typeof value) {
    case "string":
      return pyString(value);
    case "number":
      return pyNumber(value);
    case "boolean":
      return value ? "true" : "false";
    default:
      if (value === null) return "null";
      throw new TypeError(`not a JSON value: ${pathOf(stack)} is ${typeof value}`);
  }
}

/** `$.a[2].b` for the value being written, from the open frames. */
function pathOf(stack: Frame[]): string {
  return stack.reduce((p, f) => p + (f.keys ? `.${f.keys[f.next - 1]}` : `[${f.next - 1}]`), "$");
}

// Matches a surrogate that is not half of a pair: the `u` flag makes pairs one code point.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Python escapes `"`, `\` and U+0000-U+001F exactly as JSON.stringify does; it differs only on lone surrogates, which it leaves raw. */
function pyString(s: string): string {
  if (!LONE_SURROGATE.test(s)) return JSON.stringify(s);
  let out = "";
  for (const ch of s) out += ch.length === 1 && ch >= "\uD800" && ch <= "\uDFFF" ? ch : JSON.stringify(ch).slice(1, -1);
  return `"${out}"`;
}

function pyNumber(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  if (Object.is(x, -0)) return "-0.0";
  if (Number.isSafeInteger(x)) return String(x);
  return pyFloat(x);
}

/**
 * Python's float repr: the same shortest round-trip digits as JavaScript, but scientific
 * notation when the decimal exponent is below -4 or at least 16, a two-digit signed
 * exponent, and a trailing ".0" on integral values.
 */
function pyFloat(x: number): string {
  const [mantissa = "", exponent = "0"] = String(Math.abs(x)).split("e");
  const dot = mantissa.indexOf(".");
  const intPart = dot < 0 ? mantissa : mantissa.slice(0, dot);
  let digits = intPart + (dot < 0 ? "" : mantissa.slice(dot + 1));
  let exp = intPart.length - 1 + Number(exponent);
  const lead = digits.search(/[1-9]/);
  digits = digits.slice(lead).replace(/0+$/, "");
  exp -= lead;
  let body: string;
  if (exp < -4 || exp >= 16) {
    const frac = digits.length > 1 ? `.${digits.slice(1)}` : "";
    body = `${digits[0]}${frac}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  } else if (exp < 0) {
    body = `0.${"0".repeat(-exp - 1)}${digits}`;
  } else if (digits.length <= exp + 1) {
    body = `${digits}${"0".repeat(exp + 1 - digits.length)}.0`;
  } else {
    body = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  }
  return x < 0 ? `-${body}` : body;
}
