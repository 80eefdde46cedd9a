#!/usr/bin/env python3
"""Renders envoy/envoy.template.yaml with ports, the wasm path and a policy file embedded.

    python3 envoy/render.py [--policy envoy/policy.json] [--listen 10000] [--admin 9901]
                            [--upstream 18080] [--wasm PATH] [--out envoy/envoy.yaml]
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_WASM = "target/wasm32-wasip1/release/distill_guard.wasm"


def render(policy_text, listen=10000, admin=9901, upstream=18080, wasm=DEFAULT_WASM, template=None):
    json.loads(policy_text)  # must at least be JSON; the filter validates the rest
    with open(template or os.path.join(HERE, "envoy.template.yaml")) as f:
        text = f.read()
    policy_block = "\n".join(" " * 22 + line for line in policy_text.strip().splitlines())
    for key, value in (("@LISTEN_PORT@", listen), ("@ADMIN_PORT@", admin), ("@UPSTREAM_PORT@", upstream),
                       ("@WASM@", wasm), ("@POLICY@", policy_block)):
        text = text.replace(key, str(value))
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--policy", default=os.path.join(HERE, "policy.json"))
    ap.add_argument("--listen", type=int, default=10000)
    ap.add_argument("--admin", type=int, default=9901)
    ap.add_argument("--upstream", type=int, default=18080)
    ap.add_argument("--wasm", default=DEFAULT_WASM)
    ap.add_argument("--template", default=None)
    ap.add_argument("--out", default="-")
    a = ap.parse_args()
    with open(a.policy) as f:
        out = render(f.read(), a.listen, a.admin, a.upstream, a.wasm, a.template)
    if a.out == "-":
        sys.stdout.write(out)
    else:
        with open(a.out, "w") as f:
            f.write(out)


if __name__ == "__main__":
    main()
