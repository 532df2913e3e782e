// The fictional knowledge model: entity types, their fields and relations, how to phrase questions about
// them, the domains that group them, and the stateful actions some domains offer.
import type { Domain } from "../schema/index.ts";
import { brandName, countryName, flightCode, personName, placeName, root, workTitle, capitalize } from "./names.ts";
import type { Rng } from "./rng.ts";

export type Fact = string | number;
export type FactRecord = Record<string, Fact>;
export type FieldKind = "ref" | "year" | "int" | "money" | "quantity" | "date" | "text";

export interface GenContext {
  currency: string;
  /** Latest plausible birth year, for people created as the target of a relation. */
  bornBefore?: number;
}

export interface FieldDef {
  name: string;
  kind: FieldKind;
  /** Noun phrase naming the attribute: "release year". */
  label: string;
  ref?: string;
  unit?: string;
  /** May be asked for (be a sub-answer); text fields are noise and never are. */
  askable: boolean;
  additive?: boolean;
  /** Kept in the initial state and changed by an action (stock, free rooms). */
  stateful?: boolean;
  gen?: (rng: Rng, rec: FactRecord, ctx: GenContext) => Fact;
  /** For relations: the birth-year bound to give the person it points to. */
  bornBefore?: (rec: FactRecord) => number;
  /** Direct questions, `{x}` the subject. */
  ask: string[];
  /** Embedded questions for "Can you tell me ...?". */
  clause: string[];
  /** Noun phrases for the value: "the director of {x}", "the population of {x}". */
  np: string[];
  /** Comparative and superlative predicates for the higher and the lower value. */
  more: string[];
  less: string[];
  most: string[];
  least: string[];
}

export interface EntityDef {
  type: string;
  /** How a question names one: `{name}` and `{noun}` are filled in. */
  mentions: string[];
  table: string;
  key: string;
  nouns: string[];
  person?: boolean;
  name(rng: Rng): string;
  fields: FieldDef[];
}

type FieldSpec = Partial<FieldDef> & Pick<FieldDef, "name" | "kind" | "label">;

function field(spec: FieldSpec): FieldDef {
  const label = spec.label;
  return {
    askable: spec.kind !== "text",
    ask: [`What is the ${label} of {x}?`],
    clause: [`the ${label} of {x}`, `what the ${label} of {x} is`],
    np: [`the ${label} of {x}`],
    more: [`has the higher ${label}`, `has the greater ${label}`],
    less: [`has the lower ${label}`, `has the smaller ${label}`],
    most: [`has the highest ${label}`, `has the greatest ${label}`],
    least: [`has the lowest ${label}`, `has the smallest ${label}`],
    ...spec,
  };
}

const noise = (name: string, gen: FieldDef["gen"]): FieldDef => field({ name, kind: "text", label: name.replace(/_/g, " "), gen, askable: false });
const yearField = (name: string, label: string, lo: number, hi: number, extra: Partial<FieldDef>): FieldDef =>
  field({ name, kind: "year", label, gen: (r) => r.int(lo, hi), ...extra });
const money = (lo: number, hi: number, cents: boolean) => (r: Rng) => (cents ? r.int(lo, hi) + r.pick([0.99, 0.5, 0.95, 0.25, 0.75, 0.49]) : r.int(lo, hi));
const isoDay = (year: number, r: Rng): string => `${year}-${String(r.int(1, 12)).padStart(2, "0")}-${String(r.int(1, 28)).padStart(2, "0")}`;
const num = (rec: FactRecord, key: string): number => (typeof rec[key] === "number" ? (rec[key] as number) : 2000);

/** A relation to another entity, with how to ask for it and how to name its target. */
const ref = (name: string, target: string, label: string, ask: string[], clause: string[], np: string[], bornBefore?: (rec: FactRecord) => number): FieldDef =>
  field({ name, kind: "ref", ref: target, label, ask, clause, np, ...(bornBefore ? { bornBefore } : {}) });

/** Where a place-bound record (a hotel, a hospital) is. */
const cityField = (): FieldDef =>
  ref("city", "city", "city", ["In which city is {x}?", "Where is {x} located?"], ["which city {x} is in", "where {x} is located"], ["the city where {x} is located", "the home city of {x}"]);

/** A founding year; `older`/`younger` say it for this kind of thing. */
const foundedField = (lo: number, hi: number, ask: string[], older: [string, string], younger: [string, string]): FieldDef =>
  yearField("founded", "founding year", lo, hi, {
    ask,
    clause: ["when {x} was founded", "the year {x} was founded"],
    np: ["the founding year of {x}", "the year {x} was founded"],
    less: ["was founded earlier", older[0]],
    more: ["was founded later", younger[0]],
    least: ["was founded first", older[1]],
    most: ["was founded last", younger[1]],
  });

