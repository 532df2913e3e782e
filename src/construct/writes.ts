// Write tasks: environments whose tasks change the world (cancel, modify, return, transfer) under a policy the
// question states, in four domains and all four scenario types; judged by their final state beside the FTRL reward.
import type { Environment, GoldStep, ImplementationLanguage, Scenario, Task, Tool } from "../schema/index.ts";
import { FORMAT_V2 } from "../schema/index.ts";
import { GENERATOR } from "./deploy.ts";
import { COMMON_PY, pythonToolSource, WRITE_PY } from "./engine-py.ts";
import { brandName, flightCode, personName, placeName } from "./names.ts";
import { Rejection } from "./reject.ts";
import { hashSeed, rngFrom, type Rng } from "./rng.ts";
import { WRITE_PRELUDE, writeToolSource } from "./write-source.ts";

/** Bumped when a write environment's bytes would change for the same seed. */
export const WRITE_GENERATOR_VERSION = "writes-1";

export const WRITE_DOMAINS = ["retail", "travel", "hotels", "restaurants"] as const;
export type WriteDomain = (typeof WRITE_DOMAINS)[number];

export type WriteKind = "cancel" | "modify" | "return" | "transfer";

/** A domain's words and tool names over the generic state (venues and bookings). */
interface Words {
  title: string;
  venue: string;
  booking: string;
  idArg: string;
  prefix: string;
  qty: string;
  price: string;
  available: string;
  dateWord: string;
  tools: { find: string; get: string; cancel: string; change: string; create: string; ret?: string };
  venueName: (rng: Rng) => string;
  prices: [number, number];
}

const WORDS: Record<WriteDomain, Words> = {
  retail: {
    title: "Orders: cancellations, changes and returns",
    venue: "product",
    booking: "order",
    idArg: "order_id",
    prefix: "RO",
    qty: "units",
    price: "unit_price",
    available: "in_stock",
    dateWord: "delivery date",
    tools: { find: "find_orders", get: "get_product", cancel: "cancel_order", change: "change_order_units", create: "place_order", ret: "return_units" },
    venueName: (rng) => brandName(rng, ["Lamp", "Kettle", "Desk", "Backpack", "Speaker", "Blender", "Chair", "Jacket"]),
    prices: [12, 400],
  },
  travel: {
    title: "Flight bookings: cancellations, changes and transfers",
    venue: "flight",
    booking: "booking",
    idArg: "booking_id",
    prefix: "FB",
    qty: "seats",
    price: "fare",
    available: "seats_available",
    dateWord: "travel date",
    tools: { find: "find_bookings", get: "get_flight", cancel: "cancel_booking", change: "change_booking_seats", create: "book_seats" },
    venueName: flightCode,
    prices: [60, 900],
  },
  hotels: {
    title: "Hotel reservations: cancellations, changes and transfers",
    venue: "hotel",
    booking: "reservation",
    idArg: "reservation_id",
    prefix: "HR",
    qty: "nights",
    price: "nightly_rate",
    available: "rooms_available",
    dateWord: "check-in date",
    tools: { find: "find_reservations", get: "get_hotel", cancel: "cancel_reservation", change: "change_reservation_nights", create: "book_room" },
    venueName: (rng) => brandName(rng, ["Inn", "Suites", "Lodge", "Hotel"], ["Hotel"]),
    prices: [70, 700],
  },
  restaurants: {
    title: "Table reservations: cancellations, changes and transfers",
    venue: "restaurant",
    booking: "reservation",
    idArg: "reservation_id",
    prefix: "TR",
    qty: "guests",
    price: "price_per_guest",
    available: "seats_available",
    dateWord: "date",
    tools: { find: "find_reservations", get: "get_restaurant", cancel: "cancel_reservation", change: "change_party_size", create: "reserve_table" },
    venueName: (rng) => brandName(rng, ["Bistro", "Grill", "Kitchen", "Trattoria", "Brasserie"], ["Chez", "Casa"]),
    prices: [18, 160],
  },
};

