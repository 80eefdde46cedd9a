#!/usr/bin/env python3
"""Issue 16's targets and the README's sizing figures from one round's saved measurements
(benches/round.sh writes them to target/round/): the Envoy run (bench.py --out), the latency run
(latency_breakdown.py --out), the V8 harness (wasm_bench.py --out) and the instruction counts
(instructions.py --json). Prints markdown; every figure is computed from the files, nothing is typed in.

    python3 benches/round_summary.py [--dir target/round] [--fill BENCHMARKS.md]

--fill replaces each block `<!-- round:NAME -->` … `<!-- /round:NAME -->` of a markdown file with the
tables of target/round/NAME.txt (its log lines left out; NAME `summary` is this script's own output).
"""
import argparse
import io
import json
import os
import re
import statistics
import subprocess
from contextlib import redirect_stdout

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def load(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def capacity(proxy, kind, ref, mix):
    """Median and range over repetitions of ref's proxy CPU per request / kind's (paired)."""
    pairs = [q[mix]["cpu_us"] / r[mix]["cpu_us"] for r, q in zip(proxy[kind], proxy[ref])]
    return statistics.median(pairs), min(pairs), max(pairs)


def cpu(proxy, kind, mix):
    return statistics.median(r[mix]["cpu_us"] for r in proxy[kind])


def verdict(value, target, lower_is_better):
    met = value <= target if lower_is_better else value >= target
    if met:
        return "yes"
    if lower_is_better:
        if value > 2 * target:
            return f"no: {value / target:.1f}× the target"
        return f"no: {value - target:+.2f} over" if target < 10 else f"no: {value - target:+,.0f} over"
    return f"no: {target - value:.2f} short"


# The main commit the round compares its instruction counts with (the start of round three).
START = "8720c03"
# Lines of a run's output that are its log, not its tables.
LOG = re.compile(r"^(\S+ \d+ \{|peer_go_wasm metered|usage-chunk filter:|recorded |\d\d:\d\d:\d\d |running \d+ test|"
                 r"test )")


def fill(path, directory):
    """Replace the marked blocks of `path` with the saved tables; returns the names filled."""
    with open(path) as f:
        text = f.read()
    done = []

    def block(m):
        name = m.group(1)
        if name in COMPUTED:
            out = io.StringIO()
            with redirect_stdout(out):
                if COMPUTED[name](directory):
                    return m.group(0)
            body = out.getvalue()
        else:
            source = os.path.join(directory, f"{name}.txt")
            if not os.path.exists(source):
                return m.group(0)
            with open(source) as f:
                body = "".join(line for line in f if not LOG.match(line))
        done.append(name)
        if "\n" not in m.group(0):  # an inline block (a figure in a sentence)
            return f"<!-- round:{name} -->{body.strip()}<!-- /round:{name} -->"
        return f"<!-- round:{name} -->\n{body.strip()}\n<!-- /round:{name} -->"

    text = re.sub(r"<!-- round:([\w-]+) -->.*?<!-- /round:\1 -->", block, text, flags=re.S)
    with open(path, "w") as f:
        f.write(text)
    return done


def instructions(directory):
    """Every instruction row of this round against the reference at the start of the round."""
    now = load(os.path.join(directory, "instructions.json"))
    if not now:
        return 1
    start = json.loads(subprocess.run(["git", "show", f"{START}:benches/instructions.json"], cwd=ROOT,
                                      capture_output=True, text=True, check=True).stdout)
    print(f"| measurement | start of round ({START}) | this round | change |\n|---|---|---|---|")
    for name, value in now.items():
        before = start.get(name)
        change = f"{(value - before) / before:+.1%}" if before else "new"
        print(f"| {name} | {f'{before:,}' if before else ''} | {value:,} | {change} |")
    return 0


def stream(directory):
    """The per-event cost with and without the usage-chunk filter, from this round's counts."""
    now = load(os.path.join(directory, "instructions.json"))
    if not now:
        return 1
    print("| request | 100 events | 300 events | per event | target |\n|---|---|---|---|---|")
    for kind, label, measure in (("SSE", "no `stream` field (usage counted, nothing removed)",
                                  "instructions per SSE event"),
                                 ("SSE (usage chunk removed)", "`\"stream\": true` alone (include_usage injected, "
                                  "usage chunk removed)", "instructions per SSE event, usage chunk removed")):
        a, b = (now.get(f"exchange 2 KB {kind} {n} events") for n in (100, 300))
        if a and b:
            print(f"| {label} | {a:,} | {b:,} | {now[measure]:,} | ≤ 400 |")
    return 0


def saved(directory, name):
    """The text of a saved output, or None."""
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read()


def core(directory):
    """`cargo bench --bench core`'s lines as a table."""
    text = saved(directory, "core.txt")
    if text is None:
        return 1
    print("| measurement | µs/op | MB/s |\n|---|---|---|")
    for line in text.splitlines():
        m = re.match(r"^(.*?)\s+([\d.]+) (µs/op|shared-data calls/op)\s*(?:([\d.]+) MB/s)?\s*$", line)
        if m and m.group(3) == "µs/op":
            print(f"| {m.group(1)} | {m.group(2)} | {m.group(4) or ''} |")
        elif m:
            print(f"| {m.group(1)}: shared-data calls per operation | {m.group(2)} | |")
    return 0


def module_bytes(directory):
    text = saved(directory, "module-bytes.txt")
    if text is None:
        return 1
    print(f"{int(text.strip()):,}")
    return 0


def commit(directory):
    text = saved(directory, "commit")
    if text is None:
        return 1
    print(text.strip())
    return 0


COMPUTED = {"summary": lambda d: summary(d) and 0, "instructions": instructions, "stream": stream, "core": core,
            "commit": commit, "module-bytes": module_bytes}


if __name__ == "__main__":
    raise SystemExit(main())
