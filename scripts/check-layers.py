#!/usr/bin/env python3
"""Guard the module structure of the workspace's crates (standard library only, no cargo).

  scripts/check-layers.py              # check the workspace; exit 1 on any finding
  scripts/check-layers.py --self-test  # check the checker on tiny synthetic crates

(a) No crate has an import cycle between its modules (a module = a file under src/).
(b) In `signal`, no module imports a module of a higher layer (LAYERS below, from the crate doc
    comment in signal/src/lib.rs and README.md's "Architecture"); every module has a layer.

Edges come from `use` trees (brace groups included) and from `crate::`/`super::`/`self::` paths
in code, with comments, strings and `#[cfg(test)]` items left out. A path is resolved to the
module that defines its item: `pub use` re-exports (and `use` bindings and globs generally) are
followed, then the longest existing module prefix wins. A module's own descendants are
containment, not edges; neither are its ancestors, except that for the layer check naming an
item an ancestor defines itself (`super::start()`) still counts.
"""
import bisect, itertools, os, re, sys, tempfile, tomllib
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# signal's layers: module path prefix -> layer; the longest matching prefix wins and "crate" is
# the crate root (lib.rs) alone. Services (3.x) must call one way only, so they get sub-layers.
# A module may import modules of its own (sub)layer or lower ones; cycles are caught by (a).
SIGNAL_LAYERS = {
    # 1. types: plain data, no I/O.
    "types": 1, "config": 1, "media": 1, "playback": 1, "mail": 1, "auth::tokens": 1,
    "auth::password": 1, "auth::rate_limit": 1, "commands::payload": 1, "ws::flood": 1,
    # 2. state and delivery.
    "bus": 2, "ws::hub": 2, "outbox": 2, "state": 2, "auth::cache": 2, "fanout": 2,
    "webhooks": 2,
    # 3. services: storing commands -> telling the recorder -> stream sessions -> recording
    # sessions (recording/mod.rs) -> sending a client's command, events.
    "commands::store": 3.0, "commands::delivery": 3.0, "recording::feed": 3.1, "streams": 3.2,
    "recording": 3.3, "commands::send": 3.4, "events": 3.4,
    # 4. adapters; parent files that only declare children and re-export sit here too.
    "error": 4, "extract": 4, "pagination": 4, "auth::caller": 4, "auth": 4, "routes": 4,
    "ws::connection": 4, "ws": 4, "inbound": 4, "reactions": 4, "relay_link": 4, "jobs": 4,
    "commands": 4, "crate": 4,
}
LAYERED_CRATES = {"signal": SIGNAL_LAYERS}
LAYER_NAMES = {1: "types", 2: "state and delivery", 3: "services", 4: "adapters"}


def layer_name(layer):
    return f"layer {layer:g} ({LAYER_NAMES[int(layer)]})"


def fmt(mod):
    return "::".join(mod) or "crate"


# ----------------------------------------------------------------------------- lexing

TOKEN = re.compile(r"""//[^\n]*|/\*|b?r(\#*)"|b?"|b?'(?:\\.[^']*|[^\\'\n])'""")


def strip(text):
    """Blank out comments and string/char literals, keeping every newline and offset."""
    out, i = [], 0
    while (m := TOKEN.search(text, i)) :
        if m.start() and m.group().startswith(("r", "b")) and re.match(r"\w", text[m.start() - 1]):
            out.append(text[i:m.end()]); i = m.end(); continue  # `foo_r"`: not a literal
        out.append(text[i:m.start()])
        tok = m.group()
        if tok == "/*":  # block comments nest
            depth, j = 1, m.end()
            while depth and j < len(text):
                if text.startswith("/*", j): depth, j = depth + 1, j + 2
                elif text.startswith("*/", j): depth, j = depth - 1, j + 2
                else: j += 1
        elif tok.endswith('"') and "r" in tok:  # raw string: ends at `"` plus as many `#`
            j = text.find('"' + m.group(1), m.end()) + 1 + len(m.group(1))
        elif tok.endswith('"'):
            j = m.end()
            while text[j] != '"': j += 2 if text[j] == "\\" else 1
            j += 1
        else:
            j = m.end()
        out.append(re.sub(r"[^\n]", " ", text[m.start():j]))
        i = j
    return "".join(out) + text[i:]


def item_end(text, i):
    """End of the item starting at i: its first `;` or its balanced `{...}`, at depth 0."""
    depth = 0
    for j in range(i, len(text)):
        c = text[j]
        if c in "([{": depth += 1
        elif c in ")]}":
            depth -= 1
            if depth < 0: return j
            if depth == 0 and c == "}": return j + 1
        elif c == ";" and depth == 0: return j + 1
    return len(text)