interface Venue {
  name: string;
  city: string;
  price: number;
  available: number;
}

interface Booking {
  id: string;
  customer: string;
  venue: string;
  quantity: number;
  date: string;
  status: string;
  total: number;
}

interface World {
  venues: Venue[];
  bookings: Booking[];
  next: number;
}

const money = (x: number): number => Math.round(x * 100) / 100;
/** What the sandbox prints for a number (Python's repr of a JSON number, as the outputs are rendered). */
const num = (x: number): string => String(x);

function day(rng: Rng): string {
  const m = rng.int(1, 12);
  const d = rng.int(1, 28);
  return `2026-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

function makeWorld(rng: Rng, w: Words): World {
  const names = new Set<string>();
  const venues: Venue[] = [];
  while (venues.length < 7) {
    const name = w.venueName(rng);
    if (names.has(name.toLowerCase())) continue;
    names.add(name.toLowerCase());
    venues.push({ name, city: placeName(rng), price: rng.float(w.prices[0], w.prices[1], 2), available: rng.int(20, 60) });
  }
  const customers = new Set<string>();
  while (customers.size < 5) customers.add(personName(rng));
  let next = rng.int(1000, 8000);
  const bookings: Booking[] = [];
  for (const customer of customers) {
    // Each customer holds three bookings at different venues, so "which one" is a real choice.
    // ... on different dates, so a date also names exactly one of them.
    const dates = new Set<string>();
    while (dates.size < 3) dates.add(day(rng));
    const when = [...dates];
    for (const [i, v] of rng.sample(venues, 3).entries()) {
      const quantity = rng.int(2, 6);
      bookings.push({ id: `${w.prefix}-${next++}`, customer, venue: v.name, quantity, date: when[i]!, status: "confirmed", total: money(quantity * v.price) });
    }
  }
  return { venues, bookings: rng.shuffle(bookings), next };
}

/** A step before its id is assigned: `after` lists the indexes of the steps it needs. */
interface Draft {
  tool: string;
  args: Record<string, string | number>;
  after: number[];
  yields: string;
}

interface Drafted {
  kind: WriteKind;
  question: string;
  answer: string;
  steps: Draft[];
}

/** The task families: each draws what it changes from the world and states its policy in the question. */
class Families {
  /** Bookings already used by a task of this environment, so tasks differ. */
  private used = new Set<string>();

  constructor(
    private readonly rng: Rng,
    private readonly world: World,
    private readonly w: Words,
  ) {}

  private venueOf(b: Booking): Venue {
    return this.world.venues.find((v) => v.name === b.venue)!;
  }

  private pick(filter: (b: Booking) => boolean = () => true): Booking {
    const options = this.world.bookings.filter((b) => !this.used.has(b.id) && filter(b));
    if (options.length === 0) throw new Rejection("writes:exhausted", "no unused booking fits the task");
    const b = this.rng.pick(options);
    this.used.add(b.id);
    return b;
  }

  private otherQuantity(b: Booking): number {
    return this.rng.pick([1, 2, 3, 4, 5, 6, 7, 8].filter((q) => q !== b.quantity));
  }

  private find(b: Booking): Draft {
    return { tool: this.w.tools.find, args: { customer: b.customer }, after: [], yields: b.id };
  }

  private cancel(b: Booking, after: number[] = []): Draft {
    return { tool: this.w.tools.cancel, args: { [this.w.idArg]: b.id }, after, yields: num(b.total) };
  }

  private change(b: Booking, q: number, after: number[] = []): Draft {
    return { tool: this.w.tools.change, args: { [this.w.idArg]: b.id, [this.w.qty]: q }, after, yields: num(money(q * this.venueOf(b).price)) };
  }

  private ret(b: Booking, k: number, after: number[] = []): Draft {
    return { tool: this.w.tools.ret!, args: { [this.w.idArg]: b.id, [this.w.qty]: k }, after, yields: num(money(k * this.venueOf(b).price)) };
  }

  private create(v: Venue, b: Booking, after: number[] = []): Draft {
    return { tool: this.w.tools.create, args: { [this.w.venue]: v.name, customer: b.customer, [this.w.qty]: b.quantity, date: b.date }, after, yields: num(money(b.quantity * v.price)) };
  }

  /** A venue the customer holds no booking at, with room for the booking. */
  private elsewhere(b: Booking, n: number): Venue[] {
    const held = new Set(this.world.bookings.filter((x) => x.customer === b.customer).map((x) => x.venue));
    const options = this.world.venues.filter((v) => !held.has(v.name) && v.available >= b.quantity);
    if (options.length < n) throw new Rejection("writes:no-venue", "too few other venues with room");
    return this.rng.sample(options, n);
  }

  draft(scenario: Scenario, kind: WriteKind): Drafted {
    const w = this.w;
    const B = w.booking;
    switch (`${scenario}/${kind}`) {
      case "single-hop/cancel": {
        const b = this.pick();
        return { kind, question: `Please cancel ${B} ${b.id} for ${b.customer}; ${b.customer}'s other ${B}s stay as they are. How much is refunded?`, answer: num(b.total), steps: [this.cancel(b)] };
      }
      case "single-hop/modify": {
        const b = this.pick();
        const q = this.otherQuantity(b);
        return { kind, question: `Change ${B} ${b.id} to ${q} ${w.qty}, leaving its ${w.venue} and ${w.dateWord} as they are. What is the new total?`, answer: num(money(q * this.venueOf(b).price)), steps: [this.change(b, q)] };
      }
      case "single-hop/return": {
        const b = this.pick((x) => x.quantity >= 4);
        const k = this.rng.int(1, Math.floor(b.quantity / 2));
        return { kind, question: `${b.customer} is sending back ${k} of the ${w.qty} in ${B} ${b.id}; return only those ${k}. How much is refunded?`, answer: num(money(k * this.venueOf(b).price)), steps: [this.ret(b, k)] };
      }
      case "parallel-single-hop/transfer": {
        const b = this.pick();
        const [to] = this.elsewhere(b, 1);
        const steps = [this.cancel(b), this.create(to!, b)];
        return { kind, question: `Move ${B} ${b.id} (${b.customer}, ${b.quantity} ${w.qty}, ${w.dateWord} ${b.date}) to ${to!.name}: cancel it and book the same ${w.qty} and ${w.dateWord} at ${to!.name}. What is the refund, and what does the new ${B} cost?`, answer: `${steps[0]!.yields}, ${steps[1]!.yields}`, steps };
      }
      case "parallel-single-hop/cancel": {
        const a = this.pick();
        const b = this.pick((x) => x.customer !== a.customer);
        return { kind, question: `Cancel ${B}s ${a.id} and ${b.id}, and nothing else. What are the two refunds?`, answer: `${num(a.total)}, ${num(b.total)}`, steps: [this.cancel(a), this.cancel(b)] };
      }
      case "parallel-single-hop/modify": {
        const a = this.pick();
        const b = this.pick((x) => x.customer !== a.customer);
        const qa = this.otherQuantity(a);
        const qb = this.otherQuantity(b);
        const steps = [this.change(a, qa), this.change(b, qb)];
        return { kind, question: `Change ${B} ${a.id} to ${qa} ${w.qty} and ${B} ${b.id} to ${qb} ${w.qty}. What are the two new totals?`, answer: `${steps[0]!.yields}, ${steps[1]!.yields}`, steps };
      }
      case "parallel-single-hop/return": {
        const a = this.pick((x) => x.quantity >= 4);
        const b = this.pick((x) => x.customer !== a.customer);
        const k = this.rng.int(1, Math.floor(a.quantity / 2));
        const steps = [this.ret(a, k), this.cancel(b)];
        return { kind, question: `Return ${k} of the ${w.qty} in ${B} ${a.id}, and cancel ${B} ${b.id}. What are the refunds for the return and for the cancellation?`, answer: `${steps[0]!.yields}, ${steps[1]!.yields}`, steps };
      }
      case "multi-hop/cancel": {
        const b = this.pick();
        if (this.rng.chance(0.5)) return { kind, question: `${b.customer} has several ${B}s. Cancel only the one at ${b.venue} and tell me the refund.`, answer: num(b.total), steps: [this.find(b), this.cancel(b, [0])] };
        return { kind, question: `Cancel ${b.customer}'s ${B} with the ${w.dateWord} ${b.date}; the other ${B}s stay. What is refunded?`, answer: num(b.total), steps: [this.find(b), this.cancel(b, [0])] };
      }
      case "multi-hop/modify": {
        const b = this.pick();
        const q = this.otherQuantity(b);
        const steps = [this.find(b), this.change(b, q, [0])];
        return { kind, question: `${b.customer}'s ${B} at ${b.venue} should be for ${q} ${w.qty} instead; change nothing else. What is the new total?`, answer: steps[1]!.yields, steps };
      }
      case "multi-hop/return": {
        const b = this.pick((x) => x.quantity >= 4);
        const k = this.rng.int(1, Math.floor(b.quantity / 2));
        const steps = [this.find(b), this.ret(b, k, [0])];
        return { kind, question: `${b.customer} wants to return ${k} of the ${b.venue} ${w.qty} from their ${B}. Process just that return and give the refund.`, answer: steps[1]!.yields, steps };
      }
      case "multi-hop/transfer": {
        const b = this.pick();
        const [to] = this.elsewhere(b, 1);
        const steps = [this.find(b), this.cancel(b, [0]), this.create(to!, b, [0])];
        return { kind, question: `Move ${b.customer}'s ${B} at ${b.venue} to ${to!.name}, keeping the ${w.qty} and ${w.dateWord}: cancel the old ${B} and book the new one. What does the new ${B} cost?`, answer: steps[2]!.yields, steps };
      }
      case "parallel-multi-hop/transfer": {
        // The budget policy: of two candidates, the cheaper one; both prices must be looked up.
        const b = this.pick();
        const [x, y] = this.elsewhere(b, 2);
        if (x!.price === y!.price) throw new Rejection("writes:tie", "the two candidates cost the same");
        const cheaper = x!.price < y!.price ? x! : y!;
        const steps: Draft[] = [
          { tool: w.tools.get, args: { [w.venue]: x!.name }, after: [], yields: num(x!.price) },
          { tool: w.tools.get, args: { [w.venue]: y!.name }, after: [], yields: num(y!.price) },
          this.find(b),
          this.cancel(b, [2]),
          this.create(cheaper, b, [0, 1, 2]),
        ];
        return { kind, question: `Move ${b.customer}'s ${B} at ${b.venue} to whichever of ${x!.name} and ${y!.name} has the lower ${w.price.replace(/_/g, " ")}, keeping the ${w.qty} and ${w.dateWord}. What does the new ${B} cost?`, answer: steps[4]!.yields, steps };
      }
      case "parallel-multi-hop/modify": {
        const a = this.pick();
        const b = this.pick((x) => x.customer !== a.customer);
        const qa = this.otherQuantity(a);
        const qb = this.otherQuantity(b);
        const steps = [this.find(a), this.find(b), this.change(a, qa, [0]), this.change(b, qb, [1])];
        return { kind, question: `${a.customer}'s ${B} at ${a.venue} should be for ${qa} ${w.qty}, and ${b.customer}'s at ${b.venue} for ${qb}. Make both changes; what are the two new totals?`, answer: `${steps[2]!.yields}, ${steps[3]!.yields}`, steps };
      }
      case "parallel-multi-hop/cancel": {
        const a = this.pick();
        const b = this.pick((x) => x.customer !== a.customer);
        const q = this.otherQuantity(b);
        const steps = [this.find(a), this.find(b), this.cancel(a, [0]), this.change(b, q, [1])];
        return { kind, question: `Cancel ${a.customer}'s ${B} at ${a.venue}, and change ${b.customer}'s ${B} at ${b.venue} to ${q} ${w.qty}. What is the refund, and what is the new total?`, answer: `${steps[2]!.yields}, ${steps[3]!.yields}`, steps };
      }
      case "parallel-multi-hop/return": {
        const a = this.pick((x) => x.quantity >= 4);
        const b = this.pick((x) => x.customer !== a.customer && x.quantity >= 4);
        const ka = this.rng.int(1, Math.floor(a.quantity / 2));
        const kb = this.rng.int(1, Math.floor(b.quantity / 2));
        const steps = [this.find(a), this.find(b), this.ret(a, ka, [0]), this.ret(b, kb, [1])];
        return { kind, question: `${a.customer} is returning ${ka} of the ${a.venue} ${w.qty} they ordered, and ${b.customer} ${kb} of the ${b.venue} ${w.qty}. Process both returns; what are the two refunds?`, answer: `${steps[2]!.yields}, ${steps[3]!.yields}`, steps };
      }
    }
    throw new Error(`no write family for ${scenario}/${kind}`);
  }
}

