#!/usr/bin/env python3
"""Side-by-side benchmark of the same Envoy build in seven configurations, interleaved in one run
(all the proxies up at once; each request mix measured A B C D E, then E D C B A, ...), with the same
upstream and request mix:

  1. no wasm filter          2. the no-op proxy-wasm filter (benches/noop-filter: pauses for the body)
  3. the reads-only floor (benches/hostcalls-filter with no optional calls: reads the request headers
     and body and the response headers and body, nothing else)
  4. the host-call floor (benches/hostcalls-filter: distill-guard's host calls per exchange, no work)
  5. the peer: token usage metering of the same answers (JSON and SSE) by a Go proxy-wasm plugin built
     on Higress's Go SDK with Go's wasip1 target (benches/peer-meter, `make peer-tools`)
  6. distill-guard, default policy in shadow mode      7. distill-guard enforcing
  (6 and 7 rotate through 10,000 distinct credentials)
  8. with --fleet: distill-guard enforcing with fleet-wide state (README "More than one replica"): Envoy's
     rate limit filter checking and charging the policy's budgets in envoyproxy/ratelimit on Redis, and
     the policy's `fleet` section on (detection counters sent from the root context every second). Redis
     and the service run on CPU 1 with the upstream and the load generator; only Envoy's CPU is counted.

The upstream is a second Envoy answering from `direct_response` (a chat completion with usage, or an SSE
stream of a few hundred chunks), so the upstream is never the bottleneck. Each proxy runs one worker
pinned to CPU 0 (only the one under load is busy); wrk and the upstream share CPU 1. Ratios are
paired: taken within one repetition, seconds apart, then the median over repetitions.

Per configuration and request mix it measures:
  - throughput with wrk at 16 connections (closed loop), and the proxy's own CPU time per request over
    that run (utime+stime of the Envoy process from /proc, divided by the requests Envoy completed).
    On a 2-core machine the load generator's core can cap the measured throughput; the proxy's CPU per
    request is what decides its throughput at saturation, so ratios of it are reported too;
  - latency percentiles at a fixed arrival rate below every configuration's saturation, open loop with
    coordinated-omission correction: `oha -q RATE --latency-correction` (installed by `make bench-proxy`;
    one credential, since oha cannot vary headers), or, when oha is absent (the CI smoke run),
    benches/openloop.py (Python asyncio, rotating 10,000 credentials, ~1 ms of its own overhead).

Request mixes (--mixes): 2 KB and 16 KB chat requests answered in JSON or by a 300-event SSE stream, and
16 KB streamed to a client that sent `"stream": true` without include_usage (`16384_sse_strip`: distill-
guard injects include_usage and removes the usage-only chunk from the answer; the run checks it did).

    python3 benches/bench.py [--reps 5] [--seconds 4] [--latency-seconds N] [--rate 300] [--smoke]
                             [--mixes 2048,2048_sse,16384,16384_sse,16384_sse_strip] [--out target/bench.json]
                             [--baseline-wasm other.wasm]   # another build, enforcing
                             [--fleet]                      # distill-guard with fleet-wide state
                             [--fleet-budgets filter]       # ... its budgets enforced by the filter
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "envoy"))
sys.path.insert(0, os.path.join(ROOT, "envoy", "fleet"))
import render  # noqa: E402
import openloop  # noqa: E402

ENVOY = os.path.join(ROOT, ".tools", "venv", "bin", "envoy")
DG_WASM = os.path.join(ROOT, "target", "wasm32-wasip1", "release", "distill_guard.wasm")
NOOP_WASM = os.path.join(HERE, "noop-filter", "target", "wasm32-wasip1", "release", "noop_filter.wasm")
HOSTCALLS_WASM = os.path.join(HERE, "hostcalls-filter", "target", "wasm32-wasip1", "release", "hostcalls_filter.wasm")
PEER_WASM = os.path.join(ROOT, "target", "peer", "peer_meter.wasm")
# distill-guard's variable host calls per 2 KB JSON exchange (enforcing, 10,000 credentials), as counted
# by `make bench-wasm`, which fails when the host-calls filter no longer makes the same calls.
HOSTCALLS_SPEC = "shared_get=1.645 shared_set=0.964 header_set=4 clock=1 property_set=3"
CONFIGS = ["no_filter", "noop_wasm", "reads_only", "host_calls", "peer_go_wasm", "dg_shadow", "dg_enforce"]
# The host-call floor's spec for the reads-only floor: none of the optional calls, only the four reads.
READS_ONLY_SPEC = ""
# Request mixes: name -> (request bytes, SSE answer, the request streams without include_usage). The SSE
# mixes' requests carry no `stream` field (the answer's content type makes it a stream); `_strip` sends
# `"stream": true` alone, so distill-guard injects `include_usage` and removes the usage-only chunk from
# the answer (the usage-chunk filter).
MIXES = {"2048": (2048, False, False), "2048_sse": (2048, True, False), "16384": (16384, False, False),
         "16384_sse": (16384, True, False), "16384_sse_strip": (16384, True, True)}
DEFAULT_MIXES = "2048,2048_sse,16384,16384_sse,16384_sse_strip"
# The CI smoke run keeps every path working in the least time: JSON, and SSE through the usage-chunk filter.
SMOKE_MIXES = "2048,16384_sse_strip"


def mix_label(mix):
    size, sse, strip = MIXES[mix]
    return f"{size // 1024} KB{' SSE' if sse else ''}{', usage chunk removed' if strip else ''}"

LUA = """
local f = io.open(os.getenv("DG_BODY"), "rb")
local body = f:read("*a")
f:close()
local keys = tonumber(os.getenv("DG_KEYS") or "1")
local n = math.random(1, 1000000)
request = function()
  n = n + 1
  return wrk.format("POST", nil, {["authorization"] = "Bearer sk-bench-" .. (n % keys),
                                  ["content-type"] = "application/json"}, body)
