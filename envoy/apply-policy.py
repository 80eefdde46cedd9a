#!/usr/bin/env python3
"""Validates a policy and swaps it into a running dynamic Envoy (file-based ECDS).

    python3 envoy/apply-policy.py --state STATE_DIR POLICY.json [--wasm PATH] [--no-check]

1. validates POLICY.json with the filter's own parser (target/release/examples/policy_check, built by
   `make policy-check`); a bad policy is refused here, naming the field, and nothing changes;
2. writes the ECDS resource to a temporary file in STATE_DIR and renames it over policy-ecds.yaml: Envoy
   watches the directory and only reacts to an atomic rename (an in-place edit is ignored).
Envoy then applies the policy to the next request. If the filter still rejects it (e.g. the secret's
environment variable is missing in Envoy), Envoy keeps the previous policy and counts
extension_config_discovery.http_filter.distill_guard.config_fail.
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import render  # noqa: E402

CHECKER = os.path.join(ROOT, "target", "release", "examples", "policy_check")


def check(policy_path):
    if not os.path.exists(CHECKER):
        subprocess.run(["cargo", "build", "-q", "--release", "--example", "policy_check"], cwd=ROOT, check=True)
    r = subprocess.run([CHECKER, policy_path], capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    return r.returncode == 0


def apply(state_dir, policy_text, wasm=render.DEFAULT_WASM):
    os.makedirs(state_dir, exist_ok=True)
    text = render.render_ecds(policy_text, os.path.join(ROOT, wasm) if not os.path.isabs(wasm) else wasm)
    fd, tmp = tempfile.mkstemp(prefix=".policy-", suffix=".yaml", dir=state_dir)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.rename(tmp, os.path.join(state_dir, "policy-ecds.yaml"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("policy")
    ap.add_argument("--state", required=True, help="the watched directory of the dynamic Envoy config")
    ap.add_argument("--wasm", default=render.DEFAULT_WASM)
    ap.add_argument("--no-check", action="store_true", help="skip validation (tests of Envoy's own rejection)")
    a = ap.parse_args()
    with open(a.policy) as f:
        text = f.read()
    if not a.no_check and not check(a.policy):
        print("policy NOT applied: the running policy is unchanged", file=sys.stderr)
        return 1
    apply(a.state, text, a.wasm)
    print(f"policy applied: {os.path.join(a.state, 'policy-ecds.yaml')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