const PERSON: EntityDef = {
  type: "person",
  mentions: ["{name}", "{name}", "the {noun} {name}"],
  table: "people",
  key: "name",
  nouns: ["person"],
  person: true,
  name: personName,
  fields: [
    yearField("birth_year", "birth year", 1932, 1994, {
      gen: (r, _rec, ctx) => r.int(1932, Math.max(1933, Math.min(1994, ctx.bornBefore ?? 1994))),
      ask: ["In what year was {x} born?", "What year was {x} born?", "When was {x} born? I only need the year.", "What is the birth year of {x}?"],
      clause: ["what year {x} was born", "the year {x} was born", "in which year {x} was born"],
      np: ["the birth year of {x}", "the year {x} was born"],
      less: ["was born earlier", "is older"],
      more: ["was born later", "is younger"],
      least: ["was born first", "is the oldest"],
      most: ["was born last", "is the youngest"],
    }),
    ref("birthplace", "city", "birthplace", ["Where was {x} born?", "In which city was {x} born?", "What is the birthplace of {x}?", "Which city does {x} come from originally?"], ["where {x} was born", "which city {x} was born in", "the birthplace of {x}"], ["the birthplace of {x}", "the city where {x} was born", "the hometown of {x}"]),
    ref("nationality", "country", "nationality", ["What country is {x} a citizen of?", "What is the nationality of {x}?", "Which country issued the passport of {x}?"], ["which country {x} is a citizen of", "the nationality of {x}"], ["the home country of {x}", "the country {x} is a citizen of"]),
    noise("occupation", (r) => r.pick(["architect", "engineer", "teacher", "painter", "economist", "journalist", "surgeon", "lawyer", "composer", "chemist"])),
  ],
};

const populationField = (lo: number, hi: number): FieldDef =>
  field({
    name: "population",
    kind: "int",
    label: "population",
    additive: true,
    gen: (r) => r.int(lo, hi),
    ask: ["What is the population of {x}?", "How many people live in {x}?", "What population does {x} have?"],
    clause: ["how many people live in {x}", "the population of {x}", "what the population of {x} is"],
    np: ["the population of {x}", "the number of residents of {x}"],
    more: ["is more populous", "has the larger population"],
    less: ["is less populous", "has the smaller population"],
    most: ["is the most populous", "has the largest population"],
    least: ["is the least populous", "has the smallest population"],
  });

const areaField = (lo: number, hi: number): FieldDef =>
  field({
    name: "area_km2",
    kind: "quantity",
    unit: "km2",
    label: "area",
    additive: true,
    gen: (r) => r.float(lo, hi, 1),
    ask: ["What is the area of {x} in square kilometers?", "How large is {x} in area?"],
    clause: ["how large {x} is in area", "the area of {x}"],
    np: ["the area of {x}", "the land area of {x}"],
    more: ["covers more ground", "is larger in area"],
    less: ["covers less ground", "is smaller in area"],
    most: ["covers the most ground", "is the largest in area"],
    least: ["covers the least ground", "is the smallest in area"],
  });

const CITY: EntityDef = {
  type: "city",
  mentions: ["{name}", "{name}", "the {noun} {name}"],
  table: "cities",
  key: "name",
  nouns: ["city", "town"],
  name: placeName,
  fields: [
    ref("country", "country", "country", ["Which country is {x} in?", "In what country is {x} located?", "What country does {x} belong to?"], ["which country {x} is in", "what country {x} is located in"], ["the country of {x}", "the country where {x} lies", "the country that {x} belongs to"]),
    ref("mayor", "person", "mayor", ["Who is the mayor of {x}?", "Who serves as mayor of {x}?", "Who currently runs {x} as its mayor?"], ["who the mayor of {x} is", "who serves as mayor of {x}"], ["the mayor of {x}", "the person serving as mayor of {x}"], () => 1990),
    populationField(40_000, 3_500_000),
    foundedField(880, 1890, ["When was {x} founded?", "In what year was {x} founded?", "What year was {x} established?"], ["is older", "is the oldest"], ["is younger", "is the youngest"]),
    field({
      name: "elevation_m",
      kind: "quantity",
      unit: "m",
      label: "elevation",
      gen: (r) => r.int(12, 2400),
      ask: ["What is the elevation of {x} in meters?", "How high above sea level is {x}, in meters?"],
      clause: ["how high above sea level {x} sits", "the elevation of {x}"],
      np: ["the elevation of {x}", "the height above sea level of {x}"],
      more: ["sits higher", "lies at a higher elevation"],
      less: ["sits lower", "lies at a lower elevation"],
      most: ["sits highest", "lies at the highest elevation"],
      least: ["sits lowest", "lies at the lowest elevation"],
    }),
    areaField(15, 1800),
    noise("timezone", (r) => `UTC${r.pick(["+", "-"])}${r.int(1, 11)}`),
  ],
};

const COUNTRY: EntityDef = {
  type: "country",
  mentions: ["{name}", "{name}", "the {noun} {name}"],
  table: "countries",
  key: "name",
  nouns: ["country", "nation"],
  name: countryName,
  fields: [
    ref("capital", "city", "capital", ["What is the capital of {x}?", "Which city is the capital of {x}?", "Name the capital city of {x}."], ["what the capital of {x} is", "which city is the capital of {x}"], ["the capital of {x}", "the capital city of {x}"]),
    ref("head_of_state", "person", "head of state", ["Who is the head of state of {x}?", "Who leads {x} as head of state?"], ["who the head of state of {x} is", "who leads {x}"], ["the head of state of {x}", "the leader of {x}"], () => 1980),
    populationField(1_200_000, 95_000_000),
    areaField(8_000, 900_000),
    noise("calling_code", (r) => `+${r.int(200, 999)}`),
  ],
};

