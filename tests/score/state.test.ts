// The final-state check: diffs, derived expectations, and scores of right, partial and overreaching end states.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deriveFinalState, jsonEqual, scoreState, stateDiff, valueAtPointer } from "../../src/score/index.ts";
import { Environment, FORMAT, FORMAT_V2, FinalState, type StateChange } from "../../src/schema/index.ts";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/** Applies changes to a deep copy (the inverse of stateDiff, written independently of it). */
function apply(state: unknown, changes: readonly StateChange[]): unknown {
  const out = structuredClone(state) as Record<string, unknown>;
  for (const c of changes) {
    const tokens = c.path.split("/").slice(1).map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
    let parent = out as Record<string, unknown>;
    for (const t of tokens.slice(0, -1)) parent = parent[t] as Record<string, unknown>;
    const last = tokens[tokens.length - 1]!;
    if ("removed" in c) {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
    } else parent[last] = c.value;
  }
  return out;
}

const orders = () => ({
  orders: [
    { id: "RO-1", item: "lamp", status: "placed" },
    { id: "RO-2", item: "desk", status: "placed" },
  ],
  stock: { lamp: 3, desk: 1 },
  catalog: { lamp: 20 },
});

describe("stateDiff and deriveFinalState", () => {
  it("names each changed field, each appended record and each removed key once", () => {
    const after = orders();
    after.orders[1]!.status = "cancelled";
    after.orders.push({ id: "RO-3", item: "lamp", status: "placed" });
    delete (after.stock as Record<string, number>).desk;
    expect(stateDiff(orders(), after)).toEqual([
      { path: "/orders/1/status", value: "cancelled" },
      { path: "/orders/2", value: { id: "RO-3", item: "lamp", status: "placed" } },
      { path: "/stock/desk", removed: true },
    ]);
    expect(deriveFinalState(orders(), after)).toEqual({ checked: ["/orders", "/stock"], changes: stateDiff(orders(), after) });
  });

  it("escapes pointer tokens, and valueAtPointer reads them back", () => {
    const before = { "a/b": { "c~d": 1 } };
    const after = { "a/b": { "c~d": 2 } };
    const [change] = stateDiff(before, after);
    expect(change).toEqual({ path: "/a~1b/c~0d", value: 2 });
    expect(valueAtPointer(after, change!.path)).toBe(2);
    expect(valueAtPointer(after, "/a~1b/missing")).toBeUndefined();
    expect(valueAtPointer([1, 2], "/01")).toBeUndefined();
  });

  const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
  const record = fc.dictionary(fc.string({ maxLength: 4 }), json, { maxKeys: 4 });

  it("is empty exactly for equal states, and applying it gives the later state (property)", () => {
    fc.assert(
      fc.property(record, record, (a, b) => {
        const diff = stateDiff(a, b);
        expect(diff.length === 0).toBe(jsonEqual(a, b));
        // Removals inside arrays shift later indexes; apply them from the back, as stateDiff lists them in index order.
        const ordered = [...diff.filter((c) => !("removed" in c)), ...diff.filter((c) => "removed" in c).reverse()];
        expect(jsonEqual(apply(a, ordered), b)).toBe(true);
      }),
    );
  });

  it("a derived expectation scores its own final state 1, and the untouched state 0 when anything was expected (property)", () => {
    fc.assert(
      fc.property(record, record, (a, b) => {
        const expected = deriveFinalState(a, b);
        expect(scoreState(a, b, expected)).toEqual({ state_match: 1, changes_made: 1, expected_changes: expected.changes.length, unexpected_changes: 0 });
        if (expected.changes.length > 0) expect(scoreState(a, a, expected).state_match).toBe(0);
      }),
    );
  });
});

describe("scoreState", () => {
  const gold = orders();
  gold.orders[1]!.status = "cancelled";
  gold.stock.desk = 2;
  const expected = deriveFinalState(orders(), gold);

  it("gives 1 only for exactly the expected changes", () => {
    expect(scoreState(orders(), gold, expected)).toEqual({ state_match: 1, changes_made: 1, expected_changes: 2, unexpected_changes: 0 });
  });

  it("the wrong record: expected changes missing and an unexpected one", () => {
    const wrong = orders();
    wrong.orders[0]!.status = "cancelled";
    wrong.stock.lamp = 4;
    expect(scoreState(orders(), wrong, expected)).toEqual({ state_match: 0, changes_made: 0, expected_changes: 2, unexpected_changes: 2 });
  });

  it("a duplicate: every expected change made, plus one more record", () => {
    const twice = structuredClone(gold);
    twice.orders.push({ id: "RO-3", item: "desk", status: "cancelled" });
    expect(scoreState(orders(), twice, expected)).toMatchObject({ state_match: 0, changes_made: 1, unexpected_changes: 1 });
  });

  it("a skipped step: half the changes made", () => {
    const half = orders();
    half.orders[1]!.status = "cancelled";
    expect(scoreState(orders(), half, expected)).toMatchObject({ state_match: 0, changes_made: 0.5, unexpected_changes: 0 });
  });

  it("does not judge paths outside the checked ones", () => {
    const extra = structuredClone(gold) as ReturnType<typeof orders>;
    extra.catalog.lamp = 99;
    expect(scoreState(orders(), extra, expected).state_match).toBe(1);
  });
});

describe("format @2", () => {
  const base = JSON.parse(readFileSync(resolve(import.meta.dirname, "../../environments/examples/films-director-birth.json"), "utf8")) as { tasks: Record<string, unknown>[] };

  it("format @1 files load unchanged, and a final state needs @2", () => {
    expect(Environment.safeParse(base).success).toBe(true);
    const task = { ...base.tasks[0]!, final_state: { checked: ["/x"], changes: [{ path: "/x", value: 1 }] } };
    const v1 = Environment.safeParse({ ...base, format: FORMAT, tasks: [task] });
    expect(v1.success).toBe(false);
    expect(JSON.stringify(v1.error?.issues)).toContain(`final_state needs \\"format\\": \\"${FORMAT_V2}\\"`);
    const v2 = Environment.safeParse({ ...base, format: FORMAT_V2, tasks: [task] });
    expect(v2.success).toBe(true);
  });

  it("rejects changes outside the checked paths, twice-changed paths and paths that are not JSON Pointers", () => {
    const bad = (fs: unknown) => Environment.safeParse({ ...base, format: FORMAT_V2, tasks: [{ ...base.tasks[0]!, final_state: fs }] });
    expect(JSON.stringify(bad({ checked: ["/a"], changes: [{ path: "/b/1", value: 1 }] }).error?.issues)).toContain("under no checked path");
    expect(JSON.stringify(bad({ checked: ["/a"], changes: [{ path: "/a/1", value: 1 }, { path: "/a/1", removed: true }] }).error?.issues)).toContain("changed twice");
    expect(FinalState.safeParse({ checked: ["a"], changes: [] }).success).toBe(false);
    expect(FinalState.safeParse({ checked: [""], changes: [] }).success).toBe(false);
    expect(FinalState.safeParse({ checked: ["/a"], changes: [{ path: "/a", value: 1, removed: true }] }).success).toBe(false);
  });
});