/** The kinds of change a domain offers (returns are of goods, so only retail has them); a transfer takes two changes, so never one hop. */
export const kindsOf = (domain: WriteDomain, scenario: Scenario): WriteKind[] =>
  (["cancel", "modify", "return", "transfer"] as const).filter((k) => (k !== "return" || domain === "retail") && (k !== "transfer" || scenario !== "single-hop"));

/** The parts of the state each engine reads or changes (a Python tool carries its own copy of them). */
const ENGINE_STATE: Record<string, string[]> = { ew_find: ["bookings"], ew_get: ["venues"], ew_cancel: ["venues", "bookings"], ew_change: ["venues", "bookings"], ew_return: ["venues", "bookings"], ew_create: ["venues", "bookings", "counters"] };

function tools(w: Words, language: ImplementationLanguage, state: Record<string, unknown>): { docs: Tool[]; code: Record<string, string> } {
  const cfg = { venue: w.venue, booking: w.booking, idArg: w.idArg, prefix: w.prefix, qty: w.qty, price: w.price, available: w.available };
  const str = (description: string) => ({ type: "string", description });
  const count = (description: string) => ({ type: "integer", minimum: 1, description });
  const id = str(`The ${w.booking} id, as ${w.tools.find} lists it (e.g. ${w.prefix}-1234).`);
  const specs: { name: string; engine: string; description: string; props: Record<string, unknown>; annotations: Tool["annotations"] }[] = [
    { name: w.tools.find, engine: "ew_find", description: `Lists every ${w.booking} held under a customer's name: id, ${w.venue}, ${w.qty}, ${w.dateWord} (date), status and total.`, props: { customer: str("The customer's full name (case-insensitive).") }, annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false } },
    { name: w.tools.get, engine: "ew_get", description: `Returns a ${w.venue}'s city, ${w.price.replace(/_/g, " ")} and ${w.available.replace(/_/g, " ")}.`, props: { [w.venue]: str(`Exact name of the ${w.venue} (case-insensitive).`) }, annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false } },
    { name: w.tools.cancel, engine: "ew_cancel", description: `Cancels a ${w.booking} and refunds its total; the ${w.qty} become available again. A cancelled ${w.booking} cannot be changed.`, props: { [w.idArg]: id }, annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false } },
    { name: w.tools.change, engine: "ew_change", description: `Sets the number of ${w.qty} of a ${w.booking}; the total is recomputed at the ${w.venue}'s current ${w.price.replace(/_/g, " ")}.`, props: { [w.idArg]: id, [w.qty]: count(`The new number of ${w.qty}.`) }, annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false } },
    ...(w.tools.ret ? [{ name: w.tools.ret, engine: "ew_return", description: `Returns some ${w.qty} of an ${w.booking} and refunds them; the rest of the ${w.booking} stays.`, props: { [w.idArg]: id, [w.qty]: count(`How many ${w.qty} to return.`) }, annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false } }] : []),
    { name: w.tools.create, engine: "ew_create", description: `Makes a new ${w.booking} at a ${w.venue} and returns its id and total. Every call makes another ${w.booking}.`, props: { [w.venue]: str(`Exact name of the ${w.venue} (case-insensitive).`), customer: str("The customer's full name."), [w.qty]: count(`How many ${w.qty}.`), date: str(`The ${w.dateWord}, YYYY-MM-DD.`) }, annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false } },
  ];
  return {
    docs: specs.map((s) => ({ name: s.name, description: s.description, input_schema: { type: "object", properties: s.props as Record<string, never>, required: Object.keys(s.props), additionalProperties: false }, annotations: s.annotations })),
    code: Object.fromEntries(
      specs.map((s) => [s.name, language === "python" ? pythonToolSource(s.name, s.engine, cfg, Object.fromEntries(ENGINE_STATE[s.engine]!.map((k) => [k, state[k]]))) : writeToolSource(s.name, s.engine, cfg)]),
    ),
  };
}

