#!/usr/bin/env python3
"""Credential flood at full size: N distinct credentials (default 1,000,000) through the real Envoy
(2 workers, the shipped default policy: ledger.max_credentials = 10,000), driven by wrk (a Lua script
makes every request's key new) against an Envoy direct_response upstream, so the load generator, not
Python, sets the pace. One request in 25 comes from one attacker (logprobs + logit_bias harvesting).

Checks, exit 1 on failure: every response was 200 or (attacker) 403/429; the tracked-credentials gauge
never exceeded max_credentials; evictions ~= flood size (one-shot keys evict each other); the attacker,
active throughout, kept its slot and is still blocked afterwards; the wasm heap (the filter's
distill_guard.wasm_memory_bytes gauge) did not grow after the second batch.

    python3 tests/flood.py [--keys 1000000]      (make flood FLOOD=1000000)
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "benches"))
import bench  # noqa: E402

LUA = """
local flood = '{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"},{"role":"user","content":"tell me more"}]}'
local attack = '{"model":"m","max_tokens":1,"temperature":0,"logprobs":true,"top_logprobs":20,"logit_bias":{"1234":100},"messages":[{"role":"user","content":"next token?"}]}'
local n = 0
request = function()
  n = n + 1
  if n % 25 == 0 then
    return wrk.format("POST", nil, {["authorization"] = "Bearer sk-attacker", ["content-type"] = "application/json"}, attack)
  end
  return wrk.format("POST", nil, {["authorization"] = "Bearer sk-flood-" .. n, ["content-type"] = "application/json"}, flood)
end
"""


def stats(admin):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin}/stats", timeout=10) as r:
        out = {}
        for line in r.read().decode().splitlines():
            k, _, v = line.partition(": ")
            if v.isdigit():
                out[k] = int(v)
        return out


def metric(s, name):
    return s.get("wasmcustom.distill_guard." + name, 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--batch-seconds", type=int, default=20)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="dg-flood-")
    lua = os.path.join(work, "flood.lua")
    with open(lua, "w") as f:
        f.write(LUA)
    policy = json.load(open(os.path.join(ROOT, "envoy", "policy.json")))
    for b in policy["budgets"]:
        b.update({k: v * 1000 for k, v in b.items() if k.startswith("max_")})
    slots = policy["ledger"]["max_credentials"]
    up, up_admin = bench.free_port(), bench.free_port()
    upstream, up_log, _ = bench.start_envoy(bench.upstream_config(up, up_admin), work, "upstream", cpu=1)
    listen, admin = bench.free_port(), bench.free_port()
    cfg = bench.render.render(json.dumps(policy), listen, admin, up, bench.DG_WASM)
    path = os.path.join(work, "proxy.yaml")
    with open(path, "w") as f:
        f.write(cfg)
    log = open(os.path.join(work, "proxy.log"), "w")
    proxy = subprocess.Popen([bench.ENVOY, "-c", path, "--concurrency", "2", "--disable-hot-restart",
                              "--log-level", "warn"], stdout=log, stderr=subprocess.STDOUT)
    errors = []
    try:
        bench.wait_ready(up_admin, upstream)
        bench.wait_ready(admin, proxy)
        url = f"http://127.0.0.1:{listen}/v1/chat/completions"
        samples = []
        start = time.time()
        sent = 0
        while sent < a.keys:
            # Batches of a few seconds; each starts its key counter past every key used so far.
            with open(lua, "w") as f:
                f.write(LUA.replace("local n = 0", f"local n = {sent}"))
            out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c16", f"-d{a.batch_seconds}s", "-s", lua, url],
                                 capture_output=True, text=True, timeout=a.batch_seconds + 120).stdout
            done = int(re.search(r"(\d+) requests in", out).group(1))
            sent += done + 64  # in-flight requests at the cut are counted by Envoy, not by wrk: leave room
            s = stats(admin)
            non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [0, 0])[1])
            samples.append({"keys": sent, "tracked": metric(s, "tracked_credentials"),
                            "evictions": metric(s, "ledger.evictions"), "wasm_memory": metric(s, "wasm_memory_bytes"),
                            "blocked": metric(s, "requests.block"), "throttled": metric(s, "requests.throttle"),
                            "non2xx": non2xx, "seconds": round(time.time() - start)})
            print(json.dumps(samples[-1]), flush=True)
        s = stats(admin)
        attacker = urllib.request.Request(url, data=json.dumps({
            "model": "m", "max_tokens": 1, "logprobs": True, "top_logprobs": 20, "logit_bias": {"1234": 100},
            "messages": [{"role": "user", "content": "next token?"}]}).encode(),
            headers={"authorization": "Bearer sk-attacker", "content-type": "application/json"})
        try:
            status = urllib.request.urlopen(attacker, timeout=10).status
        except urllib.error.HTTPError as err:
            status = err.code
        total = sum(v for k, v in s.items() if k.startswith("wasmcustom.distill_guard.requests.")
                    and k.split(".")[-1] in ("allow", "tag", "degrade", "throttle", "block")) - 1
        refused = metric(s, "requests.block") + metric(s, "requests.throttle")
        attacks = total // 25
        print(f"\n{total:,} requests ({total - attacks:,} distinct flood credentials + {attacks:,} from one attacker) in "
              f"{samples[-1]['seconds']} s; ledger slots {slots:,}")
        print("| after requests | tracked credentials | evictions | wasm heap (bytes) | attacker requests refused |")
        print("|---|---|---|---|---|")
        for smp in samples:
            print(f"| {smp['keys']:,} | {smp['tracked']:,} | {smp['evictions']:,} | {smp['wasm_memory']:,} | "
                  f"{smp['blocked'] + smp['throttled']:,} |")
        print(f"attacker after the flood: {status}; non-2xx responses (all the attacker's): "
              f"{sum(x['non2xx'] for x in samples):,} vs {refused:,} refused by the filter")
        if any(x["tracked"] > slots for x in samples):
            errors.append("tracked credentials exceeded max_credentials")
        if samples[-1]["evictions"] < (total - attacks) - 2 * slots:
            errors.append(f"fewer evictions than one-shot keys beyond the table: {samples[-1]['evictions']}")
        if status != 403:
            errors.append(f"the attacker is not blocked after the flood ({status})")
        if samples[-1]["wasm_memory"] > samples[min(1, len(samples) - 1)]["wasm_memory"]:
            errors.append(f"wasm heap grew: {samples[0]['wasm_memory']} -> {samples[-1]['wasm_memory']}")
        if sum(x["non2xx"] for x in samples) > refused:
            errors.append("non-2xx responses beyond the filter's own refusals")
    finally:
        proxy.terminate()
        upstream.terminate()
        proxy.wait(10)
        upstream.wait(10)
        log.close()
        up_log.close()
    for e in errors:
        print("FLOOD FAILED:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