const COMPANY: EntityDef = {
  type: "company",
  mentions: ["{name}", "{name}", "the {noun} {name}"],
  table: "companies",
  key: "name",
  nouns: ["company", "firm"],
  name: (r) => brandName(r, ["Holdings", "Industries", "Group", "Systems", "Works", "Partners", "Labs"]),
  fields: [
    ref("ceo", "person", "CEO", ["Who is the CEO of {x}?", "Who runs {x} as chief executive?", "Who is the chief executive of {x}?"], ["who the CEO of {x} is", "who runs {x}"], ["the CEO of {x}", "the chief executive of {x}"], () => 1990),
    ref("headquarters", "city", "headquarters", ["Where is {x} headquartered?", "In which city is {x} based?", "Which city is home to the headquarters of {x}?"], ["where {x} is headquartered", "which city {x} is based in"], ["the headquarters city of {x}", "the city where {x} is headquartered", "the home city of {x}"]),
    foundedField(1850, 2018, ["When was {x} founded?", "In what year was {x} established?", "What year was {x} founded?"], ["is older", "is the oldest"], ["is younger", "is the youngest"]),
    field({
      name: "employees",
      kind: "int",
      label: "headcount",
      additive: true,
      gen: (r) => r.int(150, 95_000),
      ask: ["How many employees does {x} have?", "What is the headcount of {x}?", "How many people work at {x}?"],
      clause: ["how many people work at {x}", "the headcount of {x}"],
      np: ["the headcount of {x}", "the number of employees at {x}"],
      more: ["employs more people", "has the bigger workforce"],
      less: ["employs fewer people", "has the smaller workforce"],
      most: ["employs the most people", "has the biggest workforce"],
      least: ["employs the fewest people", "has the smallest workforce"],
    }),
    field({
      name: "annual_revenue",
      kind: "money",
      label: "annual revenue",
      additive: true,
      gen: money(2_000_000, 9_000_000_000, false),
      ask: ["What is the annual revenue of {x}?", "How much revenue does {x} bring in per year?"],
      clause: ["how much revenue {x} makes per year", "the annual revenue of {x}"],
      np: ["the annual revenue of {x}", "the yearly revenue of {x}"],
      more: ["earns more", "has the higher revenue"],
      less: ["earns less", "has the lower revenue"],
      most: ["earns the most", "has the highest revenue"],
      least: ["earns the least", "has the lowest revenue"],
    }),
    noise("industry", (r) => r.pick(["logistics", "software", "media", "energy", "textiles", "robotics", "food", "publishing"])),
  ],
};

const FILM: EntityDef = {
  type: "film",
  mentions: ["{name}", "{name}", "the {noun} {name}"],
  table: "films",
  key: "title",
  nouns: ["film", "movie"],
  name: workTitle,
  fields: [
    ref("director", "person", "director", ["Who directed {x}?", "Who was the director of {x}?", "Which filmmaker directed {x}?", "Who was behind the camera on {x}?"], ["who directed {x}", "who the director of {x} was", "which filmmaker directed {x}"], ["the director of {x}", "the person who directed {x}", "the filmmaker behind {x}"], (rec) => num(rec, "release_year") - 24),
    ref("lead_actor", "person", "lead actor", ["Who starred in {x}?", "Who played the lead in {x}?", "Who is the lead actor of {x}?"], ["who starred in {x}", "who played the lead role in {x}"], ["the lead actor of {x}", "the star of {x}"], (rec) => num(rec, "release_year") - 16),
    ref("studio", "company", "studio", ["Which studio produced {x}?", "What studio made {x}?"], ["which studio produced {x}", "what studio made {x}"], ["the studio behind {x}", "the studio that produced {x}"]),
    yearField("release_year", "release year", 1965, 2024, {
      ask: ["In what year was {x} released?", "When did {x} come out? Give the year.", "What is the release year of {x}?"],
      clause: ["what year {x} was released", "when {x} came out", "the release year of {x}"],
      np: ["the release year of {x}", "the year {x} came out"],
      less: ["came out earlier", "was released first"],
      more: ["came out later", "is the more recent release"],
      least: ["came out first", "is the oldest release"],
      most: ["came out last", "is the newest release"],
    }),
    field({
      name: "premiere",
      kind: "date",
      label: "premiere date",
      gen: (r, rec) => isoDay(num(rec, "release_year"), r),
      ask: ["On what date did {x} premiere?", "When exactly did {x} premiere?"],
      clause: ["the date {x} premiered", "when exactly {x} premiered"],
      np: ["the premiere date of {x}", "the premiere of {x}"],
    }),
    field({
      name: "runtime_min",
      kind: "int",
      label: "runtime",
      additive: true,
      gen: (r) => r.int(78, 192),
      ask: ["How long is {x}, in minutes?", "What is the runtime of {x}?", "How many minutes does {x} run?"],
      clause: ["how long {x} runs", "the runtime of {x} in minutes"],
      np: ["the runtime of {x}", "the running time of {x}"],
      more: ["runs longer", "has the longer runtime"],
      less: ["is shorter", "has the shorter runtime"],
      most: ["runs the longest", "has the longest runtime"],
      least: ["is the shortest", "has the shortest runtime"],
    }),
    field({
      name: "box_office",
      kind: "money",
      label: "box office gross",
      additive: true,
      gen: money(800_000, 950_000_000, false),
      ask: ["How much did {x} earn at the box office?", "What was the box office gross of {x}?"],
      clause: ["how much {x} earned at the box office", "the box office gross of {x}"],
      np: ["the box office gross of {x}", "the box office takings of {x}"],
      more: ["earned more at the box office", "grossed more"],
      less: ["earned less at the box office", "grossed less"],
      most: ["earned the most at the box office", "grossed the most"],
      least: ["earned the least at the box office", "grossed the least"],
    }),
    noise("genre", (r) => r.pick(["drama", "thriller", "comedy", "western", "musical", "documentary", "science fiction", "romance"])),
  ],
};

