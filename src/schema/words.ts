// Counted nouns for every message the layers print ("1 problem", "3 problems"), so no command gets its plurals wrong.

/** `n` and the noun, singular for exactly 1: `plural(1, "environment")` is "1 environment"; pass `many` for irregular nouns. */
export const plural = (n: number, noun: string, many = `${noun}s`): string => `${n} ${n === 1 ? noun : many}`;
