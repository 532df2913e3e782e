// The Python the generated tools run when an environment is deployed as Python: the same helpers and engines
// as engine.ts and calc.ts, statement for statement, with JavaScript's semantics kept where Python's differ
// (Math.round, String(number), JSON.stringify, UTF-16 lengths, trim's whitespace, truthiness, integral floats),
// so every call's output is byte-identical to the JavaScript twin's; the gate checks that on every call it makes.

/** Helpers every environment gets; `ef_out` makes a return value print as the JavaScript runtime prints it. */
export const COMMON_PY = String.raw`import json, math, re

EF_WS = "\t\n\x0b\x0c\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
EF_SAFE = 9007199254740991

def ef_fail(message):
    raise ValueError(message)

def ef_trim(s):
    return s.strip(EF_WS)

def ef_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)

def ef_isInt(v):
    return ef_number(v) and (isinstance(v, int) or (math.isfinite(v) and v.is_integer()))

def ef_num_str(x):
    # ECMAScript Number::toString: Python's repr gives the same shortest digits, laid out differently.
    x = float(x)
    if x != x:
        return "NaN"
    if x in (math.inf, -math.inf):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    if x < 0:
        return "-" + ef_num_str(-x)
    mant, _, exp = repr(x).partition("e")
    whole, _, frac = mant.partition(".")
    digits = whole + frac
    point = len(whole) + (int(exp) if exp else 0)
    zeros = len(digits) - len(digits.lstrip("0"))
    digits = digits[zeros:].rstrip("0")
    point -= zeros
    k = len(digits)
    if k <= point <= 21:
        return digits + "0" * (point - k)
    if 0 < point <= 21:
        return digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return "0." + "0" * (-point) + digits
    e = point - 1
    return (digits if k == 1 else digits[0] + "." + digits[1:]) + "e" + ("+" if e >= 0 else "-") + str(abs(e))

def ef_str(v):
    # String(v) for a JSON value.
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if ef_number(v):
        return ef_num_str(v)
    if isinstance(v, list):
        return ",".join("" if x is None else ef_str(x) for x in v)
    if isinstance(v, dict):
        return "[object Object]"
    return v

def ef_arg_str(args, name):
    return ef_str(args[name]) if name in args else "undefined"

def ef_json(v):
    # JSON.stringify(v) without spaces.
    if v is None or v is True or v is False:
        return ef_str(v)
    if ef_number(v):
        return ef_num_str(v) if math.isfinite(v) else "null"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(ef_json(x) for x in v) + "]"
    return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + ef_json(x) for k, x in v.items()) + "}"

def ef_out(v):
    # JavaScript has one number type: an integral float within the safe range prints as an integer.
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return v if -EF_SAFE <= v <= EF_SAFE else float(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        return int(v) if v.is_integer() and -EF_SAFE <= v <= EF_SAFE else v
    if isinstance(v, list):
        return [ef_out(x) for x in v]
    return {k: ef_out(x) for k, x in v.items()}

def ef_in(v):
    # Arguments as JSON.parse gives them: integers beyond the safe range are doubles.
    if isinstance(v, int) and not isinstance(v, bool) and not -EF_SAFE <= v <= EF_SAFE:
        return float(v)
    if isinstance(v, list):
        return [ef_in(x) for x in v]
    if isinstance(v, dict):
        return {k: ef_in(x) for k, x in v.items()}
    return v

def ef_round(x):
    # Math.round: halves go up (Python's round() goes to even).
    if not math.isfinite(x):
        return x
    r = math.floor(x)
    return r + 1 if x - r >= 0.5 else r

def ef_units(s):
    b = s.encode("utf-16-le", "surrogatepass")
    return [b[i] | (b[i + 1] << 8) for i in range(0, len(b), 2)]

def ef_norm(v):
    return ef_trim(ef_str(v)).lower()

def ef_hash(s):
    h = 0x811c9dc5
    for u in ef_units(s):
        h = ((h ^ u) * 0x01000193) & 0xFFFFFFFF
    return h

def ef_distance(a, b):
    a = ef_units(a)
    b = ef_units(b)
    if abs(len(a) - len(b)) > 3:
        return 99
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i]
        for j in range(1, len(b) + 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (0 if a[i - 1] == b[j - 1] else 1)))
        prev = cur
    return prev[len(b)]

def ef_rows(state, table):
    rows = state.get(table)
    if not isinstance(rows, list):
        ef_fail("The " + table + " table is unavailable.")
    return rows

def ef_vocab(value, allowed, what):
    if not isinstance(value, str):
        ef_fail("Expected " + what + " to be a string, one of: " + ", ".join(allowed) + ".")
    w = ef_norm(value)
    for a in allowed:
        if a.lower() == w:
            return a
    ef_fail("Unknown " + what + ' "' + value + '". Expected one of: ' + ", ".join(allowed) + ".")

def ef_keys(args, key, noun):
    raw = args.get(key["name"])
    if key["shape"] == "list":
        keys = raw
    elif key["shape"] == "object":
        keys = [raw.get(key["inner"]) if isinstance(raw, dict) else None]
    else:
        keys = [raw]
    if not isinstance(keys, list) or len(keys) == 0:
        ef_fail("Give at least one " + noun + ".")
    for k in keys:
        if not isinstance(k, str) or ef_trim(k) == "":
            ef_fail("Each " + noun + " must be a non-empty string.")
    return keys

def ef_row(rows, key_field, value, noun, suggest):
    w = ef_norm(value)
    for r in rows:
        if ef_norm(r[key_field]) == w:
            return r
    near = None
    if suggest:
        best = max(2, len(ef_units(w)) // 6) + 1
        for r in rows:
            d = ef_distance(w, ef_norm(r[key_field]))
            if d < best:
                best = d
                near = r[key_field]
    ef_fail("No " + noun + " with " + key_field + ' "' + value + '" was found.' + (' Did you mean "' + ef_str(near) + '"?' if near else ""))

def ef_isDay(text):
    return isinstance(text, str) and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", ef_trim(text), re.ASCII) is not None

def ef_index(units, unit, start):
    for i in range(max(start, 0), len(units)):
        if units[i] == unit:
            return i
    return -1

def ef_isEmail(text):
    # Positions count UTF-16 units, as JavaScript's indexOf does.
    u = ef_units(text)
    at = ef_index(u, 64, 0)
    if at < 1 or ef_index(u, 64, at + 1) != -1 or any(ch in EF_WS for ch in text):
        return False
    dot = ef_index(u, 46, at + 2)
    return dot != -1 and dot < len(u) - 1

def ef_finish(out, args, opts, source):
    as_of = opts.get("as_of")
    email = opts.get("contact_email")
    if as_of and as_of in args and not ef_isDay(args[as_of]):
        ef_fail(as_of + " must be a date written YYYY-MM-DD.")
    if email and email in args and not ef_isEmail(ef_str(args[email])):
        ef_fail(email + " does not look like an email address.")
    if isinstance(out, dict):
        if opts.get("request_id") and opts["request_id"] in args:
            out["request_id"] = args[opts["request_id"]]
        if as_of and as_of in args:
            out["as_of"] = ef_trim(args[as_of])
        if opts.get("notes") and opts["notes"] in args:
            out["notes"] = args[opts["notes"]]
        if opts.get("include_metadata") and args.get(opts["include_metadata"]) is True:
            out["_meta"] = {"source": source + " registry", "revision": (ef_hash(ef_json(out)) % 40) + 1}
    if opts.get("response_format") and args.get(opts["response_format"]) == "text":
        return "; ".join(k + ": " + (x if isinstance(x, str) else ef_json(x)) for k, x in out.items())
    return out`;

