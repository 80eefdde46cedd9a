#!/usr/bin/env python3
"""Where the added latency at a fixed low rate comes from: the same 2 KB chat request through proxies
that differ by one thing each, all up at once and measured interleaved (like bench.py):

  no_filter, noop_wasm, reads_only (the reads-only floor: reads the request headers and body and the
  response headers and body, nothing else), host_calls (the host-call floor: distill-guard's host
  calls, no work), peer_go_wasm (the peer: a Go proxy-wasm token meter, benches/peer-meter),
  dg (default policy, enforcing), dg without detection, dg without budgets,
  dg bare (no budgets, no detection: identify, parse, estimate, tag headers, meter the response)

Issue 16's latency target is read from the `added vs reads-only` column of the `dg` row: the p50 added
over the reads-only floor, paired within each repetition (median of the differences).

For each: p50 latency at a fixed arrival rate (oha, open loop, coordinated-omission corrected) and the
proxy's CPU time per request *at that rate* (which, unlike CPU per request at saturation, includes the
cost of running each request with cold caches).

    python3 benches/latency_breakdown.py [--rate 300] [--reps 3] [--seconds 3] [--out FILE]
"""
import argparse
import copy
import json
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402


def variant(policy, **changes):
    p = copy.deepcopy(policy)
    for path, value in changes.items():
        node = p
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=int, default=300)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--out", help="also write the measurements (per repetition) to this JSON file")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="dg-latency-")
    body = os.path.join(work, "body2048.json")
    with open(body, "wb") as f:
        f.write(bench.chat_body(2048))
    base = bench.bench_policy()
    configs = [("no_filter", "no_filter", base), ("noop_wasm", "noop_wasm", base), ("reads_only", "reads_only", base),
               ("host_calls", "host_calls", base), ("peer_go_wasm", "peer_go_wasm", base), ("dg", "dg_enforce", base),
               ("dg_no_detection", "dg_enforce", variant(base, detection__enabled=False)),
               ("dg_no_budgets", "dg_enforce", variant(base, budgets=[])),
               ("dg_bare", "dg_enforce", variant(base, budgets=[], detection__enabled=False))]
    p50 = {name: [] for name, _, _ in configs}
    cpu = {name: [] for name, _, _ in configs}
    with bench.SideBySide(work) as side:
        for name, kind, policy in configs:
            side.add(name, kind, json.dumps(policy))
        side.wait_ready()
        for rep in range(a.reps):
            # Alternate the order between repetitions (A B C …, then … C B A), as bench.py does.
            order = list(side.proxies.items())
            for name, (proc, _, listen, admin) in (order if rep % 2 == 0 else order[::-1]):
                url = f"http://127.0.0.1:{listen}/v1/chat/completions"
                c0, d0 = bench.proc_cpu_seconds(proc.pid), bench.completed(admin)
                p50[name].append(bench.fixed_rate(url, body, a.rate, a.seconds, 1)["p50_us"])
                c1, d1 = bench.proc_cpu_seconds(proc.pid), bench.completed(admin)
                cpu[name].append((c1 - c0) * 1e6 / max(1, d1 - d0))
        failed = bench.check_peer(side.proxies)
    shutil.rmtree(work, ignore_errors=True)

    if a.out:
        with open(a.out, "w") as f:
            json.dump({"rate": a.rate, "reps": a.reps, "seconds": a.seconds, "p50_us": p50, "cpu_us": cpu}, f, indent=2)

    def added(name, ref, series):
        return statistics.median(x - y for x, y in zip(series[name], series[ref]))

    print(f"2 KB chat request at {a.rate} req/s, {a.reps} interleaved repetitions of {a.seconds} s; medians "
          "(added: medians of the differences paired within each repetition).\n")
    print("| config | p50 µs | added vs no filter | added vs reads-only | proxy CPU µs/req at this rate | "
          "added vs no filter | added vs reads-only |")
    print("|---|---|---|---|---|---|---|")
    for name in p50:
        print(f"| {name} | {statistics.median(p50[name]):.0f} | {added(name, 'no_filter', p50):+.0f} | "
              f"{added(name, 'reads_only', p50):+.0f} | {statistics.median(cpu[name]):.0f} | "
              f"{added(name, 'no_filter', cpu):+.0f} | {added(name, 'reads_only', cpu):+.0f} |")
    diffs = sorted(x - y for x, y in zip(p50["dg"], p50["reads_only"]))
    print(f"\ndistill-guard (enforcing) p50 added vs the reads-only floor: {added('dg', 'reads_only', p50):+.0f} µs "
          f"(per repetition, sorted: {', '.join(f'{d:+.0f}' for d in diffs)}; issue 16 target: <= +40 µs)")
    if failed:
        print(failed)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
