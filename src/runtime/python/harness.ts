// The Python side of the Python sandbox: the guard that checks tool code, the builtins and modules it may use, and the episode table.

/**
 * Runs once in each interpreter (inside its worker thread), before any tool code. Isolation
 * inside one CPython rests on three parts, all here:
 * - a compile-time guard over the tool code's syntax tree: no attribute or name starting with
 *   `__` (a short list of harmless dunders excepted), none of the frame, traceback, generator
 *   and code attributes that lead out of a function (`gi_frame`, `f_globals`, `tb_frame`...),
 *   no bare `except:` or `except BaseException` (so the deadline's interrupt cannot be
 *   swallowed), and attribute writes only on objects the tool code created itself;
 * - builtins without `open`, `eval`, `exec`, `compile`, `input`, `vars`, `globals`, `breakpoint`,
 *   `help`, `exit`; `getattr`/`setattr`/`delattr`/`hasattr` that apply the same rules at run
 *   time; an `__import__` that only hands out fresh per-episode copies of a list of pure
 *   modules (json, math, re, collections, ...), each holding only its public non-module names,
 *   with `random` seeded per episode and `time`/`datetime` pinned to 2025-01-01T00:00:00Z;
 * - one namespace per episode (prelude and tools evaluated afresh), one `random.Random`, one
 *   copy of the state; nothing an episode can reach is shared with another and writable.
 * The interpreter itself is CPython compiled to WebAssembly: no file system but its own
 * in-memory one, no network, no processes; its `js` module is an empty object and the FFI
 * modules are removed from `sys.modules` and from the import path.
 */
