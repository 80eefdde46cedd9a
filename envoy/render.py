#!/usr/bin/env python3
"""Renders the Envoy configurations from their templates.

Static (policy embedded), the default:
    python3 envoy/render.py [--policy envoy/policy.json] [--listen 10000] [--admin 9901]
                            [--upstream 18080] [--wasm PATH] [--out envoy/envoy.yaml]
Dynamic (hot-reloadable policy via file-based ECDS in STATE_DIR):
    python3 envoy/render.py --dynamic STATE_DIR [ports...] [--out FILE]
    python3 envoy/apply-policy.py --state STATE_DIR POLICY.json   # writes STATE_DIR/policy-ecds.yaml
"""
import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_WASM = "target/wasm32-wasip1/release/distill_guard.wasm"
STATIC_TEMPLATE = os.path.join(HERE, "envoy.template.yaml")
DYNAMIC_TEMPLATE = os.path.join(HERE, "dynamic", "envoy.template.yaml")
ECDS_TEMPLATE = os.path.join(HERE, "dynamic", "policy-ecds.template.yaml")


def _fill(text, values):
    def policy_block(match):
        indent = match.group(1)
        return "\n".join(indent + line for line in values["@POLICY@"].strip().splitlines())

    if "@POLICY@" in values:
        text = re.sub(r"^([ \t]*)@POLICY@$", policy_block, text, flags=re.M)
    for key, value in values.items():
        text = text.replace(key, str(value))
    return text


def _read(path):
    with open(path) as f:
        return f.read()


def render(policy_text, listen=10000, admin=9901, upstream=18080, wasm=DEFAULT_WASM, template=None, degraded=None,
           hold_headers=True):
    """Static config with the policy embedded. `degraded`: port of the upstream for rerouted requests
    (default: the same upstream). `hold_headers=False` leaves out allow_on_headers_stop_iteration, as
    on hosts that cannot set it (the policy must then say `inspection.hold_headers: false`)."""
    json.loads(policy_text)  # must at least be JSON; the filter validates the rest
    return _fill(_read(template or STATIC_TEMPLATE), {
        "@LISTEN_PORT@": listen, "@ADMIN_PORT@": admin, "@UPSTREAM_PORT@": upstream, "@WASM@": wasm,
        "@DEGRADED_PORT@": degraded or upstream, "@HOLD_HEADERS@": "true" if hold_headers else "false",
        "@POLICY@": policy_text})


def render_dynamic(state_dir, listen=10000, admin=9901, upstream=18080, degraded=None, listen_address="127.0.0.1",
                   upstream_host="127.0.0.1"):
    """Bootstrap whose filter config comes from STATE_DIR/policy-ecds.yaml. A non-IP `upstream_host`
    (a docker compose service name) is resolved by DNS."""
    is_ip = all(part.isdigit() for part in upstream_host.split(".")) and upstream_host.count(".") == 3
    return _fill(_read(DYNAMIC_TEMPLATE), {
        "@LISTEN_PORT@": listen, "@ADMIN_PORT@": admin, "@UPSTREAM_PORT@": upstream,
        "@DEGRADED_PORT@": degraded or upstream, "@STATE_DIR@": os.path.abspath(state_dir),
        "@LISTEN_ADDRESS@": listen_address, "@UPSTREAM_HOST@": upstream_host,
        "@CLUSTER_TYPE@": "STATIC" if is_ip else "STRICT_DNS"})


def render_ecds(policy_text, wasm=DEFAULT_WASM):
    """The ECDS resource carrying the filter config and the policy."""
    return _fill(_read(ECDS_TEMPLATE), {"@WASM@": os.path.abspath(wasm), "@HOLD_HEADERS@": "true",
                                        "@POLICY@": policy_text})


def write_out(text, path):
    """Writes a rendered config to `path`, or to stdout if it is "-"."""
    if path == "-":
        sys.stdout.write(text)
    else:
        with open(path, "w") as f:
            f.write(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--policy", default=os.path.join(HERE, "policy.json"))
    ap.add_argument("--listen", type=int, default=10000)
    ap.add_argument("--admin", type=int, default=9901)
    ap.add_argument("--upstream", type=int, default=18080)
    ap.add_argument("--wasm", default=DEFAULT_WASM)
    ap.add_argument("--template", default=None)
    ap.add_argument("--dynamic", metavar="STATE_DIR", default=None)
    ap.add_argument("--listen-address", default="127.0.0.1")
    ap.add_argument("--upstream-host", default="127.0.0.1")
    ap.add_argument("--out", default="-")
    a = ap.parse_args()
    if a.dynamic:
        out = render_dynamic(a.dynamic, a.listen, a.admin, a.upstream, None, a.listen_address, a.upstream_host)
    else:
        out = render(_read(a.policy), a.listen, a.admin, a.upstream, a.wasm, a.template)
    write_out(out, a.out)


if __name__ == "__main__":
    main()