end
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chat_body(size, stream=False):
    """A chat-completion request of `size` bytes; with `stream`, `"stream": true` without
    `stream_options` (as most streaming clients send it: distill-guard injects `include_usage` and
    removes the usage-only chunk from the answer)."""
    text = ("The quick brown fox jumps over the lazy dog while the model explains photosynthesis. " * 400)
    body = {"model": "gpt-4o", "messages": [{"role": "system", "content": "You are a helpful assistant."},
                                              {"role": "user", "content": ""}], "max_tokens": 512}
    if stream:
        body["stream"] = True
    base = len(json.dumps(body))
    body["messages"][1]["content"] = text[: max(0, size - base)]
    return json.dumps(body).encode()


def sse_body(chunks=300):
    out = []
    for i in range(chunks):
        out.append("data: " + json.dumps({"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o",
                                          "choices": [{"index": 0, "delta": {"content": f" word{i}"}}]}) + "\n\n")
    out.append("data: " + json.dumps({"id": "c", "choices": [], "usage": {"prompt_tokens": 500, "completion_tokens": chunks}}) + "\n\n")
    out.append("data: [DONE]\n\n")
    return "".join(out)


def upstream_config(port, admin):
    completion = json.dumps({"id": "chatcmpl-bench", "object": "chat.completion", "model": "gpt-4o",
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok " * 100}, "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 500, "completion_tokens": 100, "total_tokens": 600}})
    return f"""
admin: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {admin} }} }} }}
static_resources:
  listeners:
  - address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: upstream
          route_config:
            max_direct_response_body_size_bytes: 1048576
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{ prefix: "/sse/" }}
                direct_response: {{ status: 200, body: {{ inline_string: {json.dumps(sse_body())} }} }}
                response_headers_to_add: [{{ header: {{ key: content-type, value: text/event-stream }} }}]
              - match: {{ prefix: "/" }}
                direct_response: {{ status: 200, body: {{ inline_string: {json.dumps(completion)} }} }}
                response_headers_to_add: [{{ header: {{ key: content-type, value: application/json }} }}]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {{ "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }}
"""


