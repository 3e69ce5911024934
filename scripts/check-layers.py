#!/usr/bin/env python3
"""Guard the module structure of the workspace's crates (standard library only, no cargo).

  scripts/check-layers.py              # check the workspace; exit 1 on any finding
  scripts/check-layers.py --self-test  # check the checker on tiny synthetic crates

(a) No crate has an import cycle between its modules (a module = a file under src/).
(b) In `signal`, every module has a layer (SIGNAL_LAYERS, from signal/src/lib.rs's doc comment
    and README.md's "Architecture") and imports no module of a higher one.

Edges come from `use` trees and from `crate::`/`super::`/`self::` paths in code, leaving out
comments, strings and `#[cfg(test)]` items. A path leads to the module defining its item: `use`
bindings (so `pub use` re-exports) and globs are followed, then the longest module prefix wins.
A module's descendants are containment, not edges; so are its ancestors, except that for (b)
naming an item an ancestor defines itself (`super::start()`) counts.
"""
import bisect, os, re, sys, tempfile
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# signal's layers: module path -> layer. "a::b" is that module alone, "a::*" is a and all its
# descendants (the nearest entry wins), "crate" is lib.rs. So a new file must be placed here,
# unless it lands under a "::*" entry. Services must call one way only: they get sub-layers.
# A module may import its own (sub)layer or lower ones; cycles among equals are (a)'s job.
SIGNAL_LAYERS = {
    # 1. types: plain data, no I/O.
    "types::*": 1, "config": 1, "media": 1, "playback": 1, "mail": 1, "auth::tokens": 1,
    "auth::password": 1, "auth::rate_limit": 1, "auth::rights": 1, "commands::payload": 1, "ws::flood": 1,
    # 2. state and delivery.
    "bus": 2, "ws::hub": 2, "outbox": 2, "state": 2, "auth::cache": 2, "fanout": 2,
    "webhooks": 2,
    # 3. services: storing commands -> telling the recorder -> stream sessions -> recording
    # sessions (recording/mod.rs) -> sending a client's command, events.
    "commands::store": 3.0, "commands::delivery": 3.0, "recording::feed": 3.1, "streams": 3.2,
    "recording": 3.3, "commands::send": 3.4, "events": 3.4,
    # 4. adapters. Parent files that only declare children and re-export (auth, commands, ws)
    # sit here too: their children are containment and their re-exports are followed.
    "error": 4, "extract": 4, "pagination": 4, "auth::caller": 4, "routes::*": 4,
    "ws::connection": 4, "inbound": 4, "reactions::*": 4, "relay_link": 4, "jobs": 4,
    "auth": 4, "commands": 4, "ws": 4, "crate": 4,
}
LAYERED_CRATES = {"signal": SIGNAL_LAYERS}
LAYER_NAMES = {1: "types", 2: "state and delivery", 3: "services", 4: "adapters"}
KEYWORDS = ("crate", "self", "super")


def fmt(mod):
    return "::".join(mod) or "crate"


def blank(s):
    return re.sub(r"[^\n]", " ", s)


# ---------------------------------------------------------------------------- reading Rust

# Comments (block comments not nested), raw and plain strings, byte and char literals.
LITERAL = re.compile(r"""//[^\n]*|/\*[\s\S]*?\*/|b?r(#*)"[\s\S]*?"\1|b?"(?:\\[\s\S]|[^"\\])*"|"""
                     r"""b?'(?:\\.[^']*|[^\\'\n])'""")
