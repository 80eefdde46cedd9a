#!/usr/bin/env python3
"""Deterministic instruction counts of the per-request core path (valgrind --tool=callgrind on the
native micro-benchmark binary, benches/core.rs). Wall-clock time on a shared machine is noisy; the
instructions executed for the same input are not, so a regression shows up as a changed count.

For each measurement the binary runs N operations and 0 operations under callgrind; the difference
divided by N is the cost of one operation. The counts are compared with benches/instructions.json (the
recorded reference): more than --tolerance worse is reported as a regression (exit 1 with --check).

Issue 16's two measures come from whole exchanges through the core (`exchange …` in benches/core.rs):
"instructions per 2 KB exchange" (one 2 KB JSON chat request and its JSON answer: inspect, identify,
decide, settle, meter, in steady state over 1,000 credentials) and "instructions per SSE event" (the
difference between the same exchange answered by a 300-event and by a 100-event stream, over 200), the
latter also for a client that streams without `include_usage` (the filter injects it and removes the
usage-only chunk from the answer). `--targets` measures only those (what CI checks: `make bench-regress`).

    python3 benches/instructions.py [--check] [--record] [--tolerance 0.10] [--targets] [--json FILE]
"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REFERENCE = os.path.join(HERE, "instructions.json")
# (measurement name in benches/core.rs, operations counted, bytes per operation or 0)
MEASUREMENTS = [
    ("estimate tokens 2 KB", 20, 2064), ("estimate tokens 16 KB", 5, 16426),
    ("mask 2 KB", 20, 2064), ("phrase scan 2 KB", 20, 0),
    ("template fingerprint (mask + skeleton) 2 KB", 20, 2064),
    ("inspect 2048 B, shape on", 20, 2048), ("inspect 2048 B, shape off", 20, 2048),
    ("inspect 16384 B, shape on", 5, 16384), ("inspect 16384 B, shape off", 5, 16384),
    ("identify + decide + settle 2048 B, 10k keys", 200, 0),
    ("meter SSE 100 chunks", 5, 0), ("meter SSE 300 chunks", 5, 0),
    ("meter SSE 1000 chunks", 3, 0), ("meter SSE 3000 chunks", 2, 0),
] + [
    ("exchange 2 KB JSON", 10, 2048), ("exchange 2 KB SSE 100 events", 3, 0), ("exchange 2 KB SSE 300 events", 3, 0),
    ("exchange 2 KB SSE (usage chunk removed) 100 events", 3, 0),
    ("exchange 2 KB SSE (usage chunk removed) 300 events", 3, 0),
]
# Issue 16's measures, computed from the measurements above: (name, target, how).
EXCHANGE, PER_EVENT = "instructions per 2 KB exchange", "instructions per SSE event"
# The same per-event measure for a client that streamed without `include_usage`: the filter injected it
# and removes the usage-only chunk from the answer (the usage-chunk filter).
PER_EVENT_REMOVED = "instructions per SSE event, usage chunk removed"
REMOVED = "exchange 2 KB SSE (usage chunk removed) {} events"
TARGETS = [
    (EXCHANGE, 40_000, lambda r: r["exchange 2 KB JSON"]),
    (PER_EVENT, 400, lambda r: (r["exchange 2 KB SSE 300 events"] - r["exchange 2 KB SSE 100 events"]) / 200),
    (PER_EVENT_REMOVED, 400, lambda r: (r[REMOVED.format(300)] - r[REMOVED.format(100)]) / 200),
]
TARGET_INPUTS = ["exchange 2 KB JSON", "exchange 2 KB SSE 100 events", "exchange 2 KB SSE 300 events",
                 REMOVED.format(100), REMOVED.format(300)]


def bench_binary():
    # Function names kept (the release profile strips them; code and counts are the same) so that
    # callgrind can count only inside `Bench::run`.
    env = dict(os.environ, CARGO_PROFILE_BENCH_STRIP="false")
    out = subprocess.run(["cargo", "bench", "--bench", "core", "--no-run"], cwd=ROOT, capture_output=True, text=True,
                         env=env)
    m = re.search(r"Executable .*?\((.+?)\)", out.stderr + out.stdout)
    if not m:
        sys.exit("could not build benches/core.rs:\n" + out.stderr)
    return os.path.join(ROOT, m.group(1))


def count(binary, name, iters):
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          "--toggle-collect=*Bench*run*", binary, "--iters", str(iters), name],
                         capture_output=True, text=True)
    m = re.search(r"Collected : (\d+)", out.stderr)
    if not m:
        sys.exit(f"callgrind failed for {name!r}:\n{out.stderr[-2000:]}")
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 on a regression beyond the tolerance")
    ap.add_argument("--record", action="store_true", help="write the counts as the new reference")
    ap.add_argument("--tolerance", type=float, default=0.10)
    ap.add_argument("--json", metavar="FILE", help="also write the counts to FILE (the reference stays as it is)")
    ap.add_argument("--targets", action="store_true",
                    help="only issue 16's measures (instructions per 2 KB exchange and per SSE event)")
    a = ap.parse_args()
    binary = bench_binary()
    reference = json.load(open(REFERENCE)) if os.path.exists(REFERENCE) else {}
    results, worse = {}, []
    print("| measurement | instructions / op | per byte | reference | change |")
    print("|---|---|---|---|---|")
    for name, iters, size in MEASUREMENTS:
        if a.targets and name not in TARGET_INPUTS:
            continue
        per_op = (count(binary, name, iters) - count(binary, name, 0)) / iters
        results[name] = round(per_op)
        ref = reference.get(name)
        change = f"{(per_op - ref) / ref:+.1%}" if ref else "new"
        if ref and per_op > ref * (1 + a.tolerance) and not a.targets:
            worse.append(name)
        per_byte = f"{per_op / size:.1f}" if size else ""
        print(f"| {name} | {per_op:,.0f} | {per_byte} | {ref:,} | {change} |" if ref else
              f"| {name} | {per_op:,.0f} | {per_byte} | | new |", flush=True)
    print("\n| issue 16 measure | instructions | target | reference | change |")
    print("|---|---|---|---|---|")
    for name, target, how in TARGETS:
        value = how(results)
        results[name] = round(value)
        ref = reference.get(name)
        if ref and value > ref * (1 + a.tolerance):
            worse.append(name)
        change = f"{(value - ref) / ref:+.1%}" if ref else "new"
        print(f"| {name} | {value:,.0f} | ≤ {target:,} | {f'{ref:,}' if ref else ''} | {change} |", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)
    if a.record:
        # Keep the rows not measured this time (--targets) as they were.
        with open(REFERENCE, "w") as f:
            json.dump({**reference, **results}, f, indent=2)
            f.write("\n")
        print(f"recorded {REFERENCE}")
    if worse:
        print("regressions beyond", f"{a.tolerance:.0%}:", ", ".join(worse))
        return 1 if a.check else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
