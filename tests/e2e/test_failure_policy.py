"""The shipped configs' failure policy, proved against the real Envoy: `FAIL_CLOSED` (README, Failure
policy). A filter that protects a paid API must not wave traffic through unmetered when it breaks.

- The VM fails at runtime (a trap, as a bug would cause): the shipped config's wasm filter settings are
  run with a test module that traps on request (`tests/e2e/trap-filter`). The trapping request and every
  later one are refused and never reach the upstream; with `FAIL_OPEN` (the documented alternative)
  they would pass, which the same test shows for contrast.
- The module cannot load, or the policy is invalid at startup: Envoy refuses to start, so it never
  serves traffic without the filter.
- A broken module pushed at runtime (ECDS) is rejected and the running filter keeps serving.
"""
import os
import shutil
import subprocess
import time

import pytest

from harness import ENVOY, ROOT, Envoy

TRAP_CRATE = os.path.join(ROOT, "tests", "e2e", "trap-filter")
TRAP_WASM = os.path.join(TRAP_CRATE, "target", "wasm32-wasip1", "release", "trap_filter.wasm")


@pytest.fixture(scope="module")
def trap_wasm():
    if not os.path.exists(TRAP_WASM):
        subprocess.run(["cargo", "build", "--target", "wasm32-wasip1", "--release"], cwd=TRAP_CRATE, check=True,
                       capture_output=True, timeout=600)
    return TRAP_WASM


def test_shipped_configs_fail_closed():
    # Every shipped file that configures the wasm VM says so explicitly.
    for path in ["envoy/envoy.template.yaml", "envoy/envoy.yaml", "envoy/dynamic/policy-ecds.template.yaml",
                 "envoy/istio/envoyfilter.yaml"]:
        text = open(os.path.join(ROOT, path)).read()
        assert "vm_config:" in text, path
        assert "failure_policy: FAIL_CLOSED" in text, path
    assert "failStrategy: FAIL_CLOSE" in open(os.path.join(ROOT, "envoy/istio/wasmplugin.yaml")).read()


def run_trap(trap_wasm, policy):
    edit = None if policy == "FAIL_CLOSED" else (lambda t: t.replace("failure_policy: FAIL_CLOSED", f"failure_policy: {policy}"))
    e = Envoy(wasm=trap_wasm, edit_config=edit)
    try:
        assert ("failure_policy: " + policy) in open(e.config).read()
        first = e.chat()
        assert first.status == 200, first
        seen = len(e.upstream_requests())
        trapped = e.chat(extra_headers={"x-trap": "1"})
        after = [e.chat() for _ in range(3)]
        time.sleep(0.3)
        stats = e.stats()
        return first, trapped, after, len(e.upstream_requests()) - seen, stats, e.log()
    finally:
        e.close()


def test_a_failed_vm_refuses_requests_under_fail_closed(trap_wasm):
    _, trapped, after, reached, stats, log = run_trap(trap_wasm, "FAIL_CLOSED")
    # Neither the trapping request nor any later one got through to the upstream.
    assert trapped.status >= 500, trapped
    assert all(r.status >= 500 for r in after), after
    assert reached == 0, f"{reached} requests reached the upstream after the VM failed"
    assert "wasm" in log.lower()


def test_fail_open_would_let_them_through(trap_wasm):
    _, trapped, after, reached, _, _ = run_trap(trap_wasm, "FAIL_OPEN")
    # The contrast that motivates FAIL_CLOSED: with FAIL_OPEN traffic flows on, unfiltered.
    assert all(r.status == 200 for r in after), after
    assert reached >= 3


def test_a_module_that_cannot_load_stops_envoy_from_starting(tmp_path):
    bad = tmp_path / "broken.wasm"
    bad.write_bytes(b"\x00asm\x01\x00\x00\x00this is not a module")
    e = Envoy(wasm=str(bad), wait=False)
    try:
        e.proc.wait(30)
        assert e.proc.returncode != 0
        # It never listened: nothing was served without the filter.
        assert e.upstream_requests() == []
    finally:
        e.close()


def test_an_invalid_policy_stops_envoy_from_starting():
    e = Envoy(policy_text='{"version": 1, "mode": "sideways"}', wait=False)
    try:
        e.proc.wait(30)
        assert e.proc.returncode != 0
        assert "mode" in e.log()
    finally:
        e.close()


def test_a_broken_module_pushed_at_runtime_is_rejected_and_the_filter_keeps_serving(tmp_path):
    e = Envoy(dynamic=True)
    try:
        assert e.chat().status == 200
        ecds = os.path.join(e.state, "policy-ecds.yaml")
        text = open(ecds).read()
        bad = tmp_path / "broken.wasm"
        bad.write_bytes(b"not wasm at all")
        import harness
        new = text.replace(os.path.abspath(harness.WASM), str(bad))
        assert new != text
        prefix = "extension_config_discovery.http_filter.distill_guard."
        before = e.stats().get(prefix + "update_rejected", 0)
        tmp = ecds + ".tmp"
        with open(tmp, "w") as f:
            f.write(new)
        os.rename(tmp, ecds)
        deadline = time.time() + 15
        while time.time() < deadline and e.stats().get(prefix + "update_rejected", 0) == before:
            time.sleep(0.1)
        assert e.stats().get(prefix + "update_rejected", 0) > before, e.log()[-3000:]
        r = e.chat(key="sk-after-bad-module")
        assert r.status == 200, r
        assert e.last_upstream() is not None
    finally:
        e.close()
