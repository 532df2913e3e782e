// The JavaScript the generated tools run in the sandbox: shared helpers and one small engine per kind of
// tool. Deploy copies in only the parts an environment uses; each tool is a one-line call with its config.

/** Helpers every environment gets. */
export const COMMON_SOURCE = `function ef_norm(v) {
  return String(v).trim().toLowerCase();
}
function ef_fail(message) {
  throw new Error(message);
}
function ef_hash(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
function ef_distance(a, b) {
  if (Math.abs(a.length - b.length) > 3) return 99;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
function ef_rows(state, table) {
  const rows = state[table];
  if (!Array.isArray(rows)) ef_fail("The " + table + " table is unavailable.");
  return rows;
}
function ef_vocab(value, allowed, what) {
  if (typeof value !== "string") ef_fail("Expected " + what + " to be a string, one of: " + allowed.join(", ") + ".");
  const w = ef_norm(value);
  for (const a of allowed) if (a.toLowerCase() === w) return a;
  ef_fail("Unknown " + what + ' "' + value + '". Expected one of: ' + allowed.join(", ") + ".");
}
function ef_keys(args, key, noun) {
  const raw = args[key.name];
  const list = key.shape === "list" ? raw : [key.shape === "object" ? raw[key.inner] : raw];
  if (!Array.isArray(list) || list.length === 0) ef_fail("Give at least one " + noun + ".");
  for (const k of list) if (typeof k !== "string" || k.trim() === "") ef_fail("Each " + noun + " must be a non-empty string.");
  return list;
}
function ef_row(rows, keyField, value, noun, suggest) {
  const w = ef_norm(value);
  for (const r of rows) if (ef_norm(r[keyField]) === w) return r;
  let near = null;
  if (suggest) {
    let best = Math.max(2, Math.floor(w.length / 6)) + 1;
    for (const r of rows) {
      const d = ef_distance(w, ef_norm(r[keyField]));
      if (d < best) {
        best = d;
        near = r[keyField];
      }
    }
  }
  ef_fail("No " + noun + " with " + keyField + ' "' + value + '" was found.' + (near ? ' Did you mean "' + near + '"?' : ""));
}
function ef_isDay(text) {
  return typeof text === "string" && /^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$/.test(text.trim());
}
// What /^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$/ accepts, in linear time: that regex backtracks quadratically on long input.
function ef_isEmail(text) {
  const at = text.indexOf("@");
  if (at < 1 || text.indexOf("@", at + 1) !== -1 || /\\s/.test(text)) return false;
  const dot = text.indexOf(".", at + 2);
  return dot !== -1 && dot < text.length - 1;
}
function ef_finish(out, args, opts, source) {
  if (opts.as_of && args[opts.as_of] !== undefined && !ef_isDay(args[opts.as_of])) ef_fail(opts.as_of + " must be a date written YYYY-MM-DD.");
  if (opts.contact_email && args[opts.contact_email] !== undefined && !ef_isEmail(String(args[opts.contact_email]))) ef_fail(opts.contact_email + " does not look like an email address.");
  if (out !== null && typeof out === "object") {
    if (opts.request_id && args[opts.request_id] !== undefined) out.request_id = args[opts.request_id];
    if (opts.as_of && args[opts.as_of] !== undefined) out.as_of = args[opts.as_of].trim();
    if (opts.notes && args[opts.notes] !== undefined) out.notes = args[opts.notes];
    if (opts.include_metadata && args[opts.include_metadata] === true) out._meta = { source: source + " registry", revision: (ef_hash(JSON.stringify(out)) % 40) + 1 };
  }
  if (opts.response_format && args[opts.response_format] === "text") {
    return Object.keys(out).map((k) => k + ": " + (typeof out[k] === "string" ? out[k] : JSON.stringify(out[k]))).join("; ");
  }
  return out;
}`;