/** Reads rows: one record, one attribute, or several records at once. */
export const LOOKUP_PY = String.raw`def ef_lookup(args, state, cfg):
    nouns = list(cfg["tables"].keys())
    noun = ef_vocab(args.get(cfg["kind"]), nouns, cfg["kind"]) if cfg["kind"] else nouns[0]
    t = cfg["tables"][noun]
    rows = ef_rows(state, t["table"])
    asked = None
    if cfg["field"] and args.get(cfg["field"]) is not None:
        first = rows[0] if len(rows) > 0 else {}
        asked = ef_vocab(args[cfg["field"]], [k for k in first.keys() if k != t["key"]], cfg["field"] + " of " + noun)
    field = cfg.get("fixed") or asked
    results = []
    for k in ef_keys(args, cfg["key"], noun + " " + t["key"]):
        rec = ef_row(rows, t["key"], k, noun, cfg["suggest"])
        out = {"record_type": noun} if cfg["kind"] else {}
        if not field:
            out.update(rec)
        else:
            out[t["key"]] = rec[t["key"]]
            out[field] = rec.get(field)
        results.append(out)
    return ef_finish({"results": results, "count": len(results)} if cfg["key"]["shape"] == "list" else results[0], args, cfg["opts"], t["table"])`;

/** The computing tools' dispatcher; `c` carries what the JavaScript closure captures. */
export const COMPUTE_PY = String.raw`def ef_c_get(c, role):
    p = c["cfg"]["p"].get(role)
    v = c["args"].get(p["name"]) if p else None
    if v is None:
        ef_fail("Missing " + ('"' + p["name"] + '"' if p else role) + " for " + c["label"] + ".")
    return v

def ef_c_num(v, what):
    if not ef_number(v) or not math.isfinite(v):
        ef_fail(what + " must be a number.")
    return v

def ef_c_choice(c, role, allowed):
    fixed = c["cfg"].get("fixed") or {}
    if role in fixed:
        return fixed[role]
    p = c["cfg"]["p"].get(role)
    return ef_vocab(ef_c_get(c, role), allowed, p["name"] if p else role)

def ef_compute(args, state, cfg):
    kind = cfg["ops"][0]
    if len(cfg["ops"]) > 1:
        what = cfg["p"]["operation"]["name"]
        name = ef_vocab(args.get(what), [cfg["names"][k] for k in cfg["ops"]], what)
        kind = [k for k in cfg["ops"] if cfg["names"][k] == name][0]
    precision = cfg["opts"].get("precision")
    c = {"args": args, "state": state, "cfg": cfg, "label": cfg["names"][kind], "digits": args[precision] if precision and precision in args else 2}
    if kind in ("convert_currency", "convert_unit"):
        r = ef_op_convert(c)
    elif kind == "add_days":
        r = ef_op_add_days(c)
    elif kind == "date_diff":
        r = ef_op_date_diff(c)
    elif kind == "subtract":
        r = ef_op_arithmetic(c)
    elif kind == "compare":
        r = ef_op_compare(c)
    elif kind == "sort":
        r = ef_op_sort(c)
    else:
        r = ef_op_aggregate(c)
    explain = cfg["opts"].get("explain")
    if explain and args.get(explain) is True:
        r["out"]["explanation"] = r["why"]
    return ef_finish(r["out"], args, cfg["opts"], "calculator")`;