CFG_TEST = re.compile(r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]((?:\s*#\s*\[[^\]]*\])*)\s*")
TEST_FILE_MOD = re.compile(r"(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+(\w+)\s*;")
USE = re.compile(r"(?<![\w$])use\s")
USE_TOKEN = re.compile(r"::|[{},*;]|(?:r#)?\w+")
PATH = re.compile(r"(?<![\w$:])(crate|super|self)((?:\s*::\s*(?:r#)?\w+)+)")
INLINE_MOD = re.compile(r"(?<![\w$])mod\s+(\w+)\s*\{")
DEF = re.compile(r"(?<![\w$])(?:fn|struct|enum|union|trait|type|const|static|macro_rules!)\s+(\w+)")


def parse_use(toks, i, prefix, out):
    """Parse one use tree from toks[i]; append (segments, alias, line) leaves to out."""
    segs = list(prefix)
    while True:
        text, line = toks[i]
        if text == "{":
            i += 1
            while toks[i][0] != "}":
                i = parse_use(toks, i, segs, out)
                if toks[i][0] == ",": i += 1
            return i + 1
        if text == "::":
            if not segs: segs.append("::")  # `::name`: an extern crate
            i += 1; continue
        segs.append(text)
        if text == "*": out.append((segs, None, line)); return i + 1
        i += 1
        if toks[i][0] == "::": i += 1; continue
        alias = None
        if toks[i][0] == "as": alias, i = toks[i + 1][0], i + 2
        if segs[-1] == "self" and len(segs) > 1: segs.pop()  # `a::{self, b}`
        out.append((segs, alias, line))
        return i


# ----------------------------------------------------------------------------- one crate

def file_module(rel):
    """src-relative file -> module path: lib.rs -> (), a/mod.rs and a.rs -> (a,), a/b.rs -> (a, b)."""
    parts = rel[:-3].split(os.sep)
    if parts[-1] == "mod" or parts in (["lib"], ["main"]): parts = parts[:-1]
    return tuple(parts)


def check_crate(crate_dir, name, layers=None):
    """Return (findings, number of modules, number of edges) for the crate in crate_dir."""
    src = os.path.join(crate_dir, "src")
    files = {}  # file module -> path relative to the workspace
    for d, dirs, names in os.walk(src):
        dirs[:] = sorted(x for x in dirs if not (d == src and x == "bin"))  # bins: own crates
        for n in sorted(names):
            rel = os.path.relpath(os.path.join(d, n), src)
            # A binary next to a library reaches it by its crate name only: not one crate.
            if n.endswith(".rs") and not (rel == "main.rs" and os.path.exists(os.path.join(src, "lib.rs"))):
                files[file_module(rel)] = os.path.join(d, n)
    scopes, uses, paths, test_mods = {}, [], [], set()
    defs, bindings, globs = defaultdict(set), defaultdict(dict), defaultdict(list)
    for mod, path in files.items():
        text = strip(open(path, encoding="utf-8").read())
        # `#[cfg(test)]` items are left out; `#[cfg(test)] mod x;` leaves its file out too.
        for m in reversed(list(CFG_TEST.finditer(text))):
            end = item_end(text, m.end())
            if (t := TEST_FILE_MOD.match(text, m.end())) : test_mods.add(mod + (t.group(1),))
            text = text[:m.start()] + re.sub(r"[^\n]", " ", text[m.start():end]) + text[end:]
        text = re.sub(r"pub\s*\(\s*in\s[^)]*\)", lambda m: " " * len(m.group()), text)
        newlines = [i for i, c in enumerate(text) if c == "\n"]
        line_of = lambda pos: bisect.bisect(newlines, pos) + 1
        depth = list(itertools.accumulate((c == "{") - (c == "}") for c in text))
        inline = [(m.end() - 1, item_end(text, m.end() - 1), m.group(1)) for m in INLINE_MOD.finditer(text)]

        def scope_at(pos):  # the (inline) module enclosing pos
            return mod + tuple(n for s, e, n in inline if s < pos < e)

        for s, e, n in inline: scopes[scope_at(s) + (n,)] = mod
        for m in DEF.finditer(text):
            if depth[m.start()] == len(scope_at(m.start())) - len(mod): defs[scope_at(m.start())].add(m.group(1))
        for m in USE.finditer(text):
            end = item_end(text, m.end())
            toks = [(t.group(), line_of(t.start())) for t in USE_TOKEN.finditer(text, m.end(), end)]
            leaves = []
            parse_use(toks, 0, [], leaves)
            uses += [(scope_at(m.start()), segs, alias, line, path) for segs, alias, line in leaves]
            text = text[:m.start()] + " " * (end - m.start()) + text[end:]
        for m in PATH.finditer(text):
            segs = [m.group(1)] + re.findall(r"\w+", m.group(2))
            paths.append((scope_at(m.start()), segs, line_of(m.start()), path))
    for t in test_mods:
        for f in [f for f in files if f[:len(t)] == t]: del files[f]
    scopes.update({f: f for f in files})
    is_module = lambda mod: mod in scopes and scopes[mod] in files

    def absolute(scope, segs):
        """Path as written in scope -> segments from the crate root, or None if not in this crate."""
        if segs[0] == "crate": return segs[1:]
        if segs[0] == "self": return list(scope) + segs[1:]
        if segs[0] == "super":
            n = len(list(itertools.takewhile(lambda s: s == "super", segs)))
            return list(scope[:len(scope) - n]) + segs[n:]
        return list(scope) + segs if is_module(scope + (segs[0],)) else None

    for scope, segs, alias, line, path in uses:
        if (target := absolute(scope, segs)) is None: continue
        if segs[-1] == "*": globs[scope].append(target[:-1])
        elif (alias or segs[-1]) != "_": bindings[scope][alias or segs[-1]] = target

    def resolve(segs, seen=frozenset()):
        """-> (module defining the item, the segments left after it), following bindings."""
        mod, i = (), 0
        while i < len(segs) and is_module(mod + (segs[i],)): mod, i = mod + (segs[i],), i + 1
        if i == len(segs) or (mod, segs[i]) in seen or segs[i] in defs[mod]: return mod, segs[i:]
        seen = seen | {(mod, segs[i])}
        if segs[i] in bindings[mod]: return resolve(bindings[mod][segs[i]] + segs[i + 1:], seen)
        for g in globs[mod]:
            gm, rest = resolve(g, seen)
            if not rest and (is_module(gm + (segs[i],)) or segs[i] in bindings[gm] or segs[i] in defs[gm]):
                return resolve(list(gm) + segs[i:], seen)
        return mod, segs[i:]

    findings, graph, layer_of = [], defaultdict(dict), {}
    if layers is not None:
        for mod in sorted(files):
            keys = ["crate"] if not mod else ["::".join(mod[:n]) for n in range(len(mod), 0, -1)]
            layer_of[mod] = next((layers[k] for k in keys if k in layers), None)
            if layer_of[mod] is None:
                findings.append(f"{files[mod]}: module {fmt(mod)} has no layer: add it to the layer table in scripts/check-layers.py")
    for scope, segs, line, path in [(s, g, l, p) for s, g, a, l, p in uses] + paths:
        src = scopes[scope]
        if src not in files or (target := absolute(scope, segs)) is None: continue
        found, rest = resolve(target)
        dst = scopes[found]
        if dst == src or dst[:len(src)] == src: continue  # itself, or a descendant: containment
        ancestor = src[:len(dst)] == dst
        if not ancestor: graph[src].setdefault(dst, (path, line, "::".join(segs)))
        if ancestor and not (rest and rest[0] in defs[found]): continue
        a, b = layer_of.get(src), layer_of.get(dst)
        if a is not None and b is not None and b > a:
            findings.append(f"{path}:{line}: {fmt(src)} ({layer_name(a)}) imports {fmt(dst)} "
                            f"({layer_name(b)}), a higher layer, through `{'::'.join(segs)}`")
    findings += [f"{name}: import cycle between modules: {' -> '.join(map(fmt, c + [c[0]]))}\n" + "\n".join(
        f"    {graph[x][y][0]}:{graph[x][y][1]}: {fmt(x)} -> {fmt(y)} (`{graph[x][y][2]}`)"
        for x, y in zip(c, c[1:] + c[:1])) for c in cycles(graph)]
    return findings, len(files), sum(map(len, graph.values()))


def cycles(graph):
    """One shortest cycle per strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on, comps = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index); stack.append(v); on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v: comp.append(stack.pop()); on.discard(comp[-1])
            if len(comp) > 1: comps.append(set(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph): v in index or visit(v)
    found = []
    for comp in comps:  # breadth-first from the component's first module back to itself
        start = min(comp); prev = {}; queue = [start]
        while start not in prev:
            v = queue.pop(0)
            for w in sorted(x for x in graph[v] if x in comp and x not in prev): prev[w] = v; queue.append(w)
        c = [prev[start]]
        while c[-1] != start: c.append(prev[c[-1]])
        found.append(c[::-1])
    return found


# ----------------------------------------------------------------------------- driver

def check_workspace():
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        members = tomllib.load(f)["workspace"]["members"]
    findings, total = [], [0, 0]
    for name in members:
        if os.path.isdir(os.path.join(ROOT, name, "src")):
            found, mods, edges = check_crate(os.path.join(ROOT, name), name, LAYERED_CRATES.get(name))
            findings += [f.replace(ROOT + os.sep, "") for f in found]
            total[0] += mods; total[1] += edges
    for f in findings: print(f"check-layers: {f}")
    if findings:
        print(f"check-layers: FAILED, {len(findings)} finding(s): no import cycles inside a crate, and "
              "in signal no import of a higher layer (see signal/src/lib.rs)", file=sys.stderr)
        return 1
    print(f"check-layers: OK: {len(members)} crates, {total[0]} modules, {total[1]} module edges: "
          f"no import cycles; signal's layers respected")
    return 0


def self_test():
    layers = {"crate": 4, "base": 1, "low": 1, "svc": 3.0, "svc::feed": 3.1, "hub": 4, "x": 2}
    cases = [  # (what, files, layered?, expected substrings of the findings; [] = accepted)
        ("cycle", {"lib.rs": "mod a; mod b;", "a.rs": "use crate::b::X;\npub fn g() {}",
                   "b.rs": "pub struct X;\nfn f() { crate::a::g() }"}, False,
         ["import cycle between modules: a -> b -> a", "a.rs:1: a -> b", "b.rs:2: b -> a"]),
        ("upward import", {"lib.rs": "", "base.rs": "// fine\nuse crate::svc::Thing;", "svc/mod.rs": "pub mod feed; pub struct Thing;",
                           "svc/feed.rs": "use crate::base::*;"}, True,
         ["base.rs:2: base (layer 1 (types)) imports svc (layer 3 (services))"]),
        ("sub-layers and ancestor items", {"lib.rs": "", "base.rs": "", "svc/mod.rs": "pub mod feed;\npub fn start() {}",
                                           "svc/feed.rs": "use super::*;\nfn f() { super::start() }"}, True,
         ["feed.rs:2: svc::feed (layer 3.1 (services)) imports svc (layer 3 (services))"]),
        ("brace group", {"lib.rs": "", "p.rs": "use crate::{q::{r::{X,\n  Y as Z}, self}, s};", "q/mod.rs": "pub mod r;",
                         "q/r.rs": 'pub struct X;\n/* crate::p */ const S: &str = "crate::p";\nfn f() { self::super::super::p::g() }',
                         "s.rs": ""}, False,
         ["import cycle between modules: p -> q::r -> p", "p.rs:2: p -> q::r", "r.rs:3: q::r -> p"]),
        ("pub use re-export", {"lib.rs": "pub use crate::hub::Thing as Renamed;", "low.rs": "use crate::hub::Thing;\nuse crate::Renamed;",
                               "hub/mod.rs": "mod inner;\npub use inner::Thing;\nuse crate::low::*;",
                               "hub/inner.rs": "pub use crate::base::Thing;", "base.rs": "pub struct Thing;"}, True, []),
        ("super paths", {"lib.rs": "", "x/mod.rs": "mod a; mod b;", "x/a.rs": "use super::b::T;\npub fn f() {}",
                         "x/b.rs": "pub struct T;\nfn g() { super::a::f() }"}, True,
         ["import cycle between modules: x::a -> x::b -> x::a", "x/a.rs:1: x::a -> x::b", "x/b.rs:2: x::b -> x::a"]),
        ("test code, comments, strings", {"lib.rs": "", "a.rs": "use crate::b::X;", "b.rs": "pub struct X;\n// crate::a::f()\n"
                                          '#[cfg(test)]\n#[allow(x)]\nmod tests {\n use crate::a::*;\n}\nconst S: &str = "crate::a";\n'
                                          "#[cfg(test)]\nmod slow;", "b/slow.rs": "use crate::a::*;"}, False, []),
        ("unknown module", {"lib.rs": "", "base.rs": "", "extra.rs": ""}, True, ["extra.rs: module extra has no layer"]),
    ]
    failed = 0
    for what, files, layered, expected in cases:
        with tempfile.TemporaryDirectory() as tmp:
            for rel, body in files.items():
                os.makedirs(os.path.dirname(os.path.join(tmp, "src", rel)), exist_ok=True)
                with open(os.path.join(tmp, "src", rel), "w") as f: f.write(body + "\n")
            found = "\n".join(check_crate(tmp, "t", layers if layered else None)[0]).replace(tmp + os.sep + "src" + os.sep, "")
        ok = all(e in found for e in expected) and bool(found) == bool(expected)
        failed += not ok
        print(f"self-test: {'ok  ' if ok else 'FAIL'} {what}" + ("" if ok else f"\n  expected {expected}\n  got: {found!r}"))
    print(f"self-test: {'all passed' if not failed else f'{failed} FAILED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(self_test() if sys.argv[1:] == ["--self-test"] else check_workspace())