def proxy_config(kind, listen, admin, upstream, policy_text, baseline_wasm=None, hostcalls_spec=HOSTCALLS_SPEC,
                 ratelimit_port=None):
    if kind in ("dg_shadow", "dg_enforce"):
        return render.render(policy_text, listen, admin, upstream, DG_WASM)
    if kind == "dg_fleet":
        import render_fleet
        config = render.render(policy_text, listen, admin, upstream, DG_WASM)
        return render_fleet.add_fleet(config, json.loads(policy_text), ratelimit_port, timeout_ms=50)
    if kind == "dg_baseline":
        return render.render(policy_text, listen, admin, upstream, baseline_wasm)
    wasm = ""
    if kind in ("noop_wasm", "host_calls", "reads_only", "peer_go_wasm"):
        path, vm_id = {"noop_wasm": (NOOP_WASM, "noop"), "host_calls": (HOSTCALLS_WASM, "hostcalls"),
                       "reads_only": (HOSTCALLS_WASM, "reads"), "peer_go_wasm": (PEER_WASM, "peer")}[kind]
        if kind == "reads_only":
            hostcalls_spec = READS_ONLY_SPEC
        configuration = ("" if kind in ("noop_wasm", "peer_go_wasm") else
                         '\n                configuration: { "@type": type.googleapis.com/google.protobuf.StringValue, '
                         f'value: "{hostcalls_spec}" }}')
        wasm = f"""
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                allow_on_headers_stop_iteration: true
                failure_policy: FAIL_CLOSED{configuration}
                vm_config:
                  vm_id: {vm_id}
                  runtime: envoy.wasm.runtime.v8
                  code: {{ local: {{ filename: "{path}" }} }}"""
    return f"""
admin: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {admin} }} }} }}
static_resources:
  listeners:
  - address: {{ socket_address: {{ address: 127.0.0.1, port_value: {listen} }} }}
    per_connection_buffer_limit_bytes: 8388608
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: llm_api
          route_config:
            virtual_hosts:
            - name: llm
              domains: ["*"]
              routes: [{{ match: {{ prefix: "/" }}, route: {{ cluster: llm_upstream, timeout: 300s }} }}]
          http_filters:{wasm}
          - name: envoy.filters.http.router
            typed_config: {{ "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }}
  clusters:
  - name: llm_upstream
    type: STATIC
    connect_timeout: 5s
    load_assignment:
      cluster_name: llm_upstream
      endpoints: [{{ lb_endpoints: [{{ endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {upstream} }} }} }} }}] }}]
"""