/** One handler per kind of computation, as COMPUTE_PARTS. */
export const COMPUTE_PARTS_PY: Record<string, string> = {
  convert: String.raw`def ef_unit_factors():
    try:
        return ef_UNIT_FACTORS
    except NameError:
        return None

def ef_op_convert(c):
    rates = c["state"].get("exchange_rates") or {}
    money = c["cfg"]["p"].get("money")
    codes = c["cfg"]["codes"]
    if money:
        given = ef_c_get(c, "money") if money["shape"] == "list" else [ef_c_get(c, "money")]
        entries = [{"amount": e.get("amount"), "from": e.get(money["inner"][1])} for e in given]
    else:
        amount = ef_c_get(c, "amount")
        entries = [{"amount": amount, "from": ef_c_choice(c, "from", codes)}]
    to = ef_c_choice(c, "to", codes)
    results = []
    for e in entries:
        amount = ef_c_num(e["amount"], "amount")
        frm = ef_vocab(e["from"], codes, "unit")
        if frm in rates and to in rates:
            results.append({"amount": amount, "from": frm, "to": to, "rate": ef_roundTo(rates[to] / rates[frm], 6), "result": ef_convertCurrency(amount, frm, to, rates, c["digits"])})
            continue
        factors = ef_unit_factors()
        if factors is None or (frm + ">" + to) not in factors:
            ef_fail("Cannot convert " + frm + " to " + to + ".")
        results.append({"amount": amount, "from": frm, "to": to, "factor": factors[frm + ">" + to], "result": ef_convertUnit(amount, frm, to, c["digits"])})
    why = "; ".join(ef_str(r["amount"]) + " " + r["from"] + " = " + ef_str(r["result"]) + " " + r["to"] for r in results)
    return {"out": {"to": to, "results": results, "count": len(results)} if money and money["shape"] == "list" else results[0], "why": why}`,
  dates: String.raw`def ef_op_day(v, what):
    d = ef_parseDay(v) if ef_isDay(v) else None
    if d is None:
        ef_fail(what + ' "' + ef_str(v) + '" is not a valid date (YYYY-MM-DD).')
    return d

def ef_op_add_days(c):
    start = ef_op_day(ef_c_get(c, "date"), "date")
    days = ef_c_get(c, "days")
    if not ef_isInt(days):
        ef_fail("days must be a whole number.")
    return {"out": {"date": ef_formatDay(start), "days": days, "result": ef_formatDay(start + days), "weekday": ef_weekdayOf(start + days)}, "why": ef_formatDay(start) + " + " + ef_str(days) + " days"}

def ef_op_date_diff(c):
    r = ef_c_get(c, "range") if "range" in c["cfg"]["p"] else {"start": ef_c_get(c, "start"), "end": ef_c_get(c, "end")}
    s = ef_op_day(r.get("start"), "start")
    e = ef_op_day(r.get("end"), "end")
    return {"out": {"start": ef_formatDay(s), "end": ef_formatDay(e), "days": e - s, "weeks": ef_roundTo((e - s) / 7, 2)}, "why": "days from " + ef_formatDay(s) + " to " + ef_formatDay(e)}`,
  arithmetic: String.raw`def ef_op_arithmetic(c):
    ops = ef_c_get(c, "operands") if "operands" in c["cfg"]["p"] else [ef_c_get(c, "a"), ef_c_get(c, "b")]
    a = ef_c_num(ops[0] if len(ops) > 0 else None, "the first operand")
    b = ef_c_num(ops[1] if len(ops) > 1 else None, "the second operand")
    op = ef_c_choice(c, "op", ["add", "subtract", "multiply", "divide"])
    if op == "divide" and b == 0:
        ef_fail("Cannot divide by zero.")
    return {"out": {"a": a, "b": b, "op": op, "result": ef_arithmetic(a, b, op, c["digits"])}, "why": ef_str(a) + " " + op + " " + ef_str(b)}`,
  ranking: String.raw`def ef_op_items(c):
    items = ef_c_get(c, "items")
    if not isinstance(items, list) or len(items) == 0:
        ef_fail("Give at least one item.")
    for it in items:
        ef_c_num(it.get("value"), "value of " + ef_arg_str(it, "label"))
    return items

def ef_op_compare(c):
    items = ef_op_items(c)
    order = ef_c_choice(c, "order", ["highest", "lowest"])
    r = ef_compareItems(items, order, c["digits"])
    return {"out": {"order": order, "winner": r["winner"], "winner_value": r["winner_value"], "margin": r["margin"], "compared": len(items)}, "why": "the " + order + " of " + str(len(items)) + " values"}

def ef_op_sort(c):
    items = ef_op_items(c)
    order = ef_c_choice(c, "order", ["ascending", "descending"])
    ranking = [{"rank": i + 1, "label": r["label"], "value": r["value"]} for i, r in enumerate(ef_rankItems(items, order))]
    return {"out": {"order": order, "ranking": ranking, "sequence": ef_sortSequence(items, order)}, "why": "sorted " + str(len(items)) + " values " + order}`,
  aggregate: String.raw`def ef_op_aggregate(c):
    values = ef_c_get(c, "values")
    if not isinstance(values, list) or len(values) == 0:
        ef_fail("Give at least one value.")
    for v in values:
        ef_c_num(v, "each value")
    op = ef_c_choice(c, "op", ["sum", "mean", "min", "max", "count"])
    return {"out": {"op": op, "count": len(values), "result": ef_aggregateValues(values, op, c["digits"])}, "why": op + " of " + str(len(values)) + " values"}`,
};