export const HARNESS_PY = String.raw`
import ast, builtins, json, sys, types, copy, decimal, math, re, random as _random, time as _time, datetime as _dt
import annotationlib

EPOCH = 1735689600.0
NS = "__envforge_tools__"

# Dunders the guard lets tool code name: special-method definitions and harmless reads.
SAFE_DUNDERS = frozenset("""__init__ __name__ __qualname__ __doc__ __str__ __repr__ __len__ __eq__ __ne__ __hash__
__lt__ __le__ __gt__ __ge__ __iter__ __next__ __contains__ __getitem__ __setitem__ __delitem__ __enter__ __exit__
__post_init__ __bool__ __add__ __sub__ __mul__ __truediv__ __floordiv__ __mod__ __neg__ __abs__ __format__
__missing__ __call__ __new__ __slots__""".split())
# Attributes that reach frames, code objects and callers' globals without a dunder.
FORBIDDEN = frozenset("""f_back f_globals f_locals f_builtins f_code f_trace f_lasti f_lineno f_generator
tb_frame tb_next tb_lasti tb_lineno gi_frame gi_code gi_yieldfrom gi_running gi_suspended cr_frame cr_code cr_await
cr_origin cr_running cr_suspended ag_frame ag_code ag_await ag_running co_code co_consts co_names mro""".split())

class GuardError(Exception):
    pass

def allowed_name(name):
    if name in FORBIDDEN:
        return False
    return not name.startswith("__") or name in SAFE_DUNDERS

class Guard(ast.NodeTransformer):
    """Rejects what leads out of the sandbox, and routes attribute writes through a check."""
    def __init__(self, filename):
        self.filename = filename
        self.problems = []

    def bad(self, node, message):
        self.problems.append("%s:%d: %s" % (self.filename, getattr(node, "lineno", 0), message))

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if not allowed_name(node.attr):
            self.bad(node, "attribute %r is not allowed in sandboxed code" % node.attr)
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            node.value = ast.copy_location(ast.Call(ast.Name("__ef_writable__", ast.Load()), [node.value], []), node.value)
        return node

    def visit_Name(self, node):
        if node.id.startswith("__") and node.id not in ("__name__", "__doc__"):
            self.bad(node, "name %r is not allowed in sandboxed code" % node.id)
        return node

    def visit_MatchClass(self, node):
        self.generic_visit(node)
        for name in node.kwd_attrs:
            if not allowed_name(name):
                self.bad(node, "attribute %r is not allowed in sandboxed code" % name)
        return node

    def visit_ExceptHandler(self, node):
        self.generic_visit(node)
        names = []
        if node.type is None:
            self.bad(node, "a bare 'except:' is not allowed in sandboxed code; catch Exception")
        elif isinstance(node.type, ast.Name):
            names = [node.type.id]
        elif isinstance(node.type, ast.Tuple):
            names = [e.id for e in node.type.elts if isinstance(e, ast.Name)]
        for n in names:
            if n in ("BaseException", "KeyboardInterrupt", "SystemExit", "GeneratorExit", "BaseExceptionGroup"):
                self.bad(node, "catching %s is not allowed in sandboxed code; catch Exception" % n)
        return node

    def visit_ImportFrom(self, node):
        if node.level:
            self.bad(node, "relative imports are not allowed in sandboxed code")
        return node

def guard(source, filename):
    """Parses and checks one piece of tool code; returns (code object, problems)."""
    try:
        tree = ast.parse(source, filename, "exec")
    except SyntaxError as e:
        return None, ["%s:%s: SyntaxError: %s" % (filename, e.lineno, e.msg)]
    g = Guard(filename)
    tree = g.visit(tree)
    if g.problems:
        return None, g.problems
    ast.fix_missing_locations(tree)
    return compile(tree, filename, "exec", dont_inherit=True), []

# ---------------------------------------------------------------- run-time checks

def ours(obj):
    """Objects the tool code made: classes and functions defined in an episode namespace, and their instances."""
    if isinstance(obj, types.ModuleType):
        return False
    if isinstance(obj, type):
        return obj.__module__ == NS
    if isinstance(obj, types.FunctionType):
        return obj.__module__ == NS
    return type(obj).__module__ == NS

def ef_writable(obj):
    if not ours(obj):
        raise TypeError("cannot set or delete attributes of %s objects in sandboxed code" % type(obj).__name__)
    return obj

def safe_getattr(obj, name, *default):
    if not isinstance(name, str) or not allowed_name(name):
        raise AttributeError("attribute %r is not allowed in sandboxed code" % (name,))
    return getattr(obj, name, *default)

def safe_hasattr(obj, name):
    if not isinstance(name, str) or not allowed_name(name):
        return False
    return hasattr(obj, name)

def safe_setattr(obj, name, value):
    if not isinstance(name, str) or not allowed_name(name):
        raise AttributeError("attribute %r is not allowed in sandboxed code" % (name,))
    setattr(ef_writable(obj), name, value)

def safe_delattr(obj, name):
    if not isinstance(name, str) or not allowed_name(name):
        raise AttributeError("attribute %r is not allowed in sandboxed code" % (name,))
    delattr(ef_writable(obj), name)

def quiet_print(*args, **kwargs):
    return None

# Strings evaluated as code would skip the guard: forward references are never evaluated.
def _refuse(*args, **kwargs):
    raise TypeError("evaluating annotations is not allowed in sandboxed code")
annotationlib.ForwardRef.evaluate = _refuse
if hasattr(annotationlib.ForwardRef, "_evaluate"):
    annotationlib.ForwardRef._evaluate = _refuse

# ---------------------------------------------------------------- pinned clock and seeded random

class PinnedDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls.fromtimestamp(EPOCH, tz) if tz is not None else cls(2025, 1, 1)
    @classmethod
    def utcnow(cls):
        return cls(2025, 1, 1)
    @classmethod
    def today(cls):
        return cls(2025, 1, 1)
PinnedDatetime.__name__ = "datetime"
PinnedDatetime.__qualname__ = "datetime"

class PinnedDate(_dt.date):
    @classmethod
    def today(cls):
        return cls(2025, 1, 1)
PinnedDate.__name__ = "date"
PinnedDate.__qualname__ = "date"

def make_time():
    m = types.ModuleType("time")
    for k in ("gmtime", "strftime", "strptime", "asctime", "struct_time", "timezone", "altzone", "daylight", "tzname"):
        if hasattr(_time, k):
            setattr(m, k, getattr(_time, k))
    m.time = lambda: EPOCH
    m.time_ns = lambda: int(EPOCH) * 10**9
    m.monotonic = m.perf_counter = m.process_time = lambda: 0.0
    m.monotonic_ns = m.perf_counter_ns = lambda: 0
    m.sleep = lambda seconds: None
    m.localtime = lambda secs=None: _time.gmtime(EPOCH if secs is None else secs)
    m.ctime = lambda secs=None: _time.asctime(_time.gmtime(EPOCH if secs is None else secs))
    m.mktime = lambda t: float(__import__("calendar").timegm(t))
    return m

def make_datetime():
    m = module_copy(_dt)
    m.datetime = PinnedDatetime
    m.date = PinnedDate
    return m

RANDOM_NAMES = ("random", "randint", "randrange", "choice", "choices", "shuffle", "sample", "uniform", "gauss",
                "normalvariate", "triangular", "betavariate", "expovariate", "gammavariate", "lognormvariate",
                "vonmisesvariate", "paretovariate", "weibullvariate", "getrandbits", "seed", "getstate", "setstate", "randbytes", "binomialvariate")

class SeededRandom(_random.Random):
    """random.Random whose unseeded construction is seeded with 0, so nothing draws on the host's entropy."""
    def __init__(self, x=0):
        super().__init__(x)
SeededRandom.__name__ = "Random"
SeededRandom.__qualname__ = "Random"

def make_random(rng):
    m = types.ModuleType("random")
    for k in RANDOM_NAMES:
        if hasattr(rng, k):
            setattr(m, k, getattr(rng, k))
    m.Random = SeededRandom
    return m

# ---------------------------------------------------------------- modules

PURE_MODULES = ("json", "math", "cmath", "re", "string", "collections", "collections.abc", "itertools", "functools",
                "operator", "copy", "decimal", "fractions", "statistics", "bisect", "heapq", "enum", "dataclasses",
                "typing", "numbers", "textwrap", "unicodedata", "hashlib", "base64", "difflib", "abc", "uuid")
DENIED = {
    "operator": {"attrgetter", "methodcaller"},
    "string": {"Formatter", "Template"},
    "typing": {"get_type_hints", "ForwardRef", "get_args", "get_origin", "evaluate_forward_ref", "get_overloads", "TYPE_CHECKING"},
    "uuid": {"uuid1", "uuid4", "uuid6", "uuid7", "getnode"},
    "decimal": {"setcontext"},
    "dataclasses": {"make_dataclass"},
}

def public_names(mod):
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [k for k in vars(mod) if not k.startswith("_")]
    return [n for n in names if not n.startswith("_")]

def module_copy(mod):
    """A fresh module holding only the public, non-module names of mod (a write to it touches one episode only)."""
    m = types.ModuleType(mod.__name__)
    deny = DENIED.get(mod.__name__, ())
    for k in public_names(mod):
        if k in deny or not hasattr(mod, k):
            continue
        v = getattr(mod, k)
        if isinstance(v, types.ModuleType):
            continue
        setattr(m, k, v)
    return m

import importlib
for _name in PURE_MODULES:
    importlib.import_module(_name)

class Episode:
    __slots__ = ("rng", "state", "modules", "tools", "builtins", "calls")

def make_importer(ep):
    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level:
            raise ImportError("relative imports are not allowed in sandboxed code")
        top = name.split(".")[0]
        if name not in ep.modules:
            if name == "random":
                ep.modules[name] = make_random(ep.rng)
            elif name == "time":
                ep.modules[name] = make_time()
            elif name == "datetime":
                ep.modules[name] = make_datetime()
            elif name in PURE_MODULES:
                ep.modules[name] = module_copy(sys.modules[name])
            else:
                raise ImportError("module %r is not available in the sandbox" % name)
        if "." in name and not fromlist:
            if top not in ep.modules:
                guarded_import(top)
            parent = ep.modules[top]
            setattr(parent, name.split(".", 1)[1], ep.modules[name])
            return parent
        return ep.modules[name]
    return guarded_import

REMOVED_BUILTINS = {"open", "eval", "exec", "compile", "input", "vars", "globals", "locals", "breakpoint", "help",
                    "exit", "quit", "copyright", "credits", "license", "__import__", "__loader__",
                    "__spec__", "__build_class__", "__debug__", "BaseException", "KeyboardInterrupt", "SystemExit",
                    "GeneratorExit", "BaseExceptionGroup", "getattr", "setattr", "delattr", "hasattr", "print"}

def make_builtins(ep):
    b = {k: v for k, v in vars(builtins).items() if k not in REMOVED_BUILTINS and not k.startswith("_")}
    b.update(getattr=safe_getattr, setattr=safe_setattr, delattr=safe_delattr, hasattr=safe_hasattr, print=quiet_print)
    b["__import__"] = make_importer(ep)
    b["__build_class__"] = builtins.__build_class__
    b["__ef_writable__"] = ef_writable
    return b

# ---------------------------------------------------------------- programs and episodes

PROGRAMS = {}
EPISODES = {}

def load_program(key, program_json):
    """Guards and compiles a program once per interpreter: {"prelude": src, "tools": [[name, src], ...]}."""
    if key in PROGRAMS:
        return json.dumps([])
    program = json.loads(program_json)
    problems = []
    prelude, p = guard(program["prelude"], "prelude.py")
    problems += p
    tools = []
    for name, source in program["tools"]:
        code, p = guard(source, "tools/%s.py" % name)
        problems += ["tool %r: %s" % (name, x) for x in p]
        tools.append((name, code))
    if not problems:
        PROGRAMS[key] = (prelude, tools)
    return json.dumps(problems)

def namespace(ep):
    return {"__name__": NS, "__builtins__": ep.builtins, "__doc__": None}

def open_episode(eid, key, seed, checkpoint_json):
    """Evaluates the prelude and each tool in the episode's own namespace, then installs the checkpoint."""
    prelude, tools = PROGRAMS[key]
    ep = Episode()
    ep.rng = SeededRandom(seed)
    ep.modules = {}
    ep.builtins = make_builtins(ep)
    ep.calls = 0
    checkpoint = json.loads(checkpoint_json)
    ep.state = checkpoint["state"]
    if checkpoint["rng"] is not None:
        ep.rng.setstate((checkpoint["rng"][0], tuple(checkpoint["rng"][1]), checkpoint["rng"][2]))
    ep.tools = {}
    EPISODES[eid] = ep
    try:
        base = namespace(ep)
        if prelude is not None:
            exec(prelude, base)
        for name, code in tools:
            ns = dict(base)
            exec(code, ns)
            # A tool named with dashes is defined with underscores: Python names cannot hold a dash.
            fn = ns.get(name) if name in ns else ns.get(name.replace("-", "_"))
            if not callable(fn):
                raise NameError("the code of tool %r does not define a function named %r" % (name, name))
            ep.tools[name] = (fn, takes_data(fn))
    except BaseException as e:
        del EPISODES[eid]
        return outcome_of(e)
    return "k"

def takes_data(fn):
    """FTRL's tau-bench tools are def name(data, **params): their first positional parameter receives the state."""
    code = getattr(fn, "__code__", None)
    if code is None or code.co_argcount == 0:
        return False
    return code.co_varnames[0] == "data"

def live():
    return len(EPISODES)

def close_episode(eid):
    EPISODES.pop(eid, None)
    return "k"

def save(eid):
    ep = EPISODES[eid]
    v, internal, gauss = ep.rng.getstate()
    return json.dumps({"state": ep.state, "rng": [v, list(internal), gauss]}, ensure_ascii=False, allow_nan=True)

def state_json(eid):
    return json.dumps(EPISODES[eid].state, allow_nan=False, default=str)

def outcome_of(e):
    if isinstance(e, KeyboardInterrupt):
        return "t" + "the call was interrupted"
    if isinstance(e, MemoryError):
        return "m" + (str(e) or "MemoryError")
    if isinstance(e, RecursionError):
        return "o" + str(e)
    return "e" + json.dumps("%s: %s" % (type(e).__name__, e) if str(e) == "" else str(e), ensure_ascii=False)

def non_finite_to_none(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: non_finite_to_none(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [non_finite_to_none(x) for x in v]
    return v

def call(eid, name, args_json, max_chars):
    """One call: 'j' + display text + '\x00' + JSON of the value, or a one-letter failure code and a message."""
    ep = EPISODES[eid]
    fn, data = ep.tools[name]
    args = json.loads(args_json)
    decimal.setcontext(decimal.Context())
    try:
        value = fn(ep.state, **args) if data else fn(**args)
    except BaseException as e:
        return outcome_of(e)
    try:
        if isinstance(value, str):
            text = value
            if len(text) > max_chars:
                return "l%d" % len(text)
            return "j" + text + "\x00" + json.dumps(value, ensure_ascii=False)
        text = json.dumps(value, ensure_ascii=False)
        if len(text) > max_chars:
            return "l%d" % len(text)
        try:
            strict = json.dumps(value, ensure_ascii=False, allow_nan=False)
        except ValueError:
            strict = json.dumps(non_finite_to_none(value), ensure_ascii=False)
        return "j" + text + "\x00" + strict
    except MemoryError as e:
        return "m" + str(e)
    except RecursionError as e:
        return "o" + str(e)
    except Exception as e:
        return "u" + "the tool returned a value that is not JSON: %s" % e

# ---------------------------------------------------------------- cut the way back to JavaScript

for _k in [k for k in sys.modules if k == "js" or k == "pyodide_js" or k.startswith("pyodide") or k.startswith("_pyodide")]:
    del sys.modules[_k]
sys.meta_path[:] = [f for f in sys.meta_path if "Js" not in type(f).__name__ and "pyodide" not in type(f).__module__]
`;