const SCENARIO_CODES: Record<Scenario, string> = { "single-hop": "sh", "parallel-single-hop": "psh", "multi-hop": "mh", "parallel-multi-hop": "pmh" };

export interface WriteRequest {
  domain: WriteDomain;
  scenario: Scenario;
  /** Which environment of its cell (the id's counter). */
  index: number;
  seed: number;
  /** The tools' language; JavaScript when absent. */
  language?: ImplementationLanguage;
}

/** A write environment without its expected final states (the gold replay adds them: see write-build.ts). */
export function generateWrites(request: WriteRequest): Environment {
  const w = WORDS[request.domain];
  const rng = rngFrom(request.seed);
  const world = makeWorld(rng.fork("world"), w);
  const families = new Families(rng.fork("tasks"), world, w);
  const kinds = rng.fork("kinds").shuffle(kindsOf(request.domain, request.scenario));
  const tasks: Task[] = kinds.slice(0, 3).map((kind, i) => {
    const d = families.draft(request.scenario, kind);
    const gold: GoldStep[] = d.steps.map((s, si) => ({ id: `s${si + 1}`, tool: s.tool, arguments: s.args, depends_on: s.after.map((a) => `s${a + 1}`), yields: s.yields }));
    const unsolved: Record<string, string[]> = {};
    for (const g of gold) (unsolved[g.tool] ??= []).push(g.yields);
    return { id: `t${i + 1}-${kind}`, question: d.question, unsolved_set: unsolved, answer: d.answer, gold_plan: gold };
  });
  const language = request.language ?? "javascript";
  const initial = { venues: world.venues, bookings: world.bookings, counters: { [w.prefix]: world.next } };
  const t = tools(w, language, initial);
  const id = `${request.domain}-${SCENARIO_CODES[request.scenario]}-write${request.index}-${hashSeed(request.domain, request.scenario, request.index).toString(16).padStart(8, "0")}`;
  return {
    $schema: "../schema.json",
    format: FORMAT_V2,
    id,
    title: `${w.title}: ${request.scenario.replace(/-/g, " ")}`,
    domain: request.domain,
    scenario: request.scenario,
    complexity: { functional_generalization: 0, parameter_expansion: 0, parameter_type_generalization: 0, toolset_extension: 0 },
    provenance: { generator: GENERATOR, version: WRITE_GENERATOR_VERSION, seed: request.seed, stages: { writes: { kinds: tasks.map((x) => x.id.replace(/^t\d+-/, "")), venues: world.venues.length, bookings: world.bookings.length } } },
    tools: t.docs,
    implementation: { language, prelude: language === "python" ? `${COMMON_PY}\n\n\n${WRITE_PY}\n` : WRITE_PRELUDE.trim(), tools: t.code },
    initial_state: initial as unknown as Environment["initial_state"],
    tasks,
  };
}
