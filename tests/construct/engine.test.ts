// The generated tools' shared helpers, run as plain JavaScript: the e-mail check accepts what the old regex did, in linear time.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { COMMON_SOURCE } from "../../src/construct/engine.ts";

const isEmail = new Function(`${COMMON_SOURCE}\nreturn ef_isEmail;`)() as (text: string) => boolean;
/** The check the generator used before: right, but quadratic on a long run of dots after an "@". */
const OLD = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

describe("ef_isEmail", () => {
  it("accepts exactly what /^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$/ accepts", () => {
    const text = fc.string({ unit: fc.constantFrom("a", "b", "@", ".", " ", "\t", "\u00a0", "\u2028", "é") });
    fc.assert(fc.property(text, (s) => isEmail(s) === OLD.test(s)), { numRuns: 5000 });
    for (const s of ["a@b.c", "a@.b.c", "a@b.", "@b.c", "a@@b.c", "a@b..c", "a b@c.d", "a@b.c\n", "first.last@mail.example.org"]) expect(isEmail(s), s).toBe(OLD.test(s));
  });

  it("answers the inputs that made the regex backtrack", () => {
    const n = 200_000;
    expect(isEmail(`a@${".".repeat(n)} `)).toBe(false);
    expect(isEmail(`a@${".".repeat(n)}@`)).toBe(false);
    expect(isEmail(`a@b${".".repeat(n)}c`)).toBe(true);
  });
});