/** Reads rows: one record, one attribute, or several records at once. */
export const LOOKUP_SOURCE = `function ef_lookup(args, state, cfg) {
  const noun = cfg.kind ? ef_vocab(args[cfg.kind], Object.keys(cfg.tables), cfg.kind) : Object.keys(cfg.tables)[0];
  const t = cfg.tables[noun];
  const rows = ef_rows(state, t.table);
  // Every row of a generated table has the same fields.
  const asked = cfg.field && args[cfg.field] !== undefined && args[cfg.field] !== null ? ef_vocab(args[cfg.field], Object.keys(rows[0] || {}).filter((k) => k !== t.key), cfg.field + " of " + noun) : null;
  const field = cfg.fixed || asked;
  const results = ef_keys(args, cfg.key, noun + " " + t.key).map((k) => {
    const rec = ef_row(rows, t.key, k, noun, cfg.suggest);
    if (!field) return cfg.kind ? Object.assign({ record_type: noun }, rec) : Object.assign({}, rec);
    const out = {};
    if (cfg.kind) out.record_type = noun;
    out[t.key] = rec[t.key];
    out[field] = rec[field] === undefined ? null : rec[field];
    return out;
  });
  return ef_finish(cfg.key.shape === "list" ? { results: results, count: results.length } : results[0], args, cfg.opts, t.table);
}`;

/** The computing tools' dispatcher: picks the operation, reads parameters by role, rounds, explains. */
export const COMPUTE_SOURCE = `function ef_compute(args, state, cfg) {
  let kind = cfg.ops[0];
  if (cfg.ops.length > 1) {
    const name = ef_vocab(args[cfg.p.operation.name], cfg.ops.map((k) => cfg.names[k]), cfg.p.operation.name);
    kind = cfg.ops.find((k) => cfg.names[k] === name);
  }
  const label = cfg.names[kind];
  const c = {
    args: args,
    state: state,
    cfg: cfg,
    digits: cfg.opts.precision && args[cfg.opts.precision] !== undefined ? args[cfg.opts.precision] : 2,
    has: (role) => cfg.p[role] !== undefined,
    get: (role) => {
      const p = cfg.p[role];
      const v = p ? args[p.name] : undefined;
      if (v === undefined || v === null) ef_fail("Missing " + (p ? '"' + p.name + '"' : role) + " for " + label + ".");
      return v;
    },
    num: (v, what) => {
      if (typeof v !== "number" || !isFinite(v)) ef_fail(what + " must be a number.");
      return v;
    },
  };
  c.choice = (role, allowed) => (cfg.fixed[role] !== undefined ? cfg.fixed[role] : ef_vocab(c.get(role), allowed, cfg.p[role] ? cfg.p[role].name : role));
  const r = kind === "convert_currency" || kind === "convert_unit" ? ef_op_convert(c) : kind === "add_days" ? ef_op_add_days(c) : kind === "date_diff" ? ef_op_date_diff(c) : kind === "subtract" ? ef_op_arithmetic(c) : kind === "compare" ? ef_op_compare(c) : kind === "sort" ? ef_op_sort(c) : ef_op_aggregate(c);
  if (cfg.opts.explain && args[cfg.opts.explain] === true) r.out.explanation = r.why;
  return ef_finish(r.out, args, cfg.opts, "calculator");
}`;