/** Bookings, orders and reservations, as ACTION_SOURCE. */
export const ACTION_PY = String.raw`def ef_act(args, state, cfg):
    rows = ef_rows(state, cfg["table"])
    keys = ef_keys(args, cfg["key"], cfg["noun"])
    qty = args.get(cfg["quantity"])
    if not ef_isInt(qty) or qty < 1:
        ef_fail(cfg["quantity"] + " must be a whole number of at least 1.")
    guest = ef_trim(ef_arg_str(args, cfg["guest"]))
    if guest == "":
        ef_fail(cfg["guest"] + " must not be empty.")
    date = args.get(cfg["date"]) if cfg["date"] else None
    if cfg["date"] and not ef_isDay(date):
        ef_fail(cfg["date"] + ' "' + ef_arg_str(args, cfg["date"]) + '" is not a valid date (YYYY-MM-DD).')
    dry = bool(cfg["opts"].get("dry_run")) and args.get(cfg["opts"]["dry_run"]) is True
    if state.get("counters") is None:
        state["counters"] = {}
    counters = state["counters"]
    results = []
    for k in keys:
        rec = ef_row(rows, cfg["keyField"], k, cfg["noun"], cfg["suggest"])
        needed = qty if cfg["usesQuantity"] else 1
        if rec[cfg["stock"]] < needed:
            ef_fail("Only " + ef_str(rec[cfg["stock"]]) + " left at " + ef_str(rec[cfg["keyField"]]) + "; cannot " + cfg["verb"] + ".")
        out = {"status": "quote" if dry else "confirmed"}
        if not dry:
            rec[cfg["stock"]] -= needed
            counters[cfg["prefix"]] = (counters.get(cfg["prefix"]) or 1000) + 1
            out["confirmation"] = cfg["prefix"] + "-" + ef_str(counters[cfg["prefix"]])
        out[cfg["noun"]] = rec[cfg["keyField"]]
        out["guest"] = guest
        out[cfg["quantity"]] = qty
        if cfg["date"]:
            out["date"] = ef_trim(date)
        out["unit_price"] = rec[cfg["price"]]
        out["total"] = ef_arithmetic(qty, rec[cfg["price"]], "multiply", 2)
        if "currency" in rec:
            out["currency"] = rec["currency"]
        out[cfg["stock"]] = rec[cfg["stock"]]
        results.append(out)
    return ef_finish({"results": results, "count": len(results)} if cfg["key"]["shape"] == "list" else results[0], args, cfg["opts"], cfg["table"])`;

