// The arithmetic of the computing tools, written once as JavaScript source: the sandboxed tools run it
// and the generator evaluates the same text to derive sub-answers, so both always agree to the last digit.

/** Plain ES2020 with no host access, in named parts so deploy copies only what an environment uses. */
export const CALC_PARTS = {
  round: `function ef_roundTo(x, digits) {
  const f = Math.pow(10, digits);
  return Math.round(x * f) / f;
}`,
  currency: `function ef_convertCurrency(amount, from, to, rates, digits) {
  return ef_roundTo((amount / rates[from]) * rates[to], digits);
}`,
  units: `const ef_UNIT_FACTORS = {"km>mi": 0.621371, "mi>km": 1.609344, "m>ft": 3.28084, "ft>m": 0.3048, "kg>lb": 2.20462, "lb>kg": 0.453592, "km2>mi2": 0.386102, "mi2>km2": 2.589988};
function ef_convertUnit(value, from, to, digits) {
  return ef_roundTo(value * ef_UNIT_FACTORS[from + ">" + to], digits);
}`,
  dates: `function ef_daysFromCivil(y, m, d) {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  return era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
}
function ef_parseDay(text) {
  const m = /^(\\d{4})-(\\d{2})-(\\d{2})$/.exec(String(text).trim());
  if (!m) return null;
  const days = ef_daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
  return ef_formatDay(days) === m[0] ? days : null;
}
function ef_formatDay(days) {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return String(y).padStart(4, "0") + "-" + String(m).padStart(2, "0") + "-" + String(d).padStart(2, "0");
}
function ef_weekdayOf(days) {
  return ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"][(((days + 4) % 7) + 7) % 7];
}`,
  ranking: `function ef_rankItems(items, order) {
  const sign = order === "ascending" || order === "lowest" ? 1 : -1;
  return items.map((it, i) => ({ label: it.label, value: it.value, i })).sort((a, b) => sign * (a.value - b.value) || a.i - b.i);
}
function ef_compareItems(items, order, digits) {
  const ranked = ef_rankItems(items, order);
  const first = ranked[0];
  const second = ranked[1];
  return { winner: first.label, winner_value: first.value, margin: second ? ef_roundTo(Math.abs(first.value - second.value), digits) : 0 };
}
function ef_sortSequence(items, order) {
  return ef_rankItems(items, order).map((r) => r.label).join(order === "ascending" ? " < " : " > ");
}`,
  aggregate: `function ef_aggregateValues(values, op, digits) {
  const sum = values.reduce((a, b) => a + b, 0);
  if (op === "sum") return ef_roundTo(sum, digits);
  if (op === "mean") return ef_roundTo(sum / values.length, digits);
  if (op === "max") return Math.max.apply(null, values);
  if (op === "min") return Math.min.apply(null, values);
  return values.length;
}`,
  arithmetic: `function ef_arithmetic(a, b, op, digits) {
  if (op === "add") return ef_roundTo(a + b, digits);
  if (op === "subtract") return ef_roundTo(a - b, digits);
  if (op === "multiply") return ef_roundTo(a * b, digits);
  return ef_roundTo(a / b, digits);
}`,
} as const;
export type CalcPart = keyof typeof CALC_PARTS;

/** The parts in a fixed order (later ones use `roundTo`). */
export const calcSource = (parts: Iterable<CalcPart>): string => {
  const want = new Set(parts);
  return (Object.keys(CALC_PARTS) as CalcPart[]).filter((p) => p === "round" || want.has(p)).map((p) => CALC_PARTS[p]).join("\n");
};

export interface Item {
  label: string;
  value: number;
}

/** The same functions, evaluated on the host. */
export interface Calc {
  UNIT_FACTORS: Record<string, number>;
  roundTo(x: number, digits: number): number;
  convertCurrency(amount: number, from: string, to: string, rates: Record<string, number>, digits: number): number;
  convertUnit(value: number, from: string, to: string, digits: number): number;
  parseDay(text: string): number | null;
  formatDay(days: number): string;
  weekdayOf(days: number): string;
  compareItems(items: readonly Item[], order: string, digits: number): { winner: string; winner_value: number; margin: number };
  sortSequence(items: readonly Item[], order: string): string;
  aggregateValues(values: readonly number[], op: string, digits: number): number;
  arithmetic(a: number, b: number, op: string, digits: number): number;
}

// Our own constant source, not generated code: evaluating it keeps one definition of every formula.
export const calc: Calc = new Function(
  `${calcSource(Object.keys(CALC_PARTS) as CalcPart[])}\nreturn { UNIT_FACTORS: ef_UNIT_FACTORS, roundTo: ef_roundTo, convertCurrency: ef_convertCurrency, convertUnit: ef_convertUnit, parseDay: ef_parseDay, formatDay: ef_formatDay, weekdayOf: ef_weekdayOf, compareItems: ef_compareItems, sortSequence: ef_sortSequence, aggregateValues: ef_aggregateValues, arithmetic: ef_arithmetic };`,
)() as Calc;

export const UNITS: Record<string, { name: string; plural: string }> = {
  km: { name: "kilometer", plural: "kilometers" },
  mi: { name: "mile", plural: "miles" },
  m: { name: "meter", plural: "meters" },
  ft: { name: "foot", plural: "feet" },
  kg: { name: "kilogram", plural: "kilograms" },
  lb: { name: "pound", plural: "pounds" },
  km2: { name: "square kilometer", plural: "square kilometers" },
  mi2: { name: "square mile", plural: "square miles" },
};

export const CURRENCIES: Record<string, string> = {
  USD: "US dollars",
  EUR: "euros",
  GBP: "British pounds",
  JPY: "Japanese yen",
  CHF: "Swiss francs",
  CAD: "Canadian dollars",
  SEK: "Swedish kronor",
};
