// The JavaScript that write-task environments run in the sandbox: look-ups, and the four ways of changing a booking.
//
// The state is generic (venues with a price and availability, bookings with a quantity, date, status and
// total); each tool gets its domain's words through its configuration, so the agent reads "order",
// "units" and "product" in retail and "reservation", "nights" and "hotel" in hotels.

export const WRITE_PRELUDE = `
function ew_fail(message) {
  throw new Error(message);
}
function ew_norm(v) {
  return String(v).trim().toLowerCase();
}
function ew_money(x) {
  return Math.round(x * 100) / 100;
}
function ew_text(v, what) {
  if (typeof v !== "string" || v.trim() === "") ew_fail("Give " + what + " as a non-empty string.");
  return v;
}
function ew_count(v, what) {
  if (!Number.isInteger(v) || v < 1) ew_fail(what + " must be a whole number of at least 1.");
  return v;
}
function ew_venue(state, c, name) {
  ew_text(name, "the " + c.venue);
  for (const v of state.venues) if (ew_norm(v.name) === ew_norm(name)) return v;
  ew_fail("No " + c.venue + ' named "' + name + '" was found.');
}
function ew_booking(state, c, id) {
  ew_text(id, "the " + c.booking + " id");
  for (const b of state.bookings) if (ew_norm(b.id) === ew_norm(id)) {
    if (b.status === "cancelled") ew_fail("The " + c.booking + " " + b.id + " is already cancelled; nothing was changed.");
    return b;
  }
  ew_fail("No " + c.booking + ' with id "' + id + '" was found.');
}
function ew_find(args, state, c) {
  const who = ew_norm(ew_text(args.customer, "the customer's name"));
  const list = state.bookings.filter((b) => ew_norm(b.customer) === who);
  if (list.length === 0) ew_fail("No " + c.booking + 's under the name "' + args.customer + '".');
  const rows = list.map((b) => ({ [c.idArg]: b.id, [c.venue]: b.venue, [c.qty]: b.quantity, date: b.date, status: b.status, total: b.total }));
  return { customer: list[0].customer, [c.booking + "s"]: rows };
}
function ew_get(args, state, c) {
  const v = ew_venue(state, c, args[c.venue]);
  return { [c.venue]: v.name, city: v.city, [c.price]: v.price, [c.available]: v.available };
}
function ew_cancel(args, state, c) {
  const b = ew_booking(state, c, args[c.idArg]);
  const v = ew_venue(state, c, b.venue);
  v.available += b.quantity;
  b.status = "cancelled";
  return { [c.idArg]: b.id, status: "cancelled", refund: b.total };
}
function ew_change(args, state, c) {
  const b = ew_booking(state, c, args[c.idArg]);
  const q = ew_count(args[c.qty], c.qty);
  const v = ew_venue(state, c, b.venue);
  if (q - b.quantity > v.available) ew_fail("Only " + v.available + " more " + c.qty + " are available at " + v.name + "; nothing was changed.");
  v.available -= q - b.quantity;
  const before = b.total;
  b.quantity = q;
  b.total = ew_money(q * v.price);
  return { [c.idArg]: b.id, [c.qty]: q, total: b.total, difference: ew_money(b.total - before) };
}
function ew_return(args, state, c) {
  const b = ew_booking(state, c, args[c.idArg]);
  const k = ew_count(args[c.qty], c.qty);
  if (k > b.quantity) ew_fail("The " + c.booking + " " + b.id + " holds only " + b.quantity + " " + c.qty + "; nothing was returned.");
  const v = ew_venue(state, c, b.venue);
  const refund = ew_money(k * v.price);
  v.available += k;
  b.quantity -= k;
  b.total = ew_money(b.total - refund);
  b.status = b.quantity === 0 ? "returned" : "partly returned";
  return { [c.idArg]: b.id, returned: k, refund: refund, [c.qty + "_kept"]: b.quantity };
}
function ew_create(args, state, c) {
  const v = ew_venue(state, c, args[c.venue]);
  const who = ew_text(args.customer, "the customer's name").trim();
  const q = ew_count(args[c.qty], c.qty);
  const date = ew_text(args.date, "the date").trim();
  if (!/^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$/.test(date)) ew_fail("date must be written YYYY-MM-DD.");
  if (q > v.available) ew_fail("Only " + v.available + " " + c.qty + " are available at " + v.name + ".");
  const known = state.bookings.find((b) => ew_norm(b.customer) === ew_norm(who));
  const id = c.prefix + "-" + state.counters[c.prefix];
  state.counters[c.prefix] += 1;
  v.available -= q;
  const total = ew_money(q * v.price);
  state.bookings.push({ id, customer: known ? known.customer : who, venue: v.name, quantity: q, date, status: "confirmed", total });
  return { [c.idArg]: id, [c.venue]: v.name, [c.qty]: q, date, total };
}
`;

/** One tool's source: its engine function called with the domain's words. */
export function writeToolSource(name: string, engine: string, cfg: Record<string, string>): string {
  return `function ${name}(args, state) {\n  return ${engine}(args, state, ${JSON.stringify(cfg)});\n}`;
}
