"""Extracts real source-code snippets from permissively licensed packages into data/code.jsonl: the
intent model's *ordinary* code text (editor completions, agents' file contents and tool output read as
code must not look like a judging or data-generation request).

Usage (the sources are what the project's own toolchain installs; any subset will do):

    python3 extract_code.py --python /usr/lib/python3.11 \\
        --cargo ~/.cargo/registry/src/index.crates.io-* \\
        --go ~/go/pkg/mod/golang.org/x --go ~/go/pkg/mod/github.com/prometheus \\
        --go ~/go/pkg/mod/github.com/lyft --go ~/go/pkg/mod/github.com/envoyproxy \\
        --npm /usr/lib/node_modules/npm/node_modules

Kept: Python standard library modules (PSF-2.0); Rust crates whose Cargo.toml says MIT or Apache-2.0;
Go modules under golang.org/x (BSD-3-Clause) and github.com/prometheus, lyft and envoyproxy (Apache-2.0); npm packages whose
package.json says MIT, ISC, BSD-2/3-Clause or Apache-2.0. Every row names its package and license.
Snippets are windows of whole lines, 40-600 bytes (the filter's intent model reads texts up to 512 bytes
whole and longer ones by their first and last 256), at most PER_PACKAGE per package, deterministic for
the seed. Snippets that speak about language models' prompts (a few packages ship prompt text) are
dropped, so no attack instruction is labelled ordinary.
"""

import argparse
import glob
import json
import os
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
PER_PACKAGE = 6
PACKAGES_PER_ECOSYSTEM = 110
OK_LICENSES = re.compile(r"^\s*(MIT|ISC|Apache-2\.0|BSD-[23]-Clause)(\s*(OR|/)\s*(MIT|Apache-2\.0))?\s*$", re.I)
PROMPTISH = re.compile(r"step by step|system prompt|rubric|training data|language model|chain of thought|jsonl|"
                       r"\bllm\b|\bgpt|prompt template", re.I)


def snippets(rng, text, n):
    lines = text.splitlines()
    out = []
    for _ in range(n * 3):
        if len(out) >= n or not lines:
            break
        start = rng.randrange(len(lines))
        want = rng.choice([80, 160, 300, 480, 600])
        chunk = []
        size = 0
        for line in lines[start:]:
            if size + len(line) + 1 > want and chunk:
                break
            chunk.append(line)
            size += len(line) + 1
        s = "\n".join(chunk).strip("\n")
        if 40 <= len(s) <= 600 and not PROMPTISH.search(s) and s.strip():
            out.append(s)
    return out


def read(path):
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def python_packages(root):
    root = Path(root)
    pkgs = {}
    for p in sorted(root.glob("*.py")):
        pkgs[p.stem] = [p]
    for d in sorted(root.iterdir()):
        if d.is_dir() and (d / "__init__.py").exists() and d.name not in ("test", "idlelib", "site-packages"):
            pkgs[d.name] = sorted(d.rglob("*.py"))
    return {k: (v, "PSF-2.0") for k, v in pkgs.items()}


def cargo_packages(roots):
    pkgs = {}
    for root in roots:
        for d in sorted(Path(root).iterdir()):
            toml = read(d / "Cargo.toml")
            m = re.search(r'^license\s*=\s*"([^"]+)"', toml, re.M)
            if not m or not OK_LICENSES.match(m.group(1)):
                continue
            name = re.sub(r"-\d[\w.+-]*$", "", d.name)
            if name not in pkgs:
                pkgs[name] = (sorted((d / "src").rglob("*.rs")), m.group(1))
    return pkgs


def go_packages(roots):
    pkgs = {}
    for root in roots:
        lic = "BSD-3-Clause" if "golang.org" in str(root) else "Apache-2.0"
        for d in sorted(Path(root).iterdir()):
            if d.is_dir():
                files = sorted(f for f in d.rglob("*.go") if "testdata" not in f.parts)
                pkgs[d.name.split("@")[0]] = (files, lic)
    return pkgs


def npm_packages(root):
    pkgs = {}
    for d in sorted(Path(root).iterdir()):
        try:
            meta = json.loads(read(d / "package.json") or "{}")
        except json.JSONDecodeError:
            continue
        lic = meta.get("license")
        if not isinstance(lic, str) or not OK_LICENSES.match(lic):
            continue
        files = sorted(f for f in d.rglob("*.js") if "node_modules" not in f.relative_to(d).parts)
        pkgs[d.name] = (files, lic)
    return pkgs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python")
    ap.add_argument("--cargo", nargs="*", default=[])
    ap.add_argument("--go", action="append", default=[])
    ap.add_argument("--npm")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--out", default=str(HERE / "data" / "code.jsonl"))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    ecosystems = []
    if args.python:
        ecosystems.append(("python", python_packages(args.python)))
    if args.cargo:
        ecosystems.append(("rust", cargo_packages([g for r in args.cargo for g in glob.glob(os.path.expanduser(r))])))
    if args.go:
        ecosystems.append(("go", go_packages([os.path.expanduser(r) for r in args.go])))
    if args.npm:
        ecosystems.append(("javascript", npm_packages(args.npm)))
    rows = []
    for eco, pkgs in ecosystems:
        names = sorted(n for n, (files, _) in pkgs.items() if files)
        rng.shuffle(names)
        for name in sorted(names[:PACKAGES_PER_ECOSYSTEM]):
            files, lic = pkgs[name]
            picked = rng.sample(files, min(4, len(files)))
            got = []
            for f in picked:
                got.extend(snippets(rng, read(f), PER_PACKAGE // len(picked) + 1))
            for s in got[:PER_PACKAGE]:
                rows.append(dict(ecosystem=eco, package=name, license=lic, text=s))
    Path(args.out).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} snippets from {len({(r['ecosystem'], r['package']) for r in rows})} packages -> {args.out}")


if __name__ == "__main__":
    main()
