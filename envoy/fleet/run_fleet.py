#!/usr/bin/env python3
"""`make run-fleet`: a fleet of two distill-guard Envoys sharing budgets through Envoy's rate limit filter,
envoyproxy/ratelimit and Redis, in front of the mock LLM upstream, all on 127.0.0.1. The policy's `fleet`
section is turned on (detection counters shared too) unless the policy has one.

Prints one line on stdout once everything is ready,

    fleet: http://127.0.0.1:PORT1 http://127.0.0.1:PORT2

(details on stderr) and stays up until Ctrl-C (or SIGTERM), then stops every process it started.
Environment: POLICY (default envoy/policy.json), LISTEN1/LISTEN2 (default: free ports), WASM.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "envoy"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import engine  # noqa: E402
import mock_llm  # noqa: E402
import ratelimit_config  # noqa: E402
import render  # noqa: E402
import render_fleet  # noqa: E402

ENVOY = os.environ.get("ENVOY_BIN") or os.path.join(ROOT, ".tools", "venv", "bin", "envoy")
WASM = os.environ.get("WASM") or os.path.join(ROOT, render.DEFAULT_WASM)


def _stop(signum, frame):
    raise KeyboardInterrupt


def _ready(admin, proc, log, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"envoy exited with {proc.returncode}:\n{open(log).read()[-5000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/ready", timeout=1) as r:
                if r.read().strip() == b"LIVE":
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"envoy not ready after {timeout}s:\n{open(log).read()[-5000:]}")


def main():
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    policy_path = os.environ.get("POLICY") or os.path.join(ROOT, "envoy", "policy.json")
    with open(policy_path) as f:
        policy_text = f.read()
    policy = json.loads(policy_text)
    # fleet-wide detection counters too, unless the policy says otherwise
    if "fleet" not in policy:
        policy["fleet"] = {"enabled": True}
        policy_text = json.dumps(policy)
    configs = {f"{ratelimit_config.BUDGET_DOMAIN}.yaml": ratelimit_config.budgets_service_config(policy),
               f"{ratelimit_config.FLEET_DOMAIN}.yaml": ratelimit_config.fleet_service_config()}
    work = tempfile.mkdtemp(prefix="dg-fleet-")
    started, envoys = [], []
    mock = None
    try:
        redis = engine.Redis()
        started.append(redis)
        rls = engine.RateLimit(redis.port, configs)
        started.append(rls)
        mock = mock_llm.make_server(0)
        threading.Thread(target=mock.serve_forever, daemon=True).start()
        upstream = mock.server_address[1]
        listens = [int(os.environ.get(f"LISTEN{i}") or engine.free_port()) for i in (1, 2)]
        for i, listen in enumerate(listens, 1):
            admin = engine.free_port()
            config = render_fleet.add_fleet(render.render(policy_text, listen, admin, upstream, WASM), policy,
                                            rls.grpc_port)
            path = os.path.join(work, f"envoy{i}.yaml")
            with open(path, "w") as f:
                f.write(config)
            log = os.path.join(work, f"envoy{i}.log")
            with open(log, "w") as out:
                proc = subprocess.Popen([ENVOY, "-c", path, "--concurrency", "2", "--disable-hot-restart",
                                         "--base-id", str(engine.free_port()), "--log-level", "warn",
                                         "--component-log-level", "wasm:info"],
                                        stdout=out, stderr=subprocess.STDOUT)
            envoys.append((proc, admin, log))
        for proc, admin, log in envoys:
            _ready(admin, proc, log)
        print(f"fleet: http://127.0.0.1:{listens[0]} http://127.0.0.1:{listens[1]}", flush=True)
        sys.stderr.write(
            f"  redis 127.0.0.1:{redis.port}, ratelimit gRPC 127.0.0.1:{rls.grpc_port} "
            f"(domains {ratelimit_config.BUDGET_DOMAIN}, {ratelimit_config.FLEET_DOMAIN}), mock upstream "
            f"127.0.0.1:{upstream}\n  Envoy admin: "
            + ", ".join(f"http://127.0.0.1:{admin}" for _, admin, _ in envoys)
            + f"\n  logs: {work}\nCtrl-C stops everything.\n")
        sys.stderr.flush()
        while all(proc.poll() is None for proc, _, _ in envoys):
            time.sleep(0.5)
        sys.stderr.write("an Envoy exited; stopping the fleet\n")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for proc, _, _ in envoys:
            if proc.poll() is None:
                proc.terminate()
        for proc, _, _ in envoys:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if mock is not None:
            mock.shutdown()
            mock.server_close()
        for p in reversed(started):
            p.close()


if __name__ == "__main__":
    sys.exit(main())