/** One handler per kind of computation; deploy includes those an environment's tools can run. */
export const COMPUTE_PARTS: Record<string, string> = {
  convert: `function ef_op_convert(c) {
  const rates = c.state.exchange_rates || {};
  const money = c.cfg.p.money;
  const entries = money ? (money.shape === "list" ? c.get("money") : [c.get("money")]).map((e) => ({ amount: e.amount, from: e[money.inner[1]] })) : [{ amount: c.get("amount"), from: c.choice("from", c.cfg.codes) }];
  const to = c.choice("to", c.cfg.codes);
  const results = entries.map((e) => {
    const amount = c.num(e.amount, "amount");
    const from = ef_vocab(e.from, c.cfg.codes, "unit");
    if (from in rates && to in rates) return { amount: amount, from: from, to: to, rate: ef_roundTo(rates[to] / rates[from], 6), result: ef_convertCurrency(amount, from, to, rates, c.digits) };
    if (typeof ef_UNIT_FACTORS === "undefined" || ef_UNIT_FACTORS[from + ">" + to] === undefined) ef_fail("Cannot convert " + from + " to " + to + ".");
    return { amount: amount, from: from, to: to, factor: ef_UNIT_FACTORS[from + ">" + to], result: ef_convertUnit(amount, from, to, c.digits) };
  });
  const why = results.map((r) => r.amount + " " + r.from + " = " + r.result + " " + r.to).join("; ");
  return { out: money && money.shape === "list" ? { to: to, results: results, count: results.length } : results[0], why: why };
}`,
  dates: `function ef_op_day(v, what) {
  const d = ef_isDay(v) ? ef_parseDay(v) : null;
  if (d === null) ef_fail(what + ' "' + v + '" is not a valid date (YYYY-MM-DD).');
  return d;
}
function ef_op_add_days(c) {
  const start = ef_op_day(c.get("date"), "date");
  const days = c.get("days");
  if (!Number.isInteger(days)) ef_fail("days must be a whole number.");
  return { out: { date: ef_formatDay(start), days: days, result: ef_formatDay(start + days), weekday: ef_weekdayOf(start + days) }, why: ef_formatDay(start) + " + " + days + " days" };
}
function ef_op_date_diff(c) {
  const r = c.has("range") ? c.get("range") : { start: c.get("start"), end: c.get("end") };
  const s = ef_op_day(r.start, "start"), e = ef_op_day(r.end, "end");
  return { out: { start: ef_formatDay(s), end: ef_formatDay(e), days: e - s, weeks: ef_roundTo((e - s) / 7, 2) }, why: "days from " + ef_formatDay(s) + " to " + ef_formatDay(e) };
}`,
  arithmetic: `function ef_op_arithmetic(c) {
  const ops = c.has("operands") ? c.get("operands") : [c.get("a"), c.get("b")];
  const a = c.num(ops[0], "the first operand"), b = c.num(ops[1], "the second operand");
  const op = c.choice("op", ["add", "subtract", "multiply", "divide"]);
  if (op === "divide" && b === 0) ef_fail("Cannot divide by zero.");
  return { out: { a: a, b: b, op: op, result: ef_arithmetic(a, b, op, c.digits) }, why: a + " " + op + " " + b };
}`,
  ranking: `function ef_op_items(c) {
  const items = c.get("items");
  if (!Array.isArray(items) || items.length === 0) ef_fail("Give at least one item.");
  items.forEach((it) => c.num(it.value, "value of " + it.label));
  return items;
}
function ef_op_compare(c) {
  const items = ef_op_items(c);
  const order = c.choice("order", ["highest", "lowest"]);
  const r = ef_compareItems(items, order, c.digits);
  return { out: { order: order, winner: r.winner, winner_value: r.winner_value, margin: r.margin, compared: items.length }, why: "the " + order + " of " + items.length + " values" };
}
function ef_op_sort(c) {
  const items = ef_op_items(c);
  const order = c.choice("order", ["ascending", "descending"]);
  const ranking = ef_rankItems(items, order).map((r, i) => ({ rank: i + 1, label: r.label, value: r.value }));
  return { out: { order: order, ranking: ranking, sequence: ef_sortSequence(items, order) }, why: "sorted " + items.length + " values " + order };
}`,
  aggregate: `function ef_op_aggregate(c) {
  const values = c.get("values");
  if (!Array.isArray(values) || values.length === 0) ef_fail("Give at least one value.");
  values.forEach((v) => c.num(v, "each value"));
  const op = c.choice("op", ["sum", "mean", "min", "max", "count"]);
  return { out: { op: op, count: values.length, result: ef_aggregateValues(values, op, c.digits) }, why: op + " of " + values.length + " values" };
}`,
};