/** Distractors, as SIDEKICK_SOURCE. */
export const SIDEKICK_PY = String.raw`def ef_side(args, state, cfg):
    rows = ef_rows(state, cfg["table"])
    results = []
    for k in ef_keys(args, cfg["key"], cfg["noun"]):
        rec = ef_row(rows, cfg["keyField"], k, cfg["noun"], cfg["suggest"])
        out = {cfg["keyField"]: rec[cfg["keyField"]]}
        for f in cfg["fields"]:
            h = ef_hash(cfg["table"] + "|" + ef_str(rec[cfg["keyField"]]) + "|" + f["name"])
            gen = f["gen"]
            if gen == "int":
                out[f["name"]] = f["min"] + (h % (f["max"] - f["min"] + 1))
            elif gen == "float":
                out[f["name"]] = ef_round((f["min"] + ((h % 1000) / 1000) * (f["max"] - f["min"])) * 10) / 10
            elif gen == "pick":
                out[f["name"]] = f["options"][h % len(f["options"])]
            elif gen == "bool":
                out[f["name"]] = h % 2 == 0
            elif gen == "time":
                out[f["name"]] = str(7 + (h % 5)).rjust(2, "0") + ":" + ["00", "15", "30", "45"][h % 4]
            else:
                options = f["options"]
                out[f["name"]] = ([o for i, o in enumerate(options) if (h >> (i % 32)) & 1] + options[:1])[:3]
        results.append(out)
    return ef_finish({"results": results, "count": len(results)} if cfg["key"]["shape"] == "list" else results[0], args, cfg["opts"], cfg["table"])`;

