#!/usr/bin/env python3
"""Adds fleet-wide budgets to a rendered distill-guard Envoy config: Envoy's rate limit filter right after
the wasm filter, the rate limit service's cluster, and the virtual host's `rate_limits` generated from the
policy's budgets (envoy/fleet/ratelimit_config.py, the same source as the service's own config).

    python3 envoy/fleet/render_fleet.py [--policy envoy/policy.json] [--ratelimit-port 8081] \
        [render.py's ports...] [--out envoy/fleet/envoy.yaml]

The filter exports the credential id, tenant and token counts as filter state (`wasm.distill_guard.*`);
the rate limit actions read them with `FilterStateInput`, so no raw key reaches the rate limit service.
"""
import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import ratelimit_config  # noqa: E402
import render  # noqa: E402

CLUSTER = "distill_guard_ratelimit"

FILTER = """\
- name: envoy.filters.http.ratelimit
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
    domain: {domain}
    # The service is asked before the request goes upstream; if it is down or slower than the timeout,
    # the request goes on (the filter's own per-replica budgets still hold).
    failure_mode_deny: {deny}
    timeout: {timeout}
    enable_x_ratelimit_headers: DRAFT_VERSION_03
    rate_limit_service:
      transport_api_version: V3
      grpc_service:
        envoy_grpc: {{ cluster_name: {cluster} }}
        timeout: {timeout}
"""

CLUSTER_YAML = """\
- name: {cluster}
  type: STATIC
  connect_timeout: 1s
  typed_extension_protocol_options:
    envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
      "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
      explicit_http_config: {{ http2_protocol_options: {{}} }}
  load_assignment:
    cluster_name: {cluster}
    endpoints:
    - lb_endpoints:
      - endpoint:
          address:
            socket_address: {{ address: {host}, port_value: {port} }}
"""


# Envoy's rate limit filter answers a refused request itself (429, empty body). These local reply mappers
# (on the HTTP connection manager) give that reply the API's own error body, like the filter's refusals
# (src/api: OpenAI-style for /v1/chat/completions and the rest, Anthropic-style for .../messages or with
# an `anthropic-version` header), matched by Envoy's RL response flag so no other local reply changes.
# The message is as generic as the filter's; the wait comes from the rate limit filter's
# `x-ratelimit-reset`. The filter (src/exchange) then removes `x-envoy-ratelimited` from the response and
# adds `retry-after`, so nothing tells the client which path caught the request.
RETRY_MESSAGE = "Rate limit reached. Please try again in %RESP(x-ratelimit-reset)%s."
ANTHROPIC_PATH = r"^[^?#]*/messages/?([?#].*)?$"
LOCAL_REPLY = """\
local_reply_config:
  mappers:
  - filter:
      and_filter:
        filters:
        - response_flag_filter: {{ flags: [RL] }}
        - or_filter:
            filters:
            - header_filter: {{ header: {{ name: ":path", string_match: {{ safe_regex: {{ regex: '{anthropic_path}' }} }} }} }}
            - header_filter: {{ header: {{ name: anthropic-version, present_match: true }} }}
    body_format_override:
      json_format:
        type: error
        error:
          type: rate_limit_error
          message: "{message}"
  - filter:
      response_flag_filter: {{ flags: [RL] }}
    body_format_override:
      json_format:
        error:
          message: "{message}"
          type: requests
          param: null
          code: rate_limit_exceeded
"""


def local_reply_yaml():
    """The HTTP connection manager's `local_reply_config` giving Envoy's rate limit 429 the API's error body."""
    return LOCAL_REPLY.format(message=RETRY_MESSAGE, anthropic_path=ANTHROPIC_PATH)


def insert_local_reply(config, block=None):
    """Adds `local_reply_config` (`block`, YAML; by default `local_reply_yaml()`) to the HTTP connection
    manager, next to its `stat_prefix`."""
    m = re.search(r"^([ \t]*)stat_prefix: .*$", config, flags=re.M)
    if not m:
        raise ValueError("not a distill-guard Envoy config: the HTTP connection manager's stat_prefix not found")
    block = block or local_reply_yaml()
    return config[:m.end() + 1] + _indent(block, len(m.group(1))) + "\n" + config[m.end() + 1:]


def _indent(text, n):
    return "\n".join((" " * n + line) if line else line for line in text.splitlines())


def filter_yaml(timeout_ms=50, failure_mode_deny=False, domain=ratelimit_config.BUDGET_DOMAIN):
    """Envoy's rate limit filter, as one HTTP filter list item."""
    return FILTER.format(domain=domain, deny="true" if failure_mode_deny else "false",
                         timeout=f"{timeout_ms / 1000:g}s", cluster=CLUSTER)


