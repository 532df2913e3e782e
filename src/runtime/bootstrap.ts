// The JavaScript evaluated first in every episode's sandbox: seeded Math.random, a silent console, and the call dispatcher.

/**
 * Evaluates to an object of functions the host keeps handles to. Everything the dispatcher
 * relies on is captured here, before any environment code runs, so a tool that replaces
 * `JSON` or `Math` later changes only what the tool itself sees.
 *
 * The dispatcher answers every call with one string whose first character says what
 * happened, so a call costs one string in and one string out across the boundary:
 *   j<json>   the tool returned this JSON value     e<json>   it threw: the message, as a JSON string
 *   u<text>   its return value is not JSON          l<n>      the output has n characters, too many
 *   m<text>   it ran out of memory                  o<text>   it overflowed the stack
 *   p         it returned a promise (settle later)
 * Strings and messages cross as JSON because JSON.stringify escapes lone surrogates, which
 * the UTF-8 the boundary uses cannot carry.
 */
export const BOOTSTRAP = String.raw`(function () {
  "use strict";
  var g = globalThis;
  var parse = JSON.parse, stringify = JSON.stringify;
  var InternalErr = g.InternalError, SyntaxErr = SyntaxError, Err = Error, Prom = Promise;
  var resolve = Promise.resolve.bind(Promise);
  var floor = Math.floor;
  var tools = [];
  var state = null;
  var pending = null;
  var maxChars = 0;

  // sfc32: small, fast, and its whole state is four integers, so checkpoints can carry it.
  var a = 0, b = 0, c = 0, d = 0;
  function next() {
    var t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  }
  function seed(s) {
    a = 0x9e3779b9; b = s >>> 0; c = floor(s / 4294967296) >>> 0; d = 1;
    for (var i = 0; i < 15; i++) next();
  }
  Object.defineProperty(Math, "random", {
    value: function random() { return ((next() >>> 11) * 4294967296 + next()) / 9007199254740992; },
    writable: true, configurable: true, enumerable: false,
  });

  function noop() {}
  g.console = { log: noop, info: noop, warn: noop, error: noop, debug: noop, trace: noop };
  // Their timing depends on the garbage collector, which would make replays diverge.
  delete g.WeakRef;
  delete g.FinalizationRegistry;

  function message(e) {
    try {
      return e instanceof Err ? String(e.message) : String(e);
    } catch (_) {
      return "the tool threw a value that cannot be shown as text";
    }
  }
  function isLanguageValue(e) {
    switch (typeof e) {
      case "object": case "string": case "number": case "boolean": case "undefined": case "bigint": case "symbol": case "function":
        return true;
    }
    return false;
  }
  function failure(e) {
    // QuickJS throws null when it runs out of memory while building the error itself, and an
    // internal value (typeof "unknown") when a built-in fails an allocation without an error.
    if (e === null || !isLanguageValue(e)) return "mout of memory";
    if (e instanceof InternalErr && e.message === "out of memory") return "mout of memory";
    if ((e instanceof InternalErr || e instanceof SyntaxErr) && e.message === "stack overflow") return "ostack overflow";
    var m = message(e);
    return m.length > maxChars ? "l" + m.length : "e" + stringify(m);
  }
  function finish(r) {
    if (typeof r === "string" && r.length > maxChars) return "l" + r.length;
    if (r === undefined) return "uthe tool returned undefined; a tool must return a JSON value or throw an Error";
    if (typeof r === "function" || typeof r === "symbol") return "uthe tool returned a " + typeof r + "; a tool must return a JSON value";
    var j;
    try {
      j = stringify(r);
    } catch (e) {
      var f = failure(e);
      return f.charAt(0) === "e" ? "uthe tool's return value is not JSON: " + message(e) : f;
    }
    if (typeof j !== "string") return "uthe tool's return value is not JSON";
    // Python's text is never shorter than a sixth of the JSON (a lone surrogate: 6 characters
    // escaped, 1 raw), so only outputs that are surely too long are refused here; the host checks exactly.
    return j.length > 6 * maxChars ? "l" + j.length : "j" + j;
  }

  return {
    // Before the prelude, so its top-level code already draws seeded numbers.
    start: function (s, limit) {
      seed(s);
      maxChars = limit;
    },
    // After the tools: a checkpoint's generator position replaces the one the prelude left.
    install: function (checkpointJson) {
      var cp = parse(checkpointJson);
      state = cp.state;
      if (cp.rng) { a = cp.rng[0]; b = cp.rng[1]; c = cp.rng[2]; d = cp.rng[3]; }
    },
    register: function (name, fn) {
      if (typeof fn !== "function") throw new TypeError("the implementation must evaluate to a function, not " + (fn === null ? "null" : typeof fn));
      tools[tools.length] = fn;
      // Tools may call each other by name, as functions defined side by side can.
      if (!(name in g)) g[name] = fn;
    },
    call: function (i, argsJson) {
      pending = null;
      var fn = tools[i], r;
      try {
        // Called as a plain function, so "this" does not hand the tool the list of tools.
        r = fn(parse(argsJson), state);
      } catch (e) {
        return failure(e);
      }
      if (r instanceof Prom) {
        var out = "p";
        resolve(r).then(function (v) { out = finish(v); }, function (e) { out = failure(e); });
        pending = function () { return out; };
        return "p";
      }
      return finish(r);
    },
    settle: function () {
      var f = pending;
      pending = null;
      return f ? f() : "p";
    },
    save: function () {
      return stringify({ state: state, rng: [a, b, c, d] });
    },
  };
})()`;
