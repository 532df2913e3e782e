// Tool-call argument text as the reference writes it: json.dumps(json.loads(text), ensure_ascii=False), NaN and key order kept.

/** A JSON value as Python's json.loads holds it: key order as written (last value of a repeated key, first position), number text kept. */
type PyValue = null | boolean | string | { num: string } | PyValue[] | Map<string, PyValue>;

class Reader {
  i = 0;
  constructor(readonly s: string) {}

  fail(): never {
    throw new SyntaxError(`not JSON at ${this.i}`);
  }

  ws(): void {
    while (this.i < this.s.length && " \t\n\r".includes(this.s[this.i]!)) this.i++;
  }

  value(): PyValue {
    this.ws();
    const s = this.s;
    const c = s[this.i];
    if (c === "{") {
      this.i++;
      const out = new Map<string, PyValue>();
      this.ws();
      if (s[this.i] === "}") return this.i++, out;
      for (;;) {
        this.ws();
        if (s[this.i] !== '"') this.fail();
        const key = this.string();
        this.ws();
        if (s[this.i++] !== ":") this.fail();
        out.set(key, this.value());
        this.ws();
        const sep = s[this.i++];
        if (sep === "}") return out;
        if (sep !== ",") this.fail();
      }
    }
    if (c === "[") {
      this.i++;
      const out: PyValue[] = [];
      this.ws();
      if (s[this.i] === "]") return this.i++, out;
      for (;;) {
        out.push(this.value());
        this.ws();
        const sep = s[this.i++];
        if (sep === "]") return out;
        if (sep !== ",") this.fail();
      }
    }
    if (c === '"') return this.string();
    for (const [word, v] of [["true", true], ["false", false], ["null", null], ["NaN", { num: "NaN" }], ["Infinity", { num: "Infinity" }], ["-Infinity", { num: "-Infinity" }]] as const) {
      if (s.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(s.slice(this.i, this.i + 400));
    if (!m) this.fail();
    this.i += m[0].length;
    return { num: m[0] };
  }

  string(): string {
    const start = this.i;
    for (this.i++; this.i < this.s.length; this.i++) {
      const ch = this.s.charCodeAt(this.i);
      if (ch === 34) break;
      if (ch < 32) this.fail(); // json.loads is strict about raw control characters by default
      if (ch === 92) this.i++;
    }
    if (this.i >= this.s.length) this.fail();
    this.i++;
    return JSON.parse(this.s.slice(start, this.i)) as string;
  }
}

/** Python's float repr: shortest round-trip digits, exponent form below 1e-4 and from 1e16, ".0" on integral values. */
export function pyFloatText(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "Infinity" : "-Infinity";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [digitsRaw, expRaw] = Math.abs(x).toExponential().split("e") as [string, string];
  const digits = digitsRaw.replace(".", "");
  const exp = Number(expRaw);
  let body: string;
  if (exp < -4 || exp >= 16) body = `${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ""}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  else if (exp < 0) body = `0.${"0".repeat(-exp - 1)}${digits}`;
  else if (digits.length <= exp + 1) body = `${digits}${"0".repeat(exp + 1 - digits.length)}.0`;
  else body = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  return x < 0 ? `-${body}` : body;
}

/** json.dumps escapes as JSON.stringify does, except lone surrogates, which it leaves raw (ensure_ascii=False). */
function pyString(s: string): string {
  return JSON.stringify(s).replace(/\\(\\|ud[89a-f][0-9a-f]{2})/g, (esc, body: string) => (body === "\\" ? esc : String.fromCharCode(parseInt(body.slice(1), 16))));
}

function dumps(v: PyValue): string {
  if (v === null) return "null";
  if (v === true) return "true";
  if (v === false) return "false";
  if (typeof v === "string") return pyString(v);
  if (Array.isArray(v)) return `[${v.map(dumps).join(", ")}]`;
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${pyString(k)}: ${dumps(x)}`).join(", ")}}`;
  const t = v.num;
  if (t === "NaN" || t.endsWith("Infinity")) return t;
  // Integers are exact in Python whatever their size; "-0" is the int 0.
  if (/^-?\d+$/.test(t)) return t === "-0" ? "0" : t;
  return pyFloatText(Number(t));
}

/**
 * The reference's text for arguments it parsed: `json.dumps(json.loads(text), ensure_ascii=False)`.
 * Returns undefined when Python's json.loads would refuse the text (the caller keeps it as it was).
 */
export function pythonArgumentsText(text: string): string | undefined {
  try {
    const r = new Reader(text);
    const v = r.value();
    r.ws();
    if (r.i !== text.length) return undefined;
    return dumps(v);
  } catch {
    return undefined;
  }
}
