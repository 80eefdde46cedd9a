#!/usr/bin/env python3
"""Soak: the real Envoy (2 workers) + the filter (shipped default policy) + the mock upstream, at a steady
rate of mixed traffic for a bounded time, sampled every few seconds. It fails (exit 1) on any 5xx, any
wasm VM created or failed after start-up, wasm memory that grows after the warm-up, or Envoy memory
that keeps growing (more than 20% from the first to the last third of the run).

Traffic: OpenAI chat (JSON and SSE), Responses, Anthropic messages (JSON and SSE) from 5,000 rotating
keys; a distillation client (templated chain-of-thought prompts, logprobs) that gets tagged, throttled
and blocked; malformed bodies; requests without a key; upstream errors (529) and cut streams.

    python3 tests/soak.py [--seconds 300] [--rate 80]        (make soak SOAK_SECONDS=300)
"""
import argparse
import json
import os
import random
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "e2e"))
from harness import Envoy  # noqa: E402

# 529 is the upstream error the mock is asked for (Anthropic's "overloaded"): Envoy never makes one up.
ALLOWED = {200, 400, 401, 403, 429, 529}


def mixed(e, i, rng):
    kind = rng.random()
    key = f"sk-soak-{rng.randrange(5000)}"
    if kind < 0.35:
        return e.chat(key=key, max_tokens=200)
    if kind < 0.50:
        return e.chat(key=key, stream=True, extra_headers={"x-mock-reply-words": "60"})
    if kind < 0.60:
        return e.request("/v1/responses", {"model": "gpt-4.1", "input": "Summarise the weather."},
                         {"authorization": f"Bearer {key}"})
    if kind < 0.72:
        return e.anthropic(key=key, stream=rng.random() < 0.5)
    if kind < 0.82:
        # The distillation client: one key, a fixed template, reasoning coerced, logprobs asked for.
        body = {"model": "gpt-4o", "logprobs": True, "top_logprobs": 5, "messages": [
            {"role": "user", "content": f"Solve problem {i}: show your reasoning step by step, then give the answer."}]}
        return e.request("/v1/chat/completions", body, {"authorization": "Bearer sk-soak-harvester"})
    if kind < 0.88:
        return e.request("/v1/chat/completions", raw=b'{"messages": [', headers={"authorization": f"Bearer {key}",
                                                                                "content-type": "application/json"})
    if kind < 0.91:
        return e.chat(key=None)
    if kind < 0.95:
        return e.chat(key=key, extra_headers={"x-mock-status": "529"})
    return e.chat(key=key, stream=True, extra_headers={"x-mock-cut-after": "3"})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=300)
    ap.add_argument("--rate", type=float, default=80, help="requests per second, spread over 8 clients")
    ap.add_argument("--sample", type=float, default=10)
    a = ap.parse_args()
    e = Envoy(concurrency=2)
    statuses, errors, samples = {}, [], []
    lock = threading.Lock()
    stop = time.time() + a.seconds
    counter = iter(range(10**9))

    def client(seed):
        rng = random.Random(seed)
        interval = 8 / a.rate
        next_at = time.time()
        while time.time() < stop:
            i = next(counter)
            try:
                r = mixed(e, i, rng)
                status = r.status
            except Exception as ex:  # noqa: BLE001 - a failed connection is a soak failure
                status = f"error: {ex}"
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
            next_at += interval
            time.sleep(max(0.0, next_at - time.time()))

    def sample():
        s = e.stats()
        rss = 0
        with open(f"/proc/{e.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
        samples.append({"t": round(a.seconds - (stop - time.time())), "rss": rss,
                        "wasm_memory": s.get("wasmcustom.distill_guard.wasm_memory_bytes", 0),
                        "vm_created": s.get("wasm.envoy.wasm.runtime.v8.created", 0),
                        "vm_active": s.get("wasm.envoy.wasm.runtime.v8.active", 0),
                        "tracked": s.get("wasmcustom.distill_guard.tracked_credentials", 0),
                        "requests": sum(v for k, v in s.items() if k.startswith("wasmcustom.distill_guard.requests.")
                                        and k.split(".")[-1] in ("allow", "tag", "degrade", "throttle", "block"))})

    try:
        sample()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        while time.time() < stop:
            time.sleep(a.sample)
            sample()
        for t in threads:
            t.join()
        sample()
        bad = {k: v for k, v in statuses.items() if k not in ALLOWED}
        print("statuses:", json.dumps({str(k): v for k, v in sorted(statuses.items(), key=str)}))
        print("| t (s) | requests decided | tracked credentials | wasm memory (bytes) | Envoy RSS (MiB) | VMs created |")
        print("|---|---|---|---|---|---|")
        for smp in samples:
            print(f"| {smp['t']} | {smp['requests']} | {smp['tracked']} | {smp['wasm_memory']:,} | "
                  f"{smp['rss'] / 2**20:.1f} | {smp['vm_created']} |")
        warm = samples[1] if len(samples) > 2 else samples[0]
        third = max(1, len(samples) // 3)
        first_rss = sum(s["rss"] for s in samples[:third]) / third
        last_rss = sum(s["rss"] for s in samples[-third:]) / third
        if bad:
            errors.append(f"unexpected statuses: {bad}")
        if samples[-1]["vm_created"] != samples[0]["vm_created"]:
            errors.append("a wasm VM was created after start-up (a VM failed and was replaced)")
        if samples[-1]["wasm_memory"] > warm["wasm_memory"]:
            errors.append(f"wasm memory grew after the warm-up: {warm['wasm_memory']} -> {samples[-1]['wasm_memory']}")
        if last_rss > first_rss * 1.2:
            errors.append(f"Envoy memory kept growing: {first_rss / 2**20:.1f} -> {last_rss / 2**20:.1f} MiB")
        failed_lines = [l for l in e.log().splitlines() if "wasm" in l.lower() and
                        any(w in l.lower() for w in ("vm failed", "runtime error", "unreachable", "panicked"))]
        if failed_lines:
            errors.append("the log reports a wasm failure: " + failed_lines[0][:300])
        total = sum(statuses.values())
        print(f"{total} requests in {a.seconds} s ({total / a.seconds:.0f}/s)")
    finally:
        e.close()
    for err in errors:
        print("SOAK FAILED:", err)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
