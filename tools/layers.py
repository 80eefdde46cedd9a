#!/usr/bin/env python3
"""The crate's modules import one way: fails (exit 1) when the import graph of src/ has a cycle.

Nodes are module files (`src/policy/detection.rs` is `policy::detection`, a folder's `mod.rs` is the
folder). Edges are the `crate::…` and `super::…` paths a file names (comments ignored), each resolved
to the most specific module file, and a folder to each of its files (its `mod.rs` declares and
re-exports them). A file naming its own folder is not an edge (`super::PolicyError` in a section of
the policy). With no cycle, no module below another imports one above it; `--show MODULE` prints what
a module reaches (`--show policy`: the leaves the settings layer may import).

Standard library only; `make lint` runs it.
"""
import collections
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def modules(root):
    """Module path (a tuple) -> file."""
    mods = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            parts = os.path.relpath(path, root)[:-3].split(os.sep)
            if parts[-1] == "mod":
                parts = parts[:-1]
            if parts not in (["lib"], ["main"]):
                mods[tuple(parts)] = path
    return mods


def split_group(inner):
    """The items of a `{a, b::{c, d}}` group, nested groups kept whole."""
    items, depth, cur = [], 0, ""
    for ch in inner:
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    return [i.strip() for i in items + [cur] if i.strip()]


def expand(prefix, body):
    """Full paths named by a use tree such as `a::{b, c::{d}}`."""
    group = re.match(r"([A-Za-z_0-9:]*?)(?:::)?\{(.*)\}$", body.strip(), re.S)
    if group:
        head = [x for x in group.group(1).split("::") if x]
        return [p for item in split_group(group.group(2)) for p in expand(prefix + head, item)]
    names = body.strip().split(" as ")[0].split("::")
    return [prefix + [x for x in names if re.fullmatch(r"[a-z_0-9]+", x)]]


def graph(mods):
    def resolve(path):
        path = tuple(path)
        while path and path not in mods:
            path = path[:-1]
        return path or None

    deps = collections.defaultdict(set)
    for mod, path in mods.items():
        with open(path, encoding="utf-8") as f:
            src = re.sub(r"//[^\n]*", "", f.read())
        for m in re.finditer(r"\b(crate|super)::(\{[^;]*?\}|[A-Za-z_0-9:]+(?:::\{[^;]*?\})?)", src, re.S):
            base = [] if m.group(1) == "crate" else list(mod[:-1])
            for full in expand(base, m.group(2)):
                target = resolve(full)
                if target and mod[: len(target)] != target:
                    deps[mod].add(target)
        if len(mod) > 1 and mod[:-1] in mods:
            deps[mod[:-1]].add(mod)
    return deps


def reach(deps, start):
    seen, stack = set(), [start]
    while stack:
        for d in deps[stack.pop()]:
            if d not in seen:
                seen.add(d)
                stack.append(d)
    return seen


def main(argv):
    mods = modules(SRC)
    deps = graph(mods)
    name = "::".join
    if len(argv) == 3 and argv[1] == "--show":
        start = tuple(argv[2].split("::"))
        print(" ".join(sorted(name(m) for m in reach(deps, start) if m[: len(start)] != start)))
    cycles = sorted(name(m) for m in mods if m in reach(deps, m))
    for m in cycles:
        path = [mod for mod in mods if name(mod) == m][0]
        back = sorted(name(d) for d in deps[path] if path in reach(deps, d))
        print(f"import cycle: {m} imports {', '.join(back)}, which import it back", file=sys.stderr)
    if not cycles:
        print(f"layers: {len(mods)} modules, no import cycle")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