const BOOK: EntityDef = {
  type: "book",
  mentions: ["{name}", "{name}", "the {noun} {name}"],
  table: "books",
  key: "title",
  nouns: ["book", "novel"],
  name: workTitle,
  fields: [
    ref("author", "person", "author", ["Who wrote {x}?", "Who is the author of {x}?", "Which writer wrote {x}?"], ["who wrote {x}", "who the author of {x} is"], ["the author of {x}", "the writer of {x}", "the person who wrote {x}"], (rec) => num(rec, "year") - 20),
    ref("publisher", "company", "publisher", ["Who published {x}?", "Which publisher released {x}?"], ["who published {x}", "which publisher released {x}"], ["the publisher of {x}", "the publishing house behind {x}"]),
    yearField("year", "publication year", 1950, 2024, {
      ask: ["In what year was {x} published?", "When was {x} first published? Give the year."],
      clause: ["what year {x} was published", "when {x} first came out"],
      np: ["the publication year of {x}", "the year {x} was published"],
      less: ["was published earlier", "came out first"],
      more: ["was published later", "is the more recent book"],
      least: ["was published first", "is the oldest"],
      most: ["was published last", "is the most recent"],
    }),
    field({
      name: "published",
      kind: "date",
      label: "publication date",
      gen: (r, rec) => isoDay(num(rec, "year"), r),
      ask: ["On what date was {x} published?"],
      clause: ["the exact date {x} was published"],
      np: ["the publication date of {x}", "the release date of {x}"],
    }),
    field({
      name: "pages",
      kind: "int",
      label: "page count",
      additive: true,
      gen: (r) => r.int(96, 1240),
      ask: ["How many pages does {x} have?", "What is the page count of {x}?"],
      clause: ["how many pages {x} has", "the page count of {x}"],
      np: ["the page count of {x}", "the number of pages in {x}"],
      more: ["is longer", "has more pages"],
      less: ["is shorter", "has fewer pages"],
      most: ["is the longest", "has the most pages"],
      least: ["is the shortest", "has the fewest pages"],
    }),
    noise("genre", (r) => r.pick(["mystery", "memoir", "historical fiction", "poetry", "fantasy", "essay collection"])),
  ],
};

const ALBUM: EntityDef = {
  type: "album",
  mentions: ["{name}", "{name}", "the {noun} {name}"],
  table: "albums",
  key: "title",
  nouns: ["album", "record"],
  name: workTitle,
  fields: [
    ref("artist", "person", "artist", ["Who recorded {x}?", "Which artist released {x}?", "Whose album is {x}?"], ["who recorded {x}", "which artist released {x}"], ["the artist behind {x}", "the musician who recorded {x}"], (rec) => num(rec, "release_year") - 16),
    ref("label", "company", "record label", ["Which label released {x}?", "What record label put out {x}?"], ["which label released {x}", "what record label put out {x}"], ["the record label of {x}", "the label that released {x}"]),
    yearField("release_year", "release year", 1960, 2024, {
      ask: ["In what year did {x} come out?", "What year was {x} released?"],
      clause: ["what year {x} was released", "when {x} came out"],
      np: ["the release year of {x}", "the year {x} came out"],
      less: ["came out earlier", "is the older record"],
      more: ["came out later", "is the newer record"],
      least: ["came out first", "is the oldest record"],
      most: ["came out last", "is the newest record"],
    }),
    field({
      name: "release_date",
      kind: "date",
      label: "release date",
      gen: (r, rec) => isoDay(num(rec, "release_year"), r),
      ask: ["On what date was {x} released?"],
      clause: ["the exact release date of {x}"],
      np: ["the release date of {x}", "the day {x} came out"],
    }),
    field({
      name: "length_min",
      kind: "int",
      label: "running length",
      additive: true,
      gen: (r) => r.int(28, 96),
      ask: ["How many minutes long is {x}?", "What is the running length of {x} in minutes?"],
      clause: ["how long {x} runs", "the running length of {x}"],
      np: ["the running length of {x}", "the length of {x}"],
    }),
    noise("tracks", (r) => r.int(8, 18)),
    noise("genre", (r) => r.pick(["jazz", "folk", "electronic", "soul", "post-rock", "hip hop", "chamber pop"])),
  ],
};

