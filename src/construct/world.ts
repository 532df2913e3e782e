// A seeded fictional world, grown on demand: a relation names a fresh entity, which gets its own record
// the first time a question follows it, so facts stay consistent and unrelated records never share values.
import { normalize } from "../score/index.ts";
import { entity, type FactRecord, type GenContext } from "./catalog.ts";
import type { Rng } from "./rng.ts";

const CURRENCY_CHOICES = ["USD", "EUR", "GBP", "CHF", "CAD", "SEK"] as const;

interface Pending {
  type: string;
  bornBefore?: number;
  fixed: FactRecord;
}

export class World {
  /** Materialized records by entity type, in creation order. */
  readonly records = new Map<string, FactRecord[]>();
  private readonly byKey = new Map<string, FactRecord>();
  private readonly pending = new Map<string, Pending>();
  private readonly names: string[] = [];
  private readonly currencies = new Map<string, string>();

  constructor(private readonly rng: Rng) {}

  /** The currency every money field of a type is quoted in, fixed per world so values compare. */
  currencyOf(type: string): string {
    let c = this.currencies.get(type);
    if (!c) {
      c = this.rng.pick(CURRENCY_CHOICES);
      this.currencies.set(type, c);
    }
    return c;
  }

  /** A name no other name in this world contains or is contained in, so substring matching stays unambiguous. */
  freshName(make: (rng: Rng) => string): string {
    for (let i = 0; i < 200; i++) {
      const name = make(this.rng);
      const n = normalize(name);
      if (n.length >= 4 && !this.names.some((m) => m.includes(n) || n.includes(m))) {
        this.names.push(n);
        return name;
      }
    }
    throw new Error("could not find a fresh name");
  }

  /** A new entity of `type` with every field filled; relations point at fresh, not yet materialized, entities. */
  create(type: string, name?: string): FactRecord {
    const def = entity(type);
    const key = name ?? this.freshName((r) => def.name(r));
    const hint = this.pending.get(`${type}\u0001${key}`);
    const ctx: GenContext = { currency: this.currencyOf(type), ...(hint?.bornBefore !== undefined ? { bornBefore: hint.bornBefore } : {}) };
    const rec: FactRecord = { [def.key]: key };
    let hasMoney = false;
    for (const f of def.fields) {
      if (hint && f.name in hint.fixed) rec[f.name] = hint.fixed[f.name]!;
      else if (f.kind === "ref") rec[f.name] = this.freshName((r) => entity(f.ref!).name(r));
      else rec[f.name] = f.gen!(this.rng, rec, ctx);
      if (f.kind === "money") hasMoney = true;
    }
    if (hasMoney) rec.currency = ctx.currency;
    for (const f of def.fields) {
      if (f.kind !== "ref") continue;
      const target = rec[f.name] as string;
      const fixed: FactRecord = {};
      // A country's capital lies in that country.
      if (type === "country" && f.name === "capital") fixed.country = key;
      this.pending.set(`${f.ref}\u0001${target}`, { type: f.ref!, ...(f.bornBefore ? { bornBefore: f.bornBefore(rec) } : {}), fixed });
    }
    this.records.set(type, [...(this.records.get(type) ?? []), rec]);
    this.byKey.set(`${type}\u0001${key}`, rec);
    return rec;
  }

  /** The record a relation of `rec` points to, materialized on first use. */
  follow(type: string, rec: FactRecord, fieldName: string): { type: string; record: FactRecord } {
    const f = entity(type).fields.find((x) => x.name === fieldName);
    if (!f || f.kind !== "ref") throw new Error(`${type}.${fieldName} is not a relation`);
    const target = String(rec[fieldName]);
    const existing = this.byKey.get(`${f.ref}\u0001${target}`);
    return { type: f.ref!, record: existing ?? this.create(f.ref!, target) };
  }
}
