#!/usr/bin/env python3
"""Where distill-guard's proxy CPU per request goes, at saturation: the 2 KB chat request through proxies
that each add one thing to the one before, all up at once and measured interleaved (like bench.py):

  noop_wasm         the no-op filter (pauses for the body, reads nothing)
  reads             the host-call floor filter reading what distill-guard must read: the request header
                    map, the request body, the response header map, each response body chunk
  + shared_data     + distill-guard's shared-data reads and CAS writes (ledger-sized records)
  + header_writes   + its four x-distill-* upstream headers
  host_calls        + its clock read and filter-state exports: all of distill-guard's host calls, none of
                    its work
  dg_bare           distill-guard without budgets or detection (identify, parse, estimate, tag, meter)
  dg_no_detection   distill-guard with the budgets, without detection
  dg                distill-guard enforcing the default policy (budgets raised out of the way)

The distill-guard rows rotate 10,000 credentials. For each row: the proxy's CPU time per request (wrk,
16 connections), its paired difference from the no-op filter and from the row above, and its capacity
against the no-op filter (the throughput ratio when the proxy's core saturates).

    python3 benches/cost_breakdown.py [--reps 20] [--seconds 2]
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
from latency_breakdown import variant  # noqa: E402

SHARED = "shared_get=3.604 shared_set=2.602"
STEPS = [("noop_wasm", "noop_wasm", None, None), ("reads", "host_calls", None, ""),
         ("+ shared_data", "host_calls", None, SHARED),
         ("+ header_writes", "host_calls", None, SHARED + " header_set=4"),
         ("host_calls", "host_calls", None, bench.HOSTCALLS_SPEC),
         ("dg_bare", "dg_enforce", {"budgets": [], "detection__enabled": False}, None),
         ("dg_no_detection", "dg_enforce", {"detection__enabled": False}, None),
         ("dg", "dg_enforce", {}, None)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--seconds", type=int, default=2)
    a = ap.parse_args()
    assert STEPS[4][3] == bench.HOSTCALLS_SPEC
    work = tempfile.mkdtemp(prefix="dg-cost-")
    body = os.path.join(work, "body2048.json")
    with open(body, "wb") as f:
        f.write(bench.chat_body(2048))
    lua = os.path.join(work, "post.lua")
    with open(lua, "w") as f:
        f.write(bench.LUA)
    base = bench.bench_policy()
    cpu = {name: [] for name, _, _, _ in STEPS}
    with bench.SideBySide(work) as side:
        for name, kind, changes, spec in STEPS:
            policy = json.dumps(variant(base, **changes)) if changes is not None else "{}"
            side.add(name, kind, policy, hostcalls_spec=spec if spec is not None else bench.HOSTCALLS_SPEC)
        side.wait_ready()
        names = list(side.proxies)
        for rep in range(a.reps):
            for name in names if rep % 2 == 0 else names[::-1]:
                proc, _, listen, admin = side.proxies[name]
                url = f"http://127.0.0.1:{listen}/v1/chat/completions"
                keys = 10_000 if name.startswith("dg") else 1
                c0, d0 = bench.proc_cpu_seconds(proc.pid), bench.completed(admin)
                bench.wrk(url, body, keys, 16, a.seconds, lua)
                c1, d1 = bench.proc_cpu_seconds(proc.pid), bench.completed(admin)
                cpu[name].append((c1 - c0) * 1e6 / max(1, d1 - d0))
    shutil.rmtree(work, ignore_errors=True)

    def paired(name, ref, f):
        return statistics.median(f(x, y) for x, y in zip(cpu[name], cpu[ref]))

    print(f"2 KB chat request at saturation (wrk, 16 connections), {a.reps} interleaved repetitions of "
          f"{a.seconds} s; medians, differences and ratios paired within each repetition.\n")
    print("| config | proxy CPU µs/req | added vs no-op | added vs the row above | capacity vs no-op |")
    print("|---|---|---|---|---|")
    for i, name in enumerate(names):
        above = paired(name, names[i - 1], lambda x, y: x - y) if i else 0.0
        print(f"| {name} | {statistics.median(cpu[name]):.0f} | {paired(name, 'noop_wasm', lambda x, y: x - y):+.1f} | "
              f"{above:+.1f} | {paired(name, 'noop_wasm', lambda x, y: y / x):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