def start_envoy(config_text, workdir, name, cpu, concurrency=1):
    path = os.path.join(workdir, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(config_text)
    log = open(os.path.join(workdir, f"{name}.log"), "w")
    cmd = ["taskset", "-c", str(cpu), ENVOY, "-c", path, "--concurrency", str(concurrency),
           "--disable-hot-restart", "--log-level", "warn"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    return proc, log, None


def wait_ready(admin, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("envoy exited")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/ready", timeout=1) as r:
                if r.read().strip() == b"LIVE":
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("envoy not ready")


def wrk(url, body_file, keys, connections, seconds, lua):
    env = dict(os.environ, DG_BODY=body_file, DG_KEYS=str(keys))
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", lua, url]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        if m:
            v = float(m.group(1)) * {"us": 1, "ms": 1000, "s": 1_000_000}[m.group(2)]
            lat[pct] = v
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_us": lat.get("50"), "p99_us": lat.get("99"),
            "non2xx": int(non2xx.group(1)) if non2xx else 0}


OHA = os.environ.get("OHA") or shutil.which("oha") or os.path.join(ROOT, ".tools", "bin", "oha")


def fixed_rate(url, body_file, rate, seconds, keys):
    """Latency percentiles (µs) at a fixed arrival rate: oha when installed, else benches/openloop.py."""
    if os.path.exists(OHA):
        cmd = ["taskset", "-c", "1", OHA, "-z", f"{seconds}s", "-q", str(rate), "--latency-correction", "-c", "8",
               "-m", "POST", "-H", "authorization: Bearer sk-bench-latency", "-H", "content-type: application/json",
               "-D", body_file, "--no-tui", "--output-format", "json", url]
        d = json.loads(subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout)
        p = d["latencyPercentiles"]
        return {"p50_us": p["p50"] * 1e6, "p90_us": p["p90"] * 1e6, "p99_us": p["p99"] * 1e6, "generator_late": 0,
                "statuses": {int(k): v for k, v in d["statusCodeDistribution"].items()}, "tool": "oha"}
    with open(body_file, "rb") as f:
        r = openloop.measure(url, f.read(), rate, seconds, keys=keys)
    r["tool"] = "openloop.py"
    return r


def proc_cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def completed(admin):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin}/stats?filter=downstream_rq_completed", timeout=5) as r:
        text = r.read().decode()
    return sum(int(line.rsplit(":", 1)[1]) for line in text.splitlines() if line.startswith("http.llm_api."))


def peer_metered(admin):
    """The peer's token counters in Envoy's stats: (prompt tokens, completion tokens) over all models."""
    with urllib.request.urlopen(f"http://127.0.0.1:{admin}/stats?filter=peer_meter", timeout=5) as r:
        text = r.read().decode()
    totals = [0, 0]
    for line in text.splitlines():
        name, _, value = line.rpartition(": ")
        if "peer_meter" in name:
            totals[0 if name.endswith("input_token") else 1] += int(value)
    return tuple(totals)


def check_peer(proxies):
    """The peer must have metered every answer it passed (500 prompt tokens each, JSON or SSE): a
    configuration that did not do the job would make the comparison meaningless."""
    if "peer_go_wasm" not in proxies:
        return None
    _, _, _, admin = proxies["peer_go_wasm"]
    prompt, completion = peer_metered(admin)
    done = completed(admin)
    print(f"peer_go_wasm metered {prompt} prompt and {completion} completion tokens over {done} requests", flush=True)
    if done == 0 or prompt < 500 * done * 0.99:
        return f"the peer metered {prompt} prompt tokens over {done} requests (expected 500 a request)"
    return None


def check_strip(proxies, body_file):
    """The usage-chunk mix must exercise the usage-chunk filter: through distill-guard the answer to a
    `"stream": true` request without include_usage arrives without the usage-only chunk (the upstream
    sends it), and the filter counted the injection."""
    with open(body_file, "rb") as f:
        body = f.read()
    answers = {}
    for kind in ("noop_wasm", "dg_enforce"):
        if kind not in proxies:
            return None
        _, _, listen, _ = proxies[kind]
        req = urllib.request.Request(f"http://127.0.0.1:{listen}/sse/v1/chat/completions", data=body, method="POST",
                                     headers={"authorization": "Bearer sk-bench-strip-check",
                                              "content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            answers[kind] = r.read()
    _, _, _, admin = proxies["dg_enforce"]
    with urllib.request.urlopen(f"http://127.0.0.1:{admin}/stats?filter=distill_guard.usage_injected", timeout=5) as r:
        injected = sum(int(line.rsplit(":", 1)[1]) for line in r.read().decode().splitlines() if ":" in line)
    usage = {kind: b'"usage"' in answer for kind, answer in answers.items()}
    if not usage["noop_wasm"] or usage["dg_enforce"] or not injected:
        return ("the usage-chunk mix did not exercise the usage-chunk filter (usage chunk through the no-op: "
                f"{usage['noop_wasm']}, through distill-guard: {usage['dg_enforce']}, usage_injected: {injected})")
    print(f"usage-chunk filter: the usage chunk passes the no-op filter and not distill-guard (usage_injected {injected})",
          flush=True)
    return None


def bench_policy():
    """The shipped policy with its budgets raised out of the way: the benchmarks measure the filter's
    cost, not its throttling."""
    with open(os.path.join(ROOT, "envoy", "policy.json")) as f:
        policy = json.load(f)
    for b in policy["budgets"]:
        b.update({k: v * 1000 for k, v in b.items() if k.startswith("max_")})
    return policy


class SideBySide:
    """The upstream (CPU 1) and any number of proxies under test (each one worker, CPU 0), all up at
    once; leaving the `with` block stops them all."""

    def __init__(self, work):
        self.work, self.proxies = work, {}
        self.up_port, up_admin = free_port(), free_port()
        self.upstream, self.up_log, _ = start_envoy(upstream_config(self.up_port, up_admin), work, "upstream",
                                                    cpu=1, concurrency=1)
        try:
            wait_ready(up_admin, self.upstream)
        except Exception:
            self.__exit__()
            raise

    def add(self, name, kind, policy_text, baseline_wasm=None, hostcalls_spec=HOSTCALLS_SPEC, ratelimit_port=None):
        listen, admin = free_port(), free_port()
        config = proxy_config(kind, listen, admin, self.up_port, policy_text, baseline_wasm, hostcalls_spec,
                              ratelimit_port)
        proc, log, _ = start_envoy(config, self.work, f"proxy-{name}", cpu=0)
        self.proxies[name] = (proc, log, listen, admin)

    def wait_ready(self):
        for proc, _, _, admin in self.proxies.values():
            wait_ready(admin, proc)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        for proc, log, _, _ in self.proxies.values():
            proc.terminate()
            proc.wait(10)
            log.close()
        self.upstream.terminate()
        self.upstream.wait(10)
        self.up_log.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--latency-seconds", type=int, default=None,
                    help="length of each fixed-rate latency run (default: --seconds; 0: no latency runs, "
                         "capacity only, as when `make bench-latency` measures latency)")
    ap.add_argument("--rate", type=float, default=300, help="fixed arrival rate (req/s) for the latency runs")
    ap.add_argument("--smoke", action="store_true", help="one short rep, to keep the benchmark working in CI")
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "bench.json"))
    ap.add_argument("--report", metavar="JSON", help="print the report of a saved run instead of measuring")
    ap.add_argument("--baseline-wasm", metavar="WASM",
                    help="also run another build of the module, enforcing (config dg_baseline): compares two "
                         "builds side by side in the same run")
    ap.add_argument("--fleet", action="store_true",
                    help="also run distill-guard with fleet-wide state (config dg_fleet): Redis and "
                         "envoyproxy/ratelimit from `make fleet-tools`")
    ap.add_argument("--fleet-budgets", choices=("envoy", "filter"), default="envoy",
                    help="with --fleet: budgets enforced by Envoy's rate limit filter (a call per request, the "
                         "default) or by the filter itself (`fleet.budgets: filter`: batched charges, a call only "
                         "near a limit)")
    ap.add_argument("--mixes", default=None,
                    help=f"comma list of request mixes to measure (default: {DEFAULT_MIXES}; with --smoke "
                         f"{SMOKE_MIXES})")
    a = ap.parse_args()
    a.mixes = [m for m in (a.mixes or (SMOKE_MIXES if a.smoke else DEFAULT_MIXES)).split(",") if m]
    unknown = [m for m in a.mixes if m not in MIXES]
    if unknown:
        ap.error(f"--mixes: unknown {', '.join(unknown)} (known: {', '.join(MIXES)})")
    if a.latency_seconds is None:
        a.latency_seconds = a.seconds
    configs = CONFIGS + (["dg_baseline"] if a.baseline_wasm else []) + (["dg_fleet"] if a.fleet else [])
    if a.report:
        with open(a.report) as f:
            saved = json.load(f)
        a.reps = len(saved["no_filter"])
        print(report(saved, a))
        return 0
    if a.smoke:
        a.reps, a.seconds = 1, 1
    work = tempfile.mkdtemp(prefix="dg-bench-")
    lua = os.path.join(work, "post.lua")
    with open(lua, "w") as f:
        f.write(LUA)
    bodies = {}
    for size, _, strip in MIXES.values():
        path = os.path.join(work, f"body{size}{'-stream' if strip else ''}.json")
        with open(path, "wb") as f:
            f.write(chat_body(size, stream=strip))
        bodies[(size, strip)] = path
    policy = bench_policy()
    policies = {"dg_enforce": json.dumps(policy), "dg_baseline": json.dumps(policy)}
    policy["mode"] = "shadow"
    policies["dg_shadow"] = json.dumps(policy)
    policy["mode"] = "enforce"
    policy["fleet"] = {"enabled": True, "tick_ms": 1000}
    if a.fleet_budgets == "filter":
        policy["fleet"].update({"tick_ms": 250, "max_descriptors": 1000, "budgets": "filter"})
    for b in policy["budgets"]:  # the rate limit service's limits are 32-bit
        b.update({k: min(v, 4_000_000_000) for k, v in b.items() if k.startswith("max_")})
    policies["dg_fleet"] = json.dumps(policy)

    results = {c: [] for c in configs}
    engines = []
    ratelimit_port = None
    if a.fleet:
        import engine
        import ratelimit_config
        redis = engine.Redis()
        engines.append(redis)
        rls = engine.RateLimit(redis.port, {
            f"{ratelimit_config.BUDGET_DOMAIN}.yaml": ratelimit_config.budgets_service_config(policy),
            f"{ratelimit_config.FLEET_DOMAIN}.yaml": ratelimit_config.fleet_service_config()})
        engines.append(rls)
        ratelimit_port = rls.grpc_port
    try:
        run(a, configs, policies, bodies, lua, work, results, ratelimit_port)
    finally:
        for e in reversed(engines):
            e.close()
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(results, f, indent=2)
    print(report(results, a))
    shutil.rmtree(work, ignore_errors=True)
    bad = [(k, r) for k, rows in results.items() for r in rows for m, v in r.items() if m != "rep" and v["non2xx"]]
    return 1 if bad else 0


