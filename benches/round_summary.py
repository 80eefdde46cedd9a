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
import sys
from contextlib import redirect_stdout

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bench  # noqa: E402


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


def load_average(directory):
    """The load averages round.sh kept (1, 5, 15 minutes) at each step's start and end."""
    text = saved(directory, "load.txt")
    if text is None:
        return 1
    print("; ".join(f"{line.split()[1]} {line.split()[2]} (UTC {line.split()[0]}): {' / '.join(line.split()[3:])}"
                    for line in text.splitlines() if len(line.split()) == 6))
    return 0


def commit(directory):
    text = saved(directory, "commit")
    if text is None:
        return 1
    print(text.strip())
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=os.path.join(ROOT, "target", "round"))
    ap.add_argument("--fill", metavar="MARKDOWN", help="fill the marked blocks of this file")
    a = ap.parse_args()
    if a.fill:
        print("filled:", ", ".join(fill(a.fill, a.dir)) or "nothing")
        return 0
    return summary(a.dir)


def summary(directory):
    """Prints issue 16's targets and the sizing figures of the round saved in `directory`."""
    proxy = load(os.path.join(directory, "bench-proxy.json"))
    latency = load(os.path.join(directory, "latency.json"))
    wasm = load(os.path.join(directory, "wasm-counts.json"))
    instr = load(os.path.join(directory, "instructions.json"))
    rows = []
    if proxy:
        for mix, label, target in (("2048", "capacity, 2 KB JSON, vs the no-op filter", 0.75),
                                   ("16384_sse", "capacity, 16 KB / 300-event SSE, vs the no-op filter", 0.65),
                                   ("16384_sse_strip", "the same, client streaming without include_usage (usage "
                                    "chunk removed)", 0.65)):
            if mix in proxy["no_filter"][0]:
                m, lo, hi = capacity(proxy, "dg_enforce", "noop_wasm", mix)
                floor, _, _ = capacity(proxy, "reads_only", "noop_wasm", mix)
                rows.append((label, f"{m:.2f}× ({lo:.2f}–{hi:.2f} over {len(proxy['no_filter'])} reps; reads-only "
                             f"floor {floor:.2f}×)", f"≥ {target}×", verdict(m, target, False)))
    if instr:
        for key, label, target in (("instructions per 2 KB exchange", "instructions per 2 KB exchange", 40_000),
                                   ("instructions per SSE event", "instructions per SSE event", 400),
                                   ("instructions per SSE event, usage chunk removed",
                                    "instructions per SSE event, usage chunk removed", 400)):
            if key in instr:
                rows.append((label, f"{instr[key]:,}", f"≤ {target:,}", verdict(instr[key], target, True)))
    if wasm and wasm.get("steady"):
        orders = {"roundrobin": "in turn", "random": "uniformly at random", "zipf": "Zipf-skewed"}
        for order, name in orders.items():
            steady = [s for s in wasm["steady"] if s["order"] == order]
            if not steady:
                continue
            met = [s["rate"] for s in steady if s["calls"] <= 1]
            rows.append((f"shared-data calls per request, steady state, 10,000 credentials sending {name}, at "
                         + " / ".join(f"{s['rate']:,}" for s in steady) + " req/s a worker",
                         " / ".join(f"{s['calls']:.2f}" for s in steady), "≤ 1 on average",
                         f"from {min(met):,} req/s a worker" if met else "no"))
    if latency:
        p50 = latency["p50_us"]
        diffs = sorted(x - y for x, y in zip(p50["dg"], p50["reads_only"]))
        m = statistics.median(diffs)
        rows.append((f"added p50 at {latency['rate']} req/s, 2 KB, vs the reads-only floor",
                     f"{m:+.0f} µs (per rep: {', '.join(f'{d:+.0f}' for d in diffs)})", "≤ +40 µs",
                     verdict(m, 40, True)))
    print("| measure | this run | target | met? |\n|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if proxy:
        print("\nSizing (proxy CPU per request at saturation, medians; cores per 1,000 requests a second = "
              "µs per request / 1,000):\n")
        print("| traffic | Envoy alone µs/req | distill-guard enforcing µs/req | × | cores per 1,000 req/s, "
              "alone → with distill-guard |\n|---|---|---|---|---|")
        for mix, label in (("2048", "2 KB chat requests, JSON answers"),
                           ("16384_sse", "16 KB chat requests, 300-event SSE answers"),
                           ("16384_sse_strip", "the same, client streaming without include_usage")):
            if mix not in proxy["no_filter"][0]:
                continue
            base = cpu(proxy, "no_filter", mix)
            for kind, note in (("dg_enforce", ""), ("dg_fleet", " (fleet-wide state)")):
                if proxy.get(kind):
                    dg = cpu(proxy, kind, mix)
                    print(f"| {label}{note} | {base:.0f} | {dg:.0f} | {dg / base:.1f} | "
                          f"{base / 1000:.2f} → {dg / 1000:.2f} |")
    if proxy and proxy.get("dg_fleet"):
        added = []
        for mix in (m for m in bench.MIXES if m in proxy["no_filter"][0]):
            d = sorted(f[mix]["cpu_us"] - e[mix]["cpu_us"] for f, e in zip(proxy["dg_fleet"], proxy["dg_enforce"]))
            added.append(f"{bench.mix_label(mix)}: {statistics.median(d):+.0f} µs ({d[0]:+.0f} to {d[-1]:+.0f})")
        print("\nFleet-wide state, proxy CPU per request added over distill-guard enforcing (paired, median and range): "
              + "; ".join(added) + ".")
    if wasm and wasm.get("heap"):
        h = wasm["heap"]
        print(f"\nwasm heap: {h['empty']:,} B empty, {h['full']:,} B once the ledger view is full "
              f"({h['per_subject']:,.0f} B a subject), {h['after']:,} B after {h['requests']:,} more exchanges.")
    return 0


COMPUTED = {"summary": lambda d: summary(d) and 0, "instructions": instructions, "stream": stream, "core": core,
            "commit": commit, "module-bytes": module_bytes, "load": load_average}


if __name__ == "__main__":
    raise SystemExit(main())