const PRODUCT: EntityDef = {
  type: "product",
  mentions: ["{name}", "{name}", "the {noun} {name}"],
  table: "products",
  key: "name",
  nouns: ["product", "item"],
  name: (r) => `${capitalize(root(r, 1, 2))} ${r.pick(["Blender", "Kettle", "Backpack", "Lamp", "Headphones", "Drill", "Tent", "Stroller", "Monitor", "Espresso Maker", "Desk Chair", "Bicycle"])} ${r.pick(["X", "Pro ", "Mk ", "S", "Air "])}${r.int(2, 90)}`,
  fields: [
    ref("maker", "company", "manufacturer", ["Who makes {x}?", "Which company manufactures {x}?", "Who is the manufacturer of {x}?"], ["who makes {x}", "which company manufactures {x}"], ["the manufacturer of {x}", "the company that makes {x}"]),
    field({
      name: "price",
      kind: "money",
      label: "price",
      gen: money(5, 2400, true),
      ask: ["How much does {x} cost?", "What is the price of {x}?"],
      clause: ["how much {x} costs", "the price of {x}"],
      np: ["the price of {x}", "the retail price of {x}"],
      more: ["costs more", "is more expensive"],
      less: ["costs less", "is cheaper"],
      most: ["costs the most", "is the most expensive"],
      least: ["costs the least", "is the cheapest"],
    }),
    field({
      name: "weight_kg",
      kind: "quantity",
      unit: "kg",
      label: "weight",
      additive: true,
      gen: (r) => r.float(0.2, 38, 2),
      ask: ["How much does {x} weigh, in kilograms?", "What is the weight of {x}?"],
      clause: ["how much {x} weighs", "the weight of {x}"],
      np: ["the weight of {x}", "the shipping weight of {x}"],
      more: ["is heavier", "weighs more"],
      less: ["is lighter", "weighs less"],
      most: ["is the heaviest", "weighs the most"],
      least: ["is the lightest", "weighs the least"],
    }),
    field({ name: "stock", kind: "int", label: "units in stock", askable: false, stateful: true, gen: (r) => r.int(20, 240), ask: [], clause: [], np: [] }),
    noise("category", (r) => r.pick(["kitchen", "outdoor", "office", "audio", "tools", "home", "cycling"])),
    noise("sku", (r) => `SKU-${root(r, 1, 1).toUpperCase()}${r.pick(["Q", "X", "Z", "V"])}`),
  ],
};

const FLIGHT: EntityDef = {
  type: "flight",
  mentions: ["flight {name}"],
  table: "flights",
  key: "code",
  nouns: ["flight"],
  name: flightCode,
  fields: [
    ref("origin", "city", "origin", ["Which city does {x} depart from?", "Where does {x} take off from?"], ["where {x} departs from", "which city {x} leaves from"], ["the departure city of {x}", "the origin of {x}"]),
    ref("destination", "city", "destination", ["Where does {x} fly to?", "What is the destination of {x}?"], ["where {x} flies to", "the destination of {x}"], ["the destination of {x}", "the city {x} lands in"]),
    ref("airline", "company", "airline", ["Which airline operates {x}?", "Who operates {x}?"], ["which airline operates {x}"], ["the airline operating {x}", "the carrier of {x}"]),
    field({
      name: "departure",
      kind: "date",
      label: "departure date",
      gen: (r) => isoDay(2026, r),
      ask: ["On what date does {x} depart?", "When does {x} leave?"],
      clause: ["the date {x} departs", "when {x} leaves"],
      np: ["the departure date of {x}", "the day {x} departs"],
    }),
    field({
      name: "distance_km",
      kind: "quantity",
      unit: "km",
      label: "distance",
      additive: true,
      gen: (r) => r.int(220, 13_800),
      ask: ["How far does {x} fly, in kilometers?", "What is the distance of {x}?"],
      clause: ["how far {x} flies", "the distance of {x}"],
      np: ["the distance of {x}", "the route length of {x}"],
      more: ["flies farther", "covers the longer distance"],
      less: ["flies a shorter distance", "covers the shorter distance"],
      most: ["flies the farthest", "covers the longest distance"],
      least: ["flies the shortest distance", "covers the shortest distance"],
    }),
    field({
      name: "fare",
      kind: "money",
      label: "fare",
      gen: money(49, 1850, true),
      ask: ["How much is a ticket on {x}?", "What is the fare for {x}?"],
      clause: ["how much a ticket on {x} costs", "the fare of {x}"],
      np: ["the fare of {x}", "the ticket price of {x}"],
      more: ["is more expensive", "costs more"],
      less: ["is cheaper", "costs less"],
      most: ["is the most expensive", "costs the most"],
      least: ["is the cheapest", "costs the least"],
    }),
    noise("duration_min", (r) => r.int(45, 960)),
    field({ name: "seats_left", kind: "int", label: "seats left", askable: false, stateful: true, gen: (r) => r.int(9, 180), ask: [], clause: [], np: [] }),
    noise("aircraft", (r) => r.pick(["A321", "B787", "A350", "E195", "B737", "ATR 72"])),
  ],
};

const TEAM: EntityDef = {
  type: "team",
  mentions: ["{name}", "the {name}"],
  table: "teams",
  key: "name",
  nouns: ["team", "club"],
  name: (r) => `${capitalize(root(r, 2, 2))} ${r.pick(["Falcons", "Rovers", "United", "Wolves", "Mariners", "Comets", "Athletic", "Lions", "Harriers"])}`,
  fields: [
    ref("home_city", "city", "home city", ["Which city do {x} play in?", "Where are {x} based?", "What is the home city of {x}?"], ["which city {x} play in", "where {x} are based"], ["the home city of {x}", "the city {x} play in"]),
    ref("coach", "person", "head coach", ["Who coaches {x}?", "Who is the head coach of {x}?"], ["who coaches {x}", "who the head coach of {x} is"], ["the head coach of {x}", "the coach of {x}"], () => 1990),
    ref("captain", "person", "captain", ["Who captains {x}?", "Who is the captain of {x}?"], ["who captains {x}", "who the captain of {x} is"], ["the captain of {x}", "the team captain of {x}"], () => 2004),
    foundedField(1870, 2010, ["When were {x} founded?", "In what year were {x} founded?"], ["is the older club", "is the oldest club"], ["is the younger club", "is the youngest club"]),
    field({
      name: "stadium_capacity",
      kind: "int",
      label: "stadium capacity",
      additive: true,
      gen: (r) => r.int(6_000, 92_000),
      ask: ["How many spectators fit in the stadium of {x}?", "What is the stadium capacity of {x}?"],
      clause: ["how many fans the stadium of {x} holds", "the stadium capacity of {x}"],
      np: ["the stadium capacity of {x}", "the number of seats in the stadium of {x}"],
      more: ["has the bigger stadium", "can seat more fans"],
      less: ["has the smaller stadium", "seats fewer fans"],
      most: ["has the biggest stadium", "can seat the most fans"],
      least: ["has the smallest stadium", "seats the fewest fans"],
    }),
    noise("championships", (r) => r.int(0, 14)),
    noise("league", (r) => `${capitalize(root(r, 1, 1))} ${r.pick(["Premier League", "First Division", "Continental League"])}`),
  ],
};