def run(a, configs, policies, bodies, lua, work, results, ratelimit_port):
    with SideBySide(work) as side:
        # The proxies run side by side (all pinned to CPU 0, idle unless loaded), so every
        # measurement of one mix is taken for all configurations within seconds of each other:
        # the machine's slow drifts in speed hit them alike and cancel in the paired ratios.
        for kind in configs:
            side.add(kind, kind, policies.get(kind, "{}"), a.baseline_wasm, ratelimit_port=ratelimit_port)
        side.wait_ready()
        proxies = side.proxies
        mixes = [m for m in MIXES if m in a.mixes]
        for rep in range(a.reps):
            rows = {kind: {"rep": rep} for kind in configs}
            for mix in mixes:
                size, stream, strip = MIXES[mix]
                body = bodies[(size, strip)]
                # Alternate the order between repetitions (A B C D, then D C B A).
                order = configs if rep % 2 == 0 else configs[::-1]
                for kind in order:
                    proc, _, listen, admin = proxies[kind]
                    keys = 10_000 if kind.startswith("dg_") else 1
                    url = f"http://127.0.0.1:{listen}/{'sse/' if stream else ''}v1/chat/completions"
                    wrk(url, body, keys, 16, 1, lua)  # warm up
                    cpu0, done0 = proc_cpu_seconds(proc.pid), completed(admin)
                    sat = wrk(url, body, keys, 16, a.seconds, lua)
                    cpu1, done1 = proc_cpu_seconds(proc.pid), completed(admin)
                    lat = (fixed_rate(url, body, a.rate, a.latency_seconds, keys) if a.latency_seconds else
                           {"p50_us": None, "p90_us": None, "p99_us": None, "generator_late": 0, "tool": None,
                            "statuses": {}})
                    bad = sum(n for st, n in lat["statuses"].items() if st != 200)
                    rows[kind][mix] = {
                        "rps": sat["rps"], "cpu_us": (cpu1 - cpu0) * 1e6 / max(1, done1 - done0),
                        "p50_us": lat["p50_us"], "p90_us": lat["p90_us"], "p99_us": lat["p99_us"],
                        "generator_late": lat["generator_late"], "latency_tool": lat["tool"],
                        "non2xx": sat["non2xx"] + bad}
            for kind in configs:
                results[kind].append(rows[kind])
                print(kind, rep, json.dumps(rows[kind]), flush=True)
        failed = check_peer(proxies) or (check_strip(proxies, bodies[(16384, True)])
                                         if "16384_sse_strip" in mixes else None)
        if failed:
            raise SystemExit(failed)