/** Bookings, orders and reservations: they draw down stock kept in the state. */
export const ACTION_SOURCE = `function ef_act(args, state, cfg) {
  const rows = ef_rows(state, cfg.table);
  const keys = ef_keys(args, cfg.key, cfg.noun);
  const qty = args[cfg.quantity];
  if (!Number.isInteger(qty) || qty < 1) ef_fail(cfg.quantity + " must be a whole number of at least 1.");
  const guest = String(args[cfg.guest]).trim();
  if (guest === "") ef_fail(cfg.guest + " must not be empty.");
  const date = cfg.date ? args[cfg.date] : undefined;
  if (cfg.date && !ef_isDay(date)) ef_fail(cfg.date + ' "' + date + '" is not a valid date (YYYY-MM-DD).');
  const dry = cfg.opts.dry_run && args[cfg.opts.dry_run] === true;
  state.counters = state.counters || {};
  const results = keys.map((k) => {
    const rec = ef_row(rows, cfg.keyField, k, cfg.noun, cfg.suggest);
    const needed = cfg.usesQuantity ? qty : 1;
    if (rec[cfg.stock] < needed) ef_fail("Only " + rec[cfg.stock] + " left at " + rec[cfg.keyField] + "; cannot " + cfg.verb + ".");
    const out = { status: dry ? "quote" : "confirmed" };
    if (!dry) {
      rec[cfg.stock] -= needed;
      state.counters[cfg.prefix] = (state.counters[cfg.prefix] || 1000) + 1;
      out.confirmation = cfg.prefix + "-" + state.counters[cfg.prefix];
    }
    out[cfg.noun] = rec[cfg.keyField];
    out.guest = guest;
    out[cfg.quantity] = qty;
    if (cfg.date) out.date = date.trim();
    out.unit_price = rec[cfg.price];
    out.total = ef_arithmetic(qty, Number(rec[cfg.price]), "multiply", 2);
    out.currency = rec.currency;
    out[cfg.stock] = rec[cfg.stock];
    return out;
  });
  return ef_finish(cfg.key.shape === "list" ? { results: results, count: results.length } : results[0], args, cfg.opts, cfg.table);
}`;

/** Distractors: side information derived from a row's key, stable across calls. */
export const SIDEKICK_SOURCE = `function ef_side(args, state, cfg) {
  const rows = ef_rows(state, cfg.table);
  const results = ef_keys(args, cfg.key, cfg.noun).map((k) => {
    const rec = ef_row(rows, cfg.keyField, k, cfg.noun, cfg.suggest);
    const out = {};
    out[cfg.keyField] = rec[cfg.keyField];
    for (const f of cfg.fields) {
      const h = ef_hash(cfg.table + "|" + rec[cfg.keyField] + "|" + f.name);
      if (f.gen === "int") out[f.name] = f.min + (h % (f.max - f.min + 1));
      else if (f.gen === "float") out[f.name] = Math.round((f.min + ((h % 1000) / 1000) * (f.max - f.min)) * 10) / 10;
      else if (f.gen === "pick") out[f.name] = f.options[h % f.options.length];
      else if (f.gen === "bool") out[f.name] = h % 2 === 0;
      else if (f.gen === "time") out[f.name] = String(7 + (h % 5)).padStart(2, "0") + ":" + ["00", "15", "30", "45"][h % 4];
      else out[f.name] = f.options.filter((_, i) => (h >>> i) & 1).concat(f.options.slice(0, 1)).slice(0, 3);
    }
    return out;
  });
  return ef_finish(cfg.key.shape === "list" ? { results: results, count: results.length } : results[0], args, cfg.opts, cfg.table);
}`;