/** calc.ts's CALC_PARTS in Python (Math.round itself, `ef_round`, is in COMMON_PY: the distractors use it too). */
export const CALC_PARTS_PY: Record<string, string> = {
  round: String.raw`def ef_roundTo(x, digits):
    f = math.pow(10, digits)
    return ef_round(x * f) / f`,
  currency: String.raw`def ef_convertCurrency(amount, frm, to, rates, digits):
    return ef_roundTo((amount / rates[frm]) * rates[to], digits)`,
  units: String.raw`ef_UNIT_FACTORS = {"km>mi": 0.621371, "mi>km": 1.609344, "m>ft": 3.28084, "ft>m": 0.3048, "kg>lb": 2.20462, "lb>kg": 0.453592, "km2>mi2": 0.386102, "mi2>km2": 2.589988}

def ef_convertUnit(value, frm, to, digits):
    return ef_roundTo(value * ef_UNIT_FACTORS[frm + ">" + to], digits)`,
  dates: String.raw`def ef_daysFromCivil(y, m, d):
    y -= 1 if m <= 2 else 0
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468

def ef_parseDay(text):
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", ef_trim(ef_str(text)), re.ASCII)
    if m is None:
        return None
    days = ef_daysFromCivil(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return days if ef_formatDay(days) == m.group(0) else None

def ef_formatDay(days):
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    y = yoe + era * 400 + (1 if m <= 2 else 0)
    return ef_str(y).rjust(4, "0") + "-" + ef_str(m).rjust(2, "0") + "-" + ef_str(d).rjust(2, "0")

def ef_weekdayOf(days):
    return ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"][int((days + 4) % 7)]`,
  ranking: String.raw`def ef_rankItems(items, order):
    sign = 1 if order in ("ascending", "lowest") else -1
    ranked = [{"label": it.get("label"), "value": it["value"], "i": i} for i, it in enumerate(items)]
    return sorted(ranked, key=lambda r: (sign * r["value"], r["i"]))

def ef_compareItems(items, order, digits):
    ranked = ef_rankItems(items, order)
    first = ranked[0]
    second = ranked[1] if len(ranked) > 1 else None
    return {"winner": first["label"], "winner_value": first["value"], "margin": ef_roundTo(abs(first["value"] - second["value"]), digits) if second else 0}

def ef_sortSequence(items, order):
    return (" < " if order == "ascending" else " > ").join("" if r["label"] is None else ef_str(r["label"]) for r in ef_rankItems(items, order))`,
  aggregate: String.raw`def ef_aggregateValues(values, op, digits):
    total = 0.0
    for v in values:
        total += v
    if op == "sum":
        return ef_roundTo(total, digits)
    if op == "mean":
        return ef_roundTo(total / len(values), digits)
    if op == "max":
        return max(values)
    if op == "min":
        return min(values)
    return len(values)`,
  arithmetic: String.raw`def ef_arithmetic(a, b, op, digits):
    if op == "add":
        return ef_roundTo(a + b, digits)
    if op == "subtract":
        return ef_roundTo(a - b, digits)
    if op == "multiply":
        return ef_roundTo(a * b, digits)
    return ef_roundTo(a / b, digits)`,
};