def cluster_yaml(host="127.0.0.1", port=8081, dns=False):
    """The rate limit service's cluster, as one cluster list item (`dns`: resolve `host` by DNS)."""
    text = CLUSTER_YAML.format(cluster=CLUSTER, host=host, port=port)
    return text.replace("type: STATIC", "type: STRICT_DNS") if dns else text


def insert_blocks(config, filter_item, vhost_fields, cluster_item):
    """Inserts the rate limit filter right before the router, `vhost_fields` (YAML mapping lines) into the
    virtual host, and the cluster at the end of the clusters, keeping each block's indentation."""
    router = re.search(r"^([ \t]*)- name: envoy\.filters\.http\.router$", config, flags=re.M)
    domains = re.search(r"^([ \t]*)domains: \[\"\*\"\]$", config, flags=re.M)
    clusters = re.search(r"^([ \t]*)clusters:$", config, flags=re.M)
    if not (router and domains and clusters):
        raise ValueError("not a distill-guard Envoy config: router filter, virtual host or clusters not found")
    vhost = _indent(vhost_fields, len(domains.group(1))) + "\n" if vhost_fields else ""
    # Apply from the end of the text backwards so earlier offsets stay valid.
    edits = sorted([
        (router.start(), _indent(filter_item, len(router.group(1))) + "\n"),
        (domains.end() + 1, vhost),
        (len(config), ("" if config.endswith("\n") else "\n") + _indent(cluster_item, len(clusters.group(1))) + "\n"),
    ], reverse=True)
    for at, text in edits:
        config = config[:at] + text + config[at:]
    return config


def envoy_enforces_budgets(policy):
    """Whether Envoy's rate limit filter enforces the budgets (the default), or the filter itself does
    (`fleet.budgets: "filter"`: batched charges and near-limit checks over its own gRPC calls, so the
    config only needs the service's cluster)."""
    return (policy.get("fleet") or {}).get("budgets", "envoy") != "filter"


def add_fleet(config, policy, ratelimit_port, ratelimit_host="127.0.0.1", timeout_ms=50, failure_mode_deny=False,
              rate_limits_yaml=None, domain=ratelimit_config.BUDGET_DOMAIN):
    """Returns `config` (a rendered distill-guard Envoy config) with fleet-wide budgets added: Envoy's rate
    limit filter, its rate limits and the service's cluster, or only the cluster when the policy has the
    filter enforce them (`fleet.budgets: "filter"`).
    `rate_limits_yaml(indent) -> str` replaces the virtual host's generated rate limit block (tests only)."""
    cluster = cluster_yaml(ratelimit_host, ratelimit_port)
    if not envoy_enforces_budgets(policy):
        clusters = re.search(r"^([ \t]*)clusters:$", config, flags=re.M)
        if not clusters:
            raise ValueError("not a distill-guard Envoy config: clusters not found")
        return config + ("" if config.endswith("\n") else "\n") + _indent(cluster, len(clusters.group(1))) + "\n"
    vhost = (rate_limits_yaml or (lambda n: ratelimit_config.envoy_rate_limits_yaml(policy, n)))(0)
    config = insert_local_reply(config)
    return insert_blocks(config, filter_yaml(timeout_ms, failure_mode_deny, domain), vhost, cluster)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--policy", default=os.path.join(HERE, "..", "policy.json"))
    ap.add_argument("--listen", type=int, default=10000)
    ap.add_argument("--admin", type=int, default=9901)
    ap.add_argument("--upstream", type=int, default=18080)
    ap.add_argument("--wasm", default=render.DEFAULT_WASM)
    ap.add_argument("--ratelimit-port", type=int, default=8081)
    ap.add_argument("--ratelimit-host", default="127.0.0.1")
    ap.add_argument("--dynamic", metavar="STATE_DIR", default=None)
    ap.add_argument("--timeout-ms", type=int, default=50)
    ap.add_argument("--out", default="-")
    a = ap.parse_args()
    with open(a.policy) as f:
        policy_text = f.read()
    policy = json.loads(policy_text)
    if a.dynamic:
        base = render.render_dynamic(a.dynamic, a.listen, a.admin, a.upstream)
    else:
        base = render.render(policy_text, a.listen, a.admin, a.upstream, a.wasm)
    try:
        out = add_fleet(base, policy, a.ratelimit_port, a.ratelimit_host, a.timeout_ms)
    except ratelimit_config.ConfigError as e:
        sys.exit(f"{a.policy}: policy field `{e}`")
    render.write_out(out, a.out)


if __name__ == "__main__":
    main()