const UNIVERSITY: EntityDef = {
  type: "university",
  mentions: ["{name}", "{name}", "the {noun} {name}"],
  table: "universities",
  key: "name",
  nouns: ["university", "school"],
  name: (r) => (r.chance(0.5) ? `University of ${capitalize(root(r, 2, 2))}` : `${capitalize(root(r, 2, 2))} ${r.pick(["Institute of Technology", "University", "College"])}`),
  fields: [
    cityField(),
    ref("president", "person", "president", ["Who is the president of {x}?", "Who heads {x}?"], ["who the president of {x} is", "who heads {x}"], ["the president of {x}", "the head of {x}"], () => 1985),
    foundedField(1088, 2005, ["When was {x} founded?", "In what year was {x} established?"], ["is older", "is the oldest"], ["is younger", "is the youngest"]),
    field({
      name: "students",
      kind: "int",
      label: "enrollment",
      additive: true,
      gen: (r) => r.int(1_800, 68_000),
      ask: ["How many students attend {x}?", "What is the enrollment of {x}?"],
      clause: ["how many students attend {x}", "the enrollment of {x}"],
      np: ["the enrollment of {x}", "the number of students at {x}"],
      more: ["has more students", "is the bigger school"],
      less: ["has fewer students", "is the smaller school"],
      most: ["has the most students", "is the biggest school"],
      least: ["has the fewest students", "is the smallest school"],
    }),
    field({
      name: "endowment",
      kind: "money",
      label: "endowment",
      additive: true,
      gen: money(5_000_000, 40_000_000_000, false),
      ask: ["How large is the endowment of {x}?", "What is the endowment of {x}?"],
      clause: ["how large the endowment of {x} is", "the endowment of {x}"],
      np: ["the endowment of {x}", "the size of the endowment of {x}"],
      more: ["has the larger endowment", "is richer"],
      less: ["has the smaller endowment", "is poorer"],
      most: ["has the largest endowment", "is the richest"],
      least: ["has the smallest endowment", "is the poorest"],
    }),
    noise("campus", (r) => r.pick(["urban", "suburban", "rural"])),
  ],
};

const RESTAURANT: EntityDef = {
  type: "restaurant",
  mentions: ["{name}", "{name}", "the {noun} {name}"],
  table: "restaurants",
  key: "name",
  nouns: ["restaurant"],
  name: (r) => brandName(r, ["Table", "Kitchen", "Bistro", "Brasserie", "Grill", "Trattoria"], ["Chez", "Casa", "The"]),
  fields: [
    cityField(),
    ref("chef", "person", "head chef", ["Who is the head chef at {x}?", "Who runs the kitchen at {x}?"], ["who the head chef at {x} is", "who runs the kitchen at {x}"], ["the head chef of {x}", "the chef at {x}"], () => 1998),
    yearField("opened", "opening year", 1952, 2024, {
      ask: ["When did {x} open?", "In what year did {x} open its doors?"],
      clause: ["when {x} opened", "the year {x} opened"],
      np: ["the opening year of {x}", "the year {x} opened"],
      less: ["opened earlier", "has been around longer"],
      more: ["opened later", "is the newer place"],
      least: ["opened first", "has been around the longest"],
      most: ["opened last", "is the newest place"],
    }),
    field({
      name: "average_bill",
      kind: "money",
      label: "average bill",
      gen: money(14, 240, true),
      ask: ["What is the average bill per guest at {x}?", "How much does a meal at {x} cost on average?"],
      clause: ["how much a meal at {x} costs on average", "the average bill at {x}"],
      np: ["the average bill at {x}", "the average price of a meal at {x}"],
      more: ["is more expensive", "costs more on average"],
      less: ["is cheaper", "costs less on average"],
      most: ["is the most expensive", "costs the most on average"],
      least: ["is the cheapest", "costs the least on average"],
    }),
    field({
      name: "seats",
      kind: "int",
      label: "seating capacity",
      additive: true,
      gen: (r) => r.int(18, 260),
      ask: ["How many guests can {x} seat?", "What is the seating capacity of {x}?"],
      clause: ["how many guests {x} can seat", "the seating capacity of {x}"],
      np: ["the seating capacity of {x}", "the number of seats at {x}"],
    }),
    noise("cuisine", (r) => r.pick(["Georgian", "Peruvian", "Levantine", "Nordic", "Sichuan", "Basque", "Oaxacan"])),
    noise("deposit_per_guest", (r) => r.int(5, 40)),
    field({ name: "tables_free", kind: "int", label: "free tables", askable: false, stateful: true, gen: (r) => r.int(3, 30), ask: [], clause: [], np: [] }),
  ],
};