def report(results, a):
    """The run's tables (markdown): capacity paired within each repetition against no filter, the no-op
    filter, the reads-only floor and the peer; latency when measured; the least-disturbed runs."""
    kinds = [c for c in CONFIGS + ["dg_baseline", "dg_fleet"] if results.get(c)]
    first = results["no_filter"][0] if results["no_filter"] else {}
    measured = [m for m in MIXES if m in first]
    refs = [r for r in ("no_filter", "noop_wasm", "reads_only", "peer_go_wasm") if results.get(r)]
    names = {"no_filter": "no filter", "noop_wasm": "no-op", "reads_only": "reads-only floor", "peer_go_wasm": "the peer"}

    def med(kind, mix, field):
        return statistics.median(r[mix][field] for r in results[kind])

    def each(kind, ref, mix, f):
        return [f(r[mix], q[mix]) for r, q in zip(results[kind], results[ref])]

    def paired(kind, ref, mix, f):
        """Median over repetitions of f(this, reference) measured in the same repetition."""
        return statistics.median(each(kind, ref, mix, f))

    def capacity(r, q):
        return q["cpu_us"] / r["cpu_us"]

    latency = any(v.get("p50_us") is not None for k, v in first.items() if k != "rep")
    tool = next((v.get("latency_tool") for k, v in first.items() if k != "rep"), None)
    lines = [f"{a.reps} interleaved repetitions, {a.seconds} s of wrk (16 connections, closed loop) per "
             "measurement" + (f", latency at {a.rate:.0f} req/s for {a.latency_seconds} s ({tool})" if latency else
                              ", no latency runs (`make bench-latency` measures latency)") +
             ". proxy CPU µs/req: medians; capacity = the reference's proxy CPU per request / this one's (the "
             "throughput ratio when the proxy's core saturates), paired within each repetition, median over "
             "repetitions (range in brackets for the no-op column).", "",
             "| mix | config | proxy CPU µs/req | " + " | ".join(f"capacity vs {names[r]}" for r in refs) +
             " | req/s (wrk) |", "|---|---|---|" + "---|" * len(refs) + "---|"]
    for mix in measured:
        for kind in kinds:
            cells = []
            for ref in refs:
                c = paired(kind, ref, mix, capacity)
                if ref == "noop_wasm" and kind != ref:
                    spread = each(kind, ref, mix, capacity)
                    cells.append(f"{c:.2f} ({min(spread):.2f}–{max(spread):.2f})")
                else:
                    cells.append(f"{c:.2f}")
            lines.append(f"| {mix_label(mix)} | {kind} | {med(kind, mix, 'cpu_us'):.0f} | " + " | ".join(cells) +
                         f" | {med(kind, mix, 'rps'):.0f} |")
    if latency:
        lat_refs = [r for r in ("no_filter", "reads_only", "peer_go_wasm") if r in refs]
        lines += ["", f"Latency at a fixed {a.rate:.0f} req/s (open loop, coordinated-omission corrected, one "
                  "credential); added p50: medians of the differences paired within each repetition.", "",
                  "| mix | config | p50 µs | " + " | ".join(f"p50 added vs {names[r]}" for r in lat_refs) +
                  " | p99 µs |", "|---|---|---|" + "---|" * len(lat_refs) + "---|"]
        for mix in measured:
            for kind in kinds:
                add = [paired(kind, ref, mix, lambda r, q: r["p50_us"] - q["p50_us"]) for ref in lat_refs]
                lines.append(f"| {mix_label(mix)} | {kind} | {med(kind, mix, 'p50_us'):.0f} | " +
                             " | ".join(f"{x:+.0f}" for x in add) + f" | {med(kind, mix, 'p99_us'):.0f} |")
    lines += ["", "Least-disturbed runs: anything else on the machine only slows a run down, so the minimum proxy "
              "CPU per request over the repetitions is the least noisy estimate of each configuration's own cost.",
              "", "| mix | config | min proxy CPU µs/req | " + " | ".join(f"capacity vs {names[r]}" for r in refs) +
              " |", "|---|---|---|" + "---|" * len(refs)]
    for mix in measured:
        lo = {kind: min(r[mix]["cpu_us"] for r in results[kind]) for kind in kinds}
        for kind, cpu in lo.items():
            lines.append(f"| {mix_label(mix)} | {kind} | {cpu:.0f} | " +
                         " | ".join(f"{lo[ref] / cpu:.2f}" for ref in refs) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