CFG_TEST = re.compile(r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\](?:\s*#\s*\[[^\]]*\])*\s*")
FILE_MOD = re.compile(r"(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+(\w+)\s*;")
INLINE_MOD = re.compile(r"(?<![\w$])mod\s+(\w+)\s*\{")
DEF = re.compile(r"(?<![\w$])(?:fn|struct|enum|union|trait|type|const|static|macro_rules!)"
                 r"\s+(\w+)")
USE = re.compile(r"(?<![\w$])use\s")
USE_TOKEN = re.compile(r"::|[{},*;]|(?:r#)?\w+")
PATH = re.compile(r"(?<![\w$:])(crate|super|self)((?:\s*::\s*(?:r#)?\w+)+)")


def strip(text):
    """Blank out comments and string/char literals, keeping every offset and newline."""
    return LITERAL.sub(lambda m: blank(m.group()), text)


def item_end(text, i):
    """End of the item starting at i: after its first `;` or its `{...}`, at depth 0."""
    depth = 0
    for j in range(i, len(text)):
        depth += (text[j] in "([{") - (text[j] in ")]}")
        if depth < 0:  # the end of what encloses the item
            return j
        if depth == 0 and text[j] in ";}":
            return j + 1
    return len(text)


def use_leaves(toks):
    """The (segments, alias, line) leaves of a use tree's tokens: `a::{b, c::{self, d as e}}`."""
    groups, segs, out, pending = [[]], [], [], None
    for k, (t, line) in enumerate(toks):
        if k == 0 and t == "::":  # `::x`: an extern crate
            segs = ["::"]
        elif k and toks[k - 1][0] == "as":
            pending = (pending[0], t, pending[2])
        elif t == "{":  # each member of a brace group extends the prefix so far
            groups.append(segs)
        elif t in ",};":
            if pending:
                leaf, alias, line = pending
                is_self = leaf[-1] == "self" and len(leaf) > 1  # `a::{self, b}` binds `a`
                out.append((leaf[:-1] if is_self else leaf, alias, line))
            if t == "}" and len(groups) > 1:
                groups.pop()
            segs, pending = groups[-1], None
        elif t not in ("::", "as"):
            segs = segs + [t]
            pending = (segs, None, line)
    return out


# ---------------------------------------------------------------------------- one crate

class Crate:
    def __init__(self, crate_dir):
        src = os.path.join(crate_dir, "src")
        self.files = {}  # file module -> path, e.g. ("a", "b") -> .../src/a/b.rs
        for d, dirs, names in os.walk(src):
            dirs[:] = sorted(x for x in dirs if not (d == src and x == "bin"))  # own crates
            for n in sorted(x for x in names if x.endswith(".rs")):
                parts = os.path.relpath(os.path.join(d, n), src)[:-3].split(os.sep)
                if parts == ["main"] and os.path.exists(os.path.join(src, "lib.rs")):
                    continue  # a binary reaches its library by the crate's name only
                if parts[-1] == "mod" or parts in (["lib"], ["main"]):
                    parts.pop()
                self.files[tuple(parts)] = os.path.join(d, n)
        self.owner = {}  # module (file or inline `mod x { }`) -> its file module
        self.defs = defaultdict(set)  # module -> items it defines
        self.bindings = defaultdict(dict)  # module -> name a `use` binds -> absolute path
        self.public = defaultdict(set)  # module -> names it binds with `pub use`
        self.globs = defaultdict(list)  # module -> absolute paths it `use`s with `::*`
        self.uses, self.refs, test_mods = [], [], set()
        for mod, path in self.files.items():
            self.read(mod, path, test_mods)
        self.files = {f: path for f, path in self.files.items()  # leave out the files of
                      if not any(f[:len(t)] == t for t in test_mods)}  # `#[cfg(test)] mod x;`
        self.owner.update({f: f for f in self.files})
        for scope, segs, alias, public, *_ in self.uses:  # what names each `use` brings in
            target, name = self.absolute(scope, segs), alias or segs[-1]
            if target is not None and name == "*":
                self.globs[scope].append(target[:-1])
            elif target is not None and name != "_":
                self.bindings[scope][name] = target
                self.public[scope].update([name] if public else [])

    def read(self, mod, path, test_mods):
        """Collect the definitions, `use` leaves and inline paths of one file."""
        text = strip(open(path, encoding="utf-8").read())
        for m in CFG_TEST.finditer(text):
            if t := FILE_MOD.match(text, m.end()):
                test_mods.add(mod + (t.group(1),))
            end = item_end(text, m.end())
            text = text[:m.start()] + blank(text[m.start():end]) + text[end:]
        text = re.sub(r"pub\s*\(\s*in\s[^)]*\)", lambda m: blank(m.group()), text)
        newlines = [m.start() for m in re.finditer("\n", text)]
        line_of = lambda pos: bisect.bisect(newlines, pos) + 1
        depth = lambda pos: text.count("{", 0, pos) - text.count("}", 0, pos)
        inline = [(m.end() - 1, item_end(text, m.end() - 1), m.group(1))
                  for m in INLINE_MOD.finditer(text)]
        scope_at = lambda pos: mod + tuple(n for s, e, n in inline if s < pos < e)
        for s, _, n in inline:
            self.owner[scope_at(s) + (n,)] = mod
        for m in DEF.finditer(text):  # items at the top of a module, not inside fns or impls
            if depth(m.start()) == len(scope_at(m.start())) - len(mod):
                self.defs[scope_at(m.start())].add(m.group(1))
        for m in USE.finditer(text):
            end = item_end(text, m.end())
            toks = [(t.group(), line_of(t.start()))
                    for t in USE_TOKEN.finditer(text, m.end(), end)]
            public = re.search(r"pub\s*(\([^)]*\))?\s*$", text[max(0, m.start() - 40):m.start()])
            self.uses += [(scope_at(m.start()), segs, alias, public, line, path)
                          for segs, alias, line in use_leaves(toks)]
            text = text[:m.start()] + blank(text[m.start():end]) + text[end:]
        for m in PATH.finditer(text):
            segs = [m.group(1)] + re.findall(r"\w+", m.group(2))
            self.refs.append((scope_at(m.start()), segs, line_of(m.start()), path))

    def is_module(self, mod):
        return self.owner.get(mod) in self.files

    def absolute(self, scope, segs):
        """A path as written in scope -> segments from the crate root; None if not ours."""
        if segs[0] not in KEYWORDS:  # 2018 paths: a child module of the scope, else extern
            return list(scope) + segs if self.is_module(scope + (segs[0],)) else None
        here, i = list(scope), 0
        while i < len(segs) and segs[i] in KEYWORDS:  # `self::super::super::x`, `crate::x`
            here = [] if segs[i] == "crate" else here[:-1] if segs[i] == "super" else here
            i += 1
        return here + segs[i:]

    def resolve(self, segs, seen=frozenset()):
        """Absolute path -> (module defining its item, the segments after that module)."""
        mod, i = (), 0
        while i < len(segs) and self.is_module(mod + (segs[i],)):
            mod, i = mod + (segs[i],), i + 1
        name = segs[i] if i < len(segs) else None
        if name is None or (mod, name) in seen or name in self.defs[mod]:
            return mod, segs[i:]
        seen |= {(mod, name)}
        if name in self.bindings[mod]:
            return self.resolve(self.bindings[mod][name] + segs[i + 1:], seen)
        for g in self.globs[mod]:  # a glob brings in public names only
            gm, rest = self.resolve(g, seen)
            if not rest and (self.is_module(gm + (name,)) or name in self.public[gm]
                             or name in self.defs[gm]):
                return self.resolve(list(gm) + segs[i:], seen)
        return mod, segs[i:]


def check_crate(crate_dir, name, layers=None):
    """Return (findings, number of modules, number of edges) for the crate in crate_dir."""
    c = Crate(crate_dir)
    findings, graph, layer_of = [], defaultdict(dict), {}
    for mod in sorted(c.files) if layers else ():
        keys = [fmt(mod)] + [fmt(mod[:n]) + "::*" for n in range(len(mod), 0, -1)]
        layer_of[mod] = next((layers[k] for k in keys if k in layers), None)
        if layer_of[mod] is None:
            findings.append(f"{c.files[mod]}: module {fmt(mod)} has no layer: place it in "
                            "the layer table of scripts/check-layers.py")
    for scope, segs, line, path in [u[:2] + u[4:] for u in c.uses] + c.refs:
        src = c.owner.get(scope)
        if src not in c.files or (target := c.absolute(scope, segs)) is None:
            continue
        found, rest = c.resolve(target)
        dst = c.owner.get(found, found)
        if dst[:len(src)] == src:  # itself, or a descendant: containment
            continue
        ancestor = src[:len(dst)] == dst
        if not ancestor:
            graph[src].setdefault(dst, f"{path}:{line}: {fmt(src)} -> {fmt(dst)} "
                                       f"(`{'::'.join(segs)}`)")
        elif not (rest and rest[0] in c.defs[found]):  # an ancestor's own item still counts
            continue
        a, b = layer_of.get(src), layer_of.get(dst)
        if a is not None and b is not None and b > a:
            findings.append(f"{path}:{line}: {fmt(src)} (layer {a}, {LAYER_NAMES[int(a)]}) "
                            f"imports {fmt(dst)} (layer {b}, {LAYER_NAMES[int(b)]}), a higher "
                            f"layer, through `{'::'.join(segs)}`")
    for cycle in cycles(graph):
        findings.append(f"{name}: import cycle between modules: "
                        + " -> ".join(map(fmt, cycle + cycle[:1])) + "".join(
                            f"\n    {graph[x][y]}" for x, y in zip(cycle, cycle[1:] + cycle[:1])))
    return findings, len(c.files), sum(map(len, graph.values()))


def cycles(graph):
    """A shortest cycle through each module on one, skipping modules already shown on one."""
    found, shown = [], set()
    for start in sorted(graph):
        if start in shown:
            continue
        prev, todo = {}, [start]  # breadth first from start until it is reached again
        while todo and start not in prev:
            v = todo.pop(0)
            for w in sorted(set(graph.get(v, ())) - prev.keys()):
                prev[w] = v
                todo.append(w)
        if start in prev:
            cycle = [prev[start]]
            while cycle[-1] != start:
                cycle.append(prev[cycle[-1]])
            found.append(cycle[::-1])
            shown.update(cycle)
    return found


# ---------------------------------------------------------------------------- driver

def check_workspace():
    with open(os.path.join(ROOT, "Cargo.toml"), encoding="utf-8") as f:  # (tomllib is 3.11+)
        members = re.search(r"(?m)^members\s*=\s*\[([^\]]*)\]", f.read())[1]
    members = re.findall(r'"([^"]+)"', members)
    findings, modules, edges = [], 0, 0
    for name in members:
        if os.path.isdir(os.path.join(ROOT, name, "src")):
            found, n, e = check_crate(os.path.join(ROOT, name), name, LAYERED_CRATES.get(name))
            findings += [f.replace(ROOT + os.sep, "") for f in found]
            modules, edges = modules + n, edges + e
    print("".join(f"check-layers: {f}\n" for f in findings), end="")
    if findings:
        print(f"check-layers: FAILED with {len(findings)} finding(s) (wanted: no import cycle "
              "inside a crate; in signal, no import of a higher layer, see signal/src/lib.rs)")
        return 1
    print(f"check-layers: OK: {len(members)} crates, {modules} modules, {edges} edges between "
          "them: no import cycles, and signal's layers hold")
    return 0


SELF_TEST_LAYERS = {"crate": 4, "base": 1, "low::*": 1, "svc": 3.3, "svc::feed": 3.1,
                    "hub::*": 4, "x::*": 2, "x::up": 3}
SELF_TEST = [  # (what, files, layered?, what the findings must contain; [] = no findings)
    ("cycle", {"lib.rs": "mod a; mod b;", "a.rs": "use crate::b::X;\npub fn g() {}",
               "b.rs": "pub struct X;\nfn f() { crate::a::g() }"}, False,
     ["import cycle between modules: a -> b -> a", "a.rs:1: a -> b", "b.rs:2: b -> a"]),
    ("upward imports", {"lib.rs": "", "base.rs": "// ok\nuse crate::svc::Thing;",
                        "svc/mod.rs": "pub mod feed;\npub struct Thing;\npub fn start() {}",
                        "svc/feed.rs": "use super::*;\nfn f() { super::start() }"}, True,
     ["base.rs:2: base (layer 1, types) imports svc (layer 3.3, services)",
      "feed.rs:2: svc::feed (layer 3.1, services) imports svc (layer 3.3, services)"]),
    ("brace group", {"lib.rs": "", "s.rs": "", "q/mod.rs": "pub mod r;",
                     "p.rs": "use crate::{s, q::{self,\n  r::{X, Y as Z}}};",
                     "q/r.rs": 'pub struct X;\n/* crate::p */ const S: &str = "crate::p";\n'
                               "fn f() { self::super::super::p::g() }"}, False,
     ["import cycle between modules: p -> q::r -> p", "p.rs:2: p -> q::r", "r.rs:3: q::r -> p"]),
    ("pub use re-export", {  # and x (layer 2) using its child x::up (layer 3) is containment
        "lib.rs": "pub use crate::hub::Thing as Renamed;", "base.rs": "pub struct Thing;",
        "low.rs": "use crate::hub::Thing;\nuse crate::Renamed;\n"
                  "fn f() { crate::hub::inner::base::g() }",
        "hub/mod.rs": "pub mod inner;\npub use inner::Thing;\nuse crate::low::*;",
        "hub/inner.rs": "pub use crate::base::{self, Thing};", "x/up.rs": "pub struct T;",
        "x/mod.rs": "pub mod up;\nuse self::up::T;\npub use up::T as U;"}, True, []),
    ("super paths", {"lib.rs": "", "x/mod.rs": "mod a; mod b;", "x/a.rs": "use super::b::T;",
                     "x/b.rs": "pub struct T;\nfn g() { super::a::f() }"}, True,
     ["cycle between modules: x::a -> x::b -> x::a", "x/a.rs:1: x::a -> x::b", "x/b.rs:2: x::b"]),
    ("test code, comments, strings", {
        "lib.rs": "", "hub.rs": "use crate::low::X;", "low/slow.rs": "use crate::hub::*;",
        "low/mod.rs": "pub struct X;\n// crate::hub::f()\n#[cfg(test)]\n#[allow(x)]\nmod tests {"
                      '\n  use crate::hub::*;\n}\nconst S: &str = "crate::hub";\n'
                      "#[cfg(test)]\nmod slow;"},
     True, []),
    ("unknown modules", {"lib.rs": "", "extra.rs": "", "svc/mod.rs": "", "svc/more.rs": ""}, True,
     ["extra.rs: module extra has no layer", "more.rs: module svc::more has no layer"]),
]


def self_test():
    failed = 0
    for what, files, layered, expected in SELF_TEST:
        with tempfile.TemporaryDirectory() as tmp:
            for rel, body in files.items():
                os.makedirs(os.path.dirname(os.path.join(tmp, "src", rel)), exist_ok=True)
                with open(os.path.join(tmp, "src", rel), "w") as f:
                    f.write(body + "\n")
            found, _, _ = check_crate(tmp, "t", SELF_TEST_LAYERS if layered else None)
        found = "\n".join(found).replace(os.path.join(tmp, "src") + os.sep, "")
        ok = all(e in found for e in expected) and bool(found) == bool(expected)
        failed += not ok
        print(f"self-test: {'ok  ' if ok else 'FAIL'} {what}"
              + ("" if ok else f"\n  wanted {expected}\n  got {found!r}"))
    print(f"self-test: {f'{failed} FAILED' if failed else 'all passed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(self_test() if sys.argv[1:] == ["--self-test"] else check_workspace())
