"""Counters shared across Envoy workers, and bad policies rejected by the real Envoy."""
import json
import os
import subprocess
import tempfile
import threading

import pytest

from harness import ENVOY, WASM, Envoy, render
from conftest import make_policy


def test_budget_is_shared_across_two_workers_without_overshoot():
    p = make_policy(budgets=[{"name": "rpm", "scope": "credential", "window": "minute", "max_requests": 40}])
    e = Envoy(p, concurrency=2)
    try:
        results = []
        lock = threading.Lock()

        def worker(n):
            for _ in range(n):
                r = e.chat(key="sk-shared")  # a new connection each time: spread over both workers
                with lock:
                    results.append(r.status)

        threads = [threading.Thread(target=worker, args=(20,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 80
        assert results.count(200) == 40, results
        assert results.count(429) == 40
        stats = e.stats()
        workers = [v for k, v in stats.items() if k.startswith("listener.127.0.0.1_") and k.endswith("downstream_cx_total") and ".worker_" in k]
        assert len(workers) == 2 and all(v > 0 for v in workers), workers
        assert e.metric("ledger.failures") == 0
        e.assert_no_trap()
    finally:
        e.close()


def test_cas_contention_from_eight_connections_loses_no_count():
    """Eight keep-alive connections spread over two workers hammer one credential far above the
    budget's rate. The documented tolerances: a request whose CAS loses 8 times in a row goes through
    uncounted and is counted in distill_guard.ledger.failures (0 in any run we have seen); and a worker
    decides far from the limit on its view, at most 8 decisions a read (`decisions_per_read`), so when
    the other worker ran a burst since that read (a lopsided connection split, or one worker starved on
    a loaded machine) up to 8 of its decisions can pass the limit (README, "The accuracy bound";
    tests/core/ledger.rs reaches exactly 8 with random bursts). Most runs admit exactly the limit; one
    of 28 runs at a load average of ~9 (2026-12-02) failed the old exact assertion. Lost counts are tested exactly in the core tests."""
    per_read = 8
    import http.client
    p = make_policy(budgets=[{"name": "rpm", "scope": "credential", "window": "minute", "max_requests": 200}])
    e = Envoy(p, concurrency=2)
    try:
        results = []
        lock = threading.Lock()
        body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})

        def worker(n):
            c = http.client.HTTPConnection("127.0.0.1", e.port, timeout=30)
            for _ in range(n):
                c.request("POST", "/v1/chat/completions", body,
                          {"authorization": "Bearer sk-contended", "content-type": "application/json"})
                r = c.getresponse()
                r.read()
                with lock:
                    results.append(r.status)
            c.close()

        threads = [threading.Thread(target=worker, args=(50,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 400
        m = e.metrics(["ledger.failures", "ledger.cas_retries", "ledger.local_updates", "ledger.merges"])
        failures = m["ledger.failures"]
        # Which worker served how many connections: a view decided on far from the limit misses what
        # the other worker did since it was read, so a lopsided split is the first thing to look at.
        split = {k: v for k, v in e.stats().items()
                 if k.startswith("listener.127.0.0.1_") and k.endswith("downstream_cx_total") and ".worker_" in k}
        admitted = results.count(200)
        print("admitted", admitted, "of 200;", m, split)
        assert 200 + failures <= admitted <= 200 + failures + per_read, (admitted, m, split)
        assert results.count(429) + results.count(200) == 400
        assert failures == 0
        assert len(e.upstream_requests()) == results.count(200)
        e.assert_no_trap()
    finally:
        e.close()


def validate(policy_text):
    d = tempfile.mkdtemp(prefix="dg-validate-")
    path = os.path.join(d, "envoy.yaml")
    with open(path, "w") as f:
        f.write(render.render(policy_text, 10000, 9901, 18080, WASM))
    return subprocess.run([ENVOY, "--mode", "validate", "-c", path], capture_output=True, text=True, timeout=120)


def test_shipped_envoy_config_is_the_rendered_default():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "envoy", "policy.json")) as f:
        expected = render.render(f.read())
    with open(os.path.join(root, "envoy", "envoy.yaml")) as f:
        assert f.read() == expected, "run `make envoy-config` after editing envoy/policy.json"


@pytest.mark.parametrize("mutate,field", [
    (lambda p: p["budgets"][0].update(window="fortnight"), "budgets[0]"),
    (lambda p: p.update(versio=1), "versio"),
    (lambda p: p["credential"].update(hash_secret="short"), "credential.hash_secret"),
    (lambda p: p["ledger"].update(max_credentials=0), "ledger.max_credentials"),
    (lambda p: p["credential"]["sources"].append({"kind": "cookie"}), "credential.sources[3]"),
])
def test_bad_policy_is_rejected_with_a_log_line_naming_the_field(mutate, field):
    p = make_policy()
    mutate(p)
    result = validate(json.dumps(p))
    assert result.returncode != 0
    out = result.stdout + result.stderr
    lines = [l for l in out.splitlines() if "policy rejected" in l]
    assert lines, out[-3000:]
    assert f"`{field}`" in lines[0], lines[0]


def test_good_policy_passes_validation():
    result = validate(json.dumps(make_policy()))
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "policy accepted" in result.stdout + result.stderr