const HOTEL: EntityDef = {
  type: "hotel",
  mentions: ["{name}", "{name}", "the {noun} {name}"],
  table: "hotels",
  key: "name",
  nouns: ["hotel"],
  name: (r) => brandName(r, ["Grand", "Palace", "Lodge", "Suites", "Inn", "Residence"], ["Hotel", "The"]),
  fields: [
    cityField(),
    ref("manager", "person", "general manager", ["Who manages {x}?", "Who is the general manager of {x}?"], ["who manages {x}", "who the general manager of {x} is"], ["the general manager of {x}", "the manager of {x}"], () => 1994),
    yearField("opened", "opening year", 1890, 2024, {
      ask: ["When did {x} open?", "In what year did {x} first open?"],
      clause: ["when {x} opened", "the year {x} opened"],
      np: ["the opening year of {x}", "the year {x} opened"],
      less: ["opened earlier", "is the older hotel"],
      more: ["opened later", "is the newer hotel"],
      least: ["opened first", "is the oldest hotel"],
      most: ["opened last", "is the newest hotel"],
    }),
    field({
      name: "nightly_rate",
      kind: "money",
      label: "nightly rate",
      gen: money(58, 920, true),
      ask: ["How much does a night at {x} cost?", "What is the nightly rate at {x}?"],
      clause: ["how much a night at {x} costs", "the nightly rate at {x}"],
      np: ["the nightly rate at {x}", "the price of one night at {x}"],
      more: ["is more expensive", "charges more per night"],
      less: ["is cheaper", "charges less per night"],
      most: ["is the most expensive", "charges the most per night"],
      least: ["is the cheapest", "charges the least per night"],
    }),
    field({
      name: "rooms",
      kind: "int",
      label: "room count",
      additive: true,
      gen: (r) => r.int(24, 880),
      ask: ["How many rooms does {x} have?", "What is the room count of {x}?"],
      clause: ["how many rooms {x} has", "the room count of {x}"],
      np: ["the number of rooms at {x}", "the room count of {x}"],
      more: ["has more rooms", "is the bigger hotel"],
      less: ["has fewer rooms", "is the smaller hotel"],
      most: ["has the most rooms", "is the biggest hotel"],
      least: ["has the fewest rooms", "is the smallest hotel"],
    }),
    noise("stars", (r) => r.int(2, 5)),
    field({ name: "rooms_available", kind: "int", label: "rooms available", askable: false, stateful: true, gen: (r) => r.int(3, 60), ask: [], clause: [], np: [] }),
  ],
};

const HOSPITAL: EntityDef = {
  type: "hospital",
  mentions: ["{name}", "{name}", "the {noun} {name}"],
  table: "hospitals",
  key: "name",
  nouns: ["hospital"],
  name: (r) => `${capitalize(root(r, 2, 2))} ${r.pick(["General Hospital", "Medical Center", "Clinic", "Memorial Hospital", "University Hospital"])}`,
  fields: [
    cityField(),
    ref("director", "person", "medical director", ["Who is the medical director of {x}?", "Who heads {x} as medical director?"], ["who the medical director of {x} is", "who heads {x}"], ["the medical director of {x}", "the head of {x}"], () => 1988),
    foundedField(1820, 2015, ["When was {x} founded?", "In what year did {x} open?"], ["is older", "is the oldest"], ["is newer", "is the newest"]),
    field({
      name: "beds",
      kind: "int",
      label: "bed count",
      additive: true,
      gen: (r) => r.int(60, 1800),
      ask: ["How many beds does {x} have?", "What is the bed count of {x}?"],
      clause: ["how many beds {x} has", "the bed count of {x}"],
      np: ["the bed count of {x}", "the number of beds at {x}"],
      more: ["has more beds", "is the bigger hospital"],
      less: ["has fewer beds", "is the smaller hospital"],
      most: ["has the most beds", "is the biggest hospital"],
      least: ["has the fewest beds", "is the smallest hospital"],
    }),
    noise("specialty", (r) => r.pick(["cardiology", "oncology", "pediatrics", "orthopedics", "neurology", "trauma care"])),
  ],
};

const MOUNTAIN: EntityDef = {
  type: "mountain",
  mentions: ["{name}", "{name}", "the {noun} {name}"],
  table: "mountains",
  key: "name",
  nouns: ["mountain", "peak"],
  name: (r) => (r.chance(0.5) ? `Mount ${capitalize(root(r, 2, 2))}` : `${capitalize(root(r, 2, 2))} ${r.pick(["Peak", "Spire", "Horn", "Summit"])}`),
  fields: [
    ref("country", "country", "country", ["In which country is {x}?", "Which country is {x} in?"], ["which country {x} is in", "where {x} rises"], ["the country where {x} rises", "the country of {x}"]),
    ref("first_climber", "person", "first climber", ["Who first climbed {x}?", "Who made the first ascent of {x}?"], ["who first climbed {x}", "who made the first ascent of {x}"], ["the first person to climb {x}", "the first climber of {x}"], (rec) => num(rec, "first_ascent") - 18),
    yearField("first_ascent", "first ascent year", 1950, 1998, {
      ask: ["When was {x} first climbed?", "In what year was the first ascent of {x}?"],
      clause: ["when {x} was first climbed", "the year of the first ascent of {x}"],
      np: ["the year of the first ascent of {x}", "the year {x} was first climbed"],
      less: ["was climbed earlier", "was conquered first"],
      more: ["was climbed later", "held out longer"],
      least: ["was climbed first", "was conquered earliest"],
      most: ["was climbed last", "held out the longest"],
    }),
    field({
      name: "height_m",
      kind: "quantity",
      unit: "m",
      label: "height",
      gen: (r) => r.int(1_400, 8_600),
      ask: ["How tall is {x} in meters?", "What is the height of {x}?"],
      clause: ["how tall {x} is", "the height of {x}"],
      np: ["the height of {x}", "the summit height of {x}"],
      more: ["is taller", "rises higher"],
      less: ["is lower", "rises less high"],
      most: ["is the tallest", "rises the highest"],
      least: ["is the lowest", "rises the least"],
    }),
    noise("range", (r) => `${capitalize(root(r, 2, 2))} Range`),
  ],
};