/** write-source.ts's WRITE_PRELUDE in Python: look-ups and the four ways of changing a booking (uses COMMON_PY). */
export const WRITE_PY = String.raw`def ew_money(x):
    return ef_round(x * 100) / 100

def ew_text(v, what):
    if not isinstance(v, str) or ef_trim(v) == "":
        ef_fail("Give " + what + " as a non-empty string.")
    return v

def ew_count(v, what):
    if not ef_isInt(v) or v < 1:
        ef_fail(what + " must be a whole number of at least 1.")
    return v

def ew_venue(state, c, name):
    ew_text(name, "the " + c["venue"])
    for v in state["venues"]:
        if ef_norm(v["name"]) == ef_norm(name):
            return v
    ef_fail("No " + c["venue"] + ' named "' + name + '" was found.')

def ew_booking(state, c, id):
    ew_text(id, "the " + c["booking"] + " id")
    for b in state["bookings"]:
        if ef_norm(b["id"]) == ef_norm(id):
            if b["status"] == "cancelled":
                ef_fail("The " + c["booking"] + " " + b["id"] + " is already cancelled; nothing was changed.")
            return b
    ef_fail("No " + c["booking"] + ' with id "' + id + '" was found.')

def ew_find(args, state, c):
    who = ef_norm(ew_text(args.get("customer"), "the customer's name"))
    found = [b for b in state["bookings"] if ef_norm(b["customer"]) == who]
    if len(found) == 0:
        ef_fail("No " + c["booking"] + 's under the name "' + args["customer"] + '".')
    rows = [{c["idArg"]: b["id"], c["venue"]: b["venue"], c["qty"]: b["quantity"], "date": b["date"], "status": b["status"], "total": b["total"]} for b in found]
    return {"customer": found[0]["customer"], c["booking"] + "s": rows}

def ew_get(args, state, c):
    v = ew_venue(state, c, args.get(c["venue"]))
    return {c["venue"]: v["name"], "city": v["city"], c["price"]: v["price"], c["available"]: v["available"]}

def ew_cancel(args, state, c):
    b = ew_booking(state, c, args.get(c["idArg"]))
    v = ew_venue(state, c, b["venue"])
    v["available"] += b["quantity"]
    b["status"] = "cancelled"
    return {c["idArg"]: b["id"], "status": "cancelled", "refund": b["total"]}

def ew_change(args, state, c):
    b = ew_booking(state, c, args.get(c["idArg"]))
    q = ew_count(args.get(c["qty"]), c["qty"])
    v = ew_venue(state, c, b["venue"])
    if q - b["quantity"] > v["available"]:
        ef_fail("Only " + ef_str(v["available"]) + " more " + c["qty"] + " are available at " + v["name"] + "; nothing was changed.")
    v["available"] -= q - b["quantity"]
    before = b["total"]
    b["quantity"] = q
    b["total"] = ew_money(q * v["price"])
    return {c["idArg"]: b["id"], c["qty"]: q, "total": b["total"], "difference": ew_money(b["total"] - before)}

def ew_return(args, state, c):
    b = ew_booking(state, c, args.get(c["idArg"]))
    k = ew_count(args.get(c["qty"]), c["qty"])
    if k > b["quantity"]:
        ef_fail("The " + c["booking"] + " " + b["id"] + " holds only " + ef_str(b["quantity"]) + " " + c["qty"] + "; nothing was returned.")
    v = ew_venue(state, c, b["venue"])
    refund = ew_money(k * v["price"])
    v["available"] += k
    b["quantity"] -= k
    b["total"] = ew_money(b["total"] - refund)
    b["status"] = "returned" if b["quantity"] == 0 else "partly returned"
    return {c["idArg"]: b["id"], "returned": k, "refund": refund, c["qty"] + "_kept": b["quantity"]}

def ew_create(args, state, c):
    v = ew_venue(state, c, args.get(c["venue"]))
    who = ef_trim(ew_text(args.get("customer"), "the customer's name"))
    q = ew_count(args.get(c["qty"]), c["qty"])
    date = ef_trim(ew_text(args.get("date"), "the date"))
    if not ef_isDay(date):
        ef_fail("date must be written YYYY-MM-DD.")
    if q > v["available"]:
        ef_fail("Only " + ef_str(v["available"]) + " " + c["qty"] + " are available at " + v["name"] + ".")
    known = next((b for b in state["bookings"] if ef_norm(b["customer"]) == ef_norm(who)), None)
    id = c["prefix"] + "-" + ef_str(state["counters"][c["prefix"]])
    state["counters"][c["prefix"]] += 1
    v["available"] -= q
    total = ew_money(q * v["price"])
    state["bookings"].append({"id": id, "customer": known["customer"] if known else who, "venue": v["name"], "quantity": q, "date": date, "status": "confirmed", "total": total})
    return {c["idArg"]: id, c["venue"]: v["name"], c["qty"]: q, "date": date, "total": total}`;

/** A JSON value written as a Python literal (JSON's string escapes are Python's too). */
export function pyLiteral(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (Array.isArray(value)) return `[${value.map(pyLiteral).join(", ")}]`;
  if (typeof value === "object") return `{${Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => `${JSON.stringify(k)}: ${pyLiteral(v)}`).join(", ")}}`;
  return JSON.stringify(value);
}

/**
 * One deployed Python tool, FTRL-style: the arguments arrive as keywords and the outputs print as the
 * JavaScript twin's. The runtime passes the episode's state as `data`; called alone, as the reference's
 * executor calls a row's codes (`name(**arguments)`), the tool reads its own copy of the state it uses.
 */
export function pythonToolSource(fn: string, engine: string, cfg: unknown, own: Record<string, unknown>): string {
  return `EF_CFG_${fn} = ${pyLiteral(cfg)}\nEF_STATE_${fn} = ${pyLiteral(own)}\n\n\ndef ${fn}(data=None, **params):\n    return ef_out(${engine}(ef_in(params), EF_STATE_${fn} if data is None else data, EF_CFG_${fn}))\n`;
}
