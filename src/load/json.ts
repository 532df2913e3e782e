// Where JSON text goes wrong, as line:column and a reason in words: JSON.parse gives a character offset at best, and words that differ between Node versions.

export interface JsonSyntaxError {
  /** 1-based line and column (columns count UTF-16 code units, as editors that take file:line:col do). */
  line: number;
  column: number;
  /** 0-based offset into the text. */
  offset: number;
  message: string;
}

class Stop extends Error {
  constructor(
    readonly at: number,
    message: string,
  ) {
    super(message);
  }
}

const WS = new Set([" ", "\t", "\n", "\r"]);

/** The first syntax error of `text` by RFC 8259, or null exactly when JSON.parse accepts it. */
export function findJsonSyntaxError(text: string): JsonSyntaxError | null {
  let i = 0;
  const describe = (at: number): string => (at >= text.length ? "the end of the text" : `${JSON.stringify(text[at])}`);
  const fail = (message: string, at = i): never => {
    throw new Stop(at, message);
  };
  const space = (): void => {
    while (i < text.length && WS.has(text[i]!)) i++;
  };
  const literal = (word: string): void => {
    for (let k = 0; k < word.length; k++, i++) if (text[i] !== word[k]) fail(`expected ${word}, found ${describe(i)}`);
  };
  const digits = (what: string): void => {
    if (!/[0-9]/.test(text[i] ?? "")) fail(`expected a digit in ${what}, found ${describe(i)}`);
    while (/[0-9]/.test(text[i] ?? "")) i++;
  };
  const number = (): void => {
    if (text[i] === "-") i++;
    if (text[i] === "0") i++;
    else digits("a number");
    if (text[i] === ".") (i++, digits("a number's fraction"));
    if (text[i] === "e" || text[i] === "E") {
      i++;
      if (text[i] === "+" || text[i] === "-") i++;
      digits("a number's exponent");
    }
  };
  const string = (): void => {
    const start = i++;
    for (;;) {
      if (i >= text.length) fail("a string that is never closed (a missing \")", start);
      const c = text[i]!;
      if (c === '"') return void i++;
      if (c === "\\") {
        const e = text[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail("\\u must be followed by four hex digits");
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail(`unknown escape \\${e ?? ""} in a string`);
      } else if (c.charCodeAt(0) < 0x20) fail(c === "\n" ? "a line break inside a string (write \\n, or close the string)" : "a control character inside a string (escape it)");
      else i++;
    }
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === "{") {
      i++;
      space();
      if (text[i] === "}") return void i++;
      for (;;) {
        space();
        if (text[i] !== '"') fail(text[i] === "}" ? "a comma before } (trailing commas are not JSON)" : `expected a property name in double quotes, found ${describe(i)}`);
        string();
        space();
        if (text[i] !== ":") fail(`expected : after the property name, found ${describe(i)}`);
        i++;
        value();
        space();
        if (text[i] === ",") (i++, undefined);
        else if (text[i] === "}") return void i++;
        else fail(`expected , or } after a property's value, found ${describe(i)}`);
      }
    }
    if (c === "[") {
      i++;
      space();
      if (text[i] === "]") return void i++;
      for (;;) {
        space();
        if (text[i] === "]") fail("a comma before ] (trailing commas are not JSON)");
        value();
        space();
        if (text[i] === ",") (i++, undefined);
        else if (text[i] === "]") return void i++;
        else fail(`expected , or ] after an array item, found ${describe(i)}`);
      }
    }
    if (c === '"') return string();
    if (c === "t") return literal("true");
    if (c === "f") return literal("false");
    if (c === "n") return literal("null");
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return number();
    fail(`expected a value, found ${describe(i)}`);
  };
  try {
    if (text.charCodeAt(0) === 0xfeff) fail("a byte-order mark before the JSON (save the file as UTF-8 without one)");
    value();
    space();
    if (i < text.length) fail(`unexpected ${describe(i)} after the end of the JSON value`);
    return null;
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
    const before = text.slice(0, err.at);
    const line = before.split("\n").length;
    const column = err.at - (before.lastIndexOf("\n") + 1) + 1;
    return { line, column, offset: err.at, message: err.message };
  }
}