export const ENTITIES: Record<string, EntityDef> = Object.fromEntries(
  [PERSON, CITY, COUNTRY, COMPANY, FILM, BOOK, ALBUM, PRODUCT, FLIGHT, TEAM, UNIVERSITY, RESTAURANT, HOTEL, HOSPITAL, MOUNTAIN].map((e) => [e.type, e]),
);

export function entity(type: string): EntityDef {
  const def = ENTITIES[type];
  if (!def) throw new Error(`unknown entity type "${type}"`);
  return def;
}

export function fieldOf(type: string, name: string): FieldDef {
  const f = entity(type).fields.find((x) => x.name === name);
  if (!f) throw new Error(`entity type "${type}" has no field "${name}"`);
  return f;
}

export type ActionKind = "book_room" | "place_order" | "book_seat" | "reserve_table";

export interface ActionDef {
  action: ActionKind;
  entity: string;
  /** The per-unit price the total is computed from. */
  price: string;
  /** The stateful field the action draws down. */
  stock: string;
  /** Whether one call uses up `quantity` units of stock or a single one (a room, a table). */
  usesQuantity: boolean;
  quantityParam: string;
  quantityNoun: [string, string];
  prefix: string;
  verb: string;
  needsDate: boolean;
  /** Imperative sentences: `{x}` the entity, `{n}` the quantity, `{guest}` a name, `{date}` a day. */
  imperative: string[];
}

export const ACTIONS: Record<ActionKind, ActionDef> = {
  book_room: {
    action: "book_room",
    entity: "hotel",
    price: "nightly_rate",
    stock: "rooms_available",
    usesQuantity: false,
    quantityParam: "nights",
    quantityNoun: ["night", "nights"],
    prefix: "HB",
    verb: "book a room",
    needsDate: false,
    imperative: ["Book {n} nights at {x} for {guest}.", "Please reserve a room at {x} for {n} nights under the name {guest}.", "I'd like a room at {x} for {n} nights; the guest is {guest}."],
  },
  place_order: {
    action: "place_order",
    entity: "product",
    price: "price",
    stock: "stock",
    usesQuantity: true,
    quantityParam: "quantity",
    quantityNoun: ["unit", "units"],
    prefix: "ORD",
    verb: "place an order",
    needsDate: false,
    imperative: ["Order {n} units of {x} for {guest}.", "Please place an order for {n} of the {x} on behalf of {guest}.", "Buy {n} units of {x} for {guest}."],
  },
  book_seat: {
    action: "book_seat",
    entity: "flight",
    price: "fare",
    stock: "seats_left",
    usesQuantity: true,
    quantityParam: "passengers",
    quantityNoun: ["seat", "seats"],
    prefix: "PNR",
    verb: "book seats",
    needsDate: false,
    imperative: ["Book {n} seats on flight {x} for {guest}'s group.", "Please reserve {n} seats on flight {x}; the lead passenger is {guest}.", "Get {guest} and companions {n} seats on flight {x}."],
  },
  reserve_table: {
    action: "reserve_table",
    entity: "restaurant",
    price: "deposit_per_guest",
    stock: "tables_free",
    usesQuantity: false,
    quantityParam: "party_size",
    quantityNoun: ["guest", "guests"],
    prefix: "RT",
    verb: "reserve a table",
    needsDate: true,
    imperative: ["Reserve a table for {n} at {x} on {date} under the name {guest}.", "Please book {x} for a party of {n} on {date}; the name is {guest}.", "Get {guest} a table for {n} people at {x} on {date}."],
  },
};

export interface DomainDef {
  domain: Domain;
  title: string;
  /** Entity types a question may start from. */
  roots: string[];
  actions: ActionKind[];
}

export const DOMAIN_DEFS: Record<Domain, DomainDef> = {
  films: { domain: "films", title: "Films and their makers", roots: ["film"], actions: [] },
  books: { domain: "books", title: "Books and publishing", roots: ["book"], actions: [] },
  music: { domain: "music", title: "Albums and artists", roots: ["album"], actions: [] },
  companies: { domain: "companies", title: "Companies and executives", roots: ["company"], actions: [] },
  geography: { domain: "geography", title: "Cities, countries and mountains", roots: ["mountain", "city", "country"], actions: [] },
  retail: { domain: "retail", title: "Products and orders", roots: ["product"], actions: ["place_order"] },
  travel: { domain: "travel", title: "Flights and bookings", roots: ["flight"], actions: ["book_seat"] },
  sports: { domain: "sports", title: "Sports clubs", roots: ["team"], actions: [] },
  universities: { domain: "universities", title: "Universities", roots: ["university"], actions: [] },
  restaurants: { domain: "restaurants", title: "Restaurants and reservations", roots: ["restaurant"], actions: ["reserve_table"] },
  hotels: { domain: "hotels", title: "Hotels and stays", roots: ["hotel"], actions: ["book_room"] },
  hospitals: { domain: "hospitals", title: "Hospitals", roots: ["hospital"], actions: [] },
};
