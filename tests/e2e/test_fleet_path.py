"""Fleet-wide budgets, the Envoy-native path: Envoy's rate limit filter + envoyproxy/ratelimit + Redis, all
real, on loopback.

PATH CHECK, not the product test: distill-guard does not export its filter state yet, so the Envoys here
run tests/e2e/fleet-probe (a test-only module that sets `wasm.distill_guard.*` from request headers, the
way the filter is to set them) in the filter's place, with the Envoy config and the rate limit service's
config generated from the policy exactly as shipped (envoy/fleet/). What this proves: the generated
configs agree and load, the filter-state descriptors reach the service, request budgets hold across two
Envoys, token estimates charge at request time and the usage remainder set in the log phase charges at
stream end, a missing tenant skips only tenant budgets, and an engine outage fails open.
"""
import contextlib
import copy
import json
import os
import subprocess
import sys
import time

import pytest
import yaml

import harness

sys.path.insert(0, os.path.join(harness.ROOT, "envoy", "fleet"))
import engine  # noqa: E402
import ratelimit_config  # noqa: E402
import render_fleet  # noqa: E402

PROBE = os.path.join(harness.ROOT, "tests", "e2e", "fleet-probe", "target", "wasm32-wasip1", "release",
                     "fleet_probe.wasm")
# Day windows: the service counts in fixed clock windows, and a test must not straddle a boundary.
POLICY_BUDGETS = [
    {"name": "req", "scope": "credential", "window": "day", "max_requests": 4},
    {"name": "tok", "scope": "credential", "window": "day", "max_tokens": 50},
    {"name": "team", "scope": "tenant", "window": "day", "max_requests": 3},
]


def fleet_policy():
    p = harness.default_policy()
    p["budgets"] = copy.deepcopy(POLICY_BUDGETS)
    return p


def service_configs(policy):
    return {f"{ratelimit_config.BUDGET_DOMAIN}.yaml": ratelimit_config.budgets_service_config(policy),
            f"{ratelimit_config.FLEET_DOMAIN}.yaml": ratelimit_config.fleet_service_config()}


@contextlib.contextmanager
def fleet_stack(policy, timeout_ms, wasm=None):
    """Redis, the rate limit service configured from `policy` and two Envoys sending to it with the given
    service timeout, clear of a window edge; yields (redis, rls, envoys) and stops them all."""
    engine.wait_clear_of_window_edge(margin=60)
    redis = engine.Redis()
    rls = engine.RateLimit(redis.port, service_configs(policy))
    envoys = []
    try:
        for _ in range(2):
            envoys.append(harness.Envoy(policy=policy, wasm=wasm, edit_config=lambda c: render_fleet.add_fleet(
                c, policy, rls.grpc_port, timeout_ms=timeout_ms)))
        yield redis, rls, envoys
    finally:
        for e in envoys:
            e.close()
        rls.close()
        redis.close()


@pytest.fixture(scope="module")
def fleet():
    """Redis, the service and two Envoys; a generous service timeout so a loaded machine cannot turn a
    slow answer into a fail-open admission."""
    with fleet_stack(fleet_policy(), timeout_ms=2000, wasm=PROBE) as stack:
        yield stack


def unique(prefix):
    return f"{prefix}{time.time_ns()}"


def probe_chat(envoy, credential, estimate=0, remainder=0, tenant=None, phase="log", hold=False):
    headers = {"x-probe-credential": credential, "x-probe-estimate": str(estimate),
               "x-probe-remainder": str(remainder), "x-probe-phase": phase}
    if hold:
        headers["x-probe-hold"] = "1"
    if tenant:
        headers["x-probe-tenant"] = tenant
    return envoy.chat(key="sk-unused-by-the-probe", extra_headers=headers)


def counter(redis, budget, scope, value):
    """The service's Redis counter of one budget descriptor in the current window (fixed day)."""
    keys = redis.command("KEYS", f"distill_guard_budget_{budget}_{scope}_{value}_*") or []
    assert len(keys) <= 1, keys
    return int(redis.command("GET", keys[0])) if keys else 0


def wait_counter(redis, budget, scope, value, expected, timeout=5):
    deadline = time.time() + timeout
    got = counter(redis, budget, scope, value)
    while got != expected and time.time() < deadline:
        time.sleep(0.05)
        got = counter(redis, budget, scope, value)
    return got


# ---- the generated configs ---------------------------------------------------------------------------

def test_service_config_has_one_descriptor_per_budget_quantity_with_the_policys_limit_and_window():
    policy = harness.default_policy()
    doc = yaml.safe_load(ratelimit_config.budgets_service_config(policy))
    assert doc["domain"] == "distill_guard"
    got = {(d["value"], d["descriptors"][0]["key"]): d["descriptors"][0]["rate_limit"] for d in doc["descriptors"]}
    want = {}
    for b in policy["budgets"]:
        for q in ("requests", "tokens"):
            if f"max_{q}" in b:
                want[(f"{b['name']}.{q}", b["scope"])] = {"unit": b["window"], "requests_per_unit": b[f"max_{q}"]}
    assert got == want and len(want) == 3


def test_every_envoy_descriptor_matches_a_service_descriptor():
    policy = fleet_policy()
    service = yaml.safe_load(ratelimit_config.budgets_service_config(policy))
    paths = {(d["key"], d["value"], d["descriptors"][0]["key"]) for d in service["descriptors"]}
    block = yaml.safe_load(ratelimit_config.envoy_rate_limits_yaml(policy, 0))
    per_route = block["typed_per_filter_config"]["envoy.filters.http.ratelimit"]
    assert per_route["domain"] == service["domain"]
    entries = per_route["rate_limits"]
    for entry in entries:
        generic, state = entry["actions"]
        key = (generic["generic_key"]["descriptor_key"], generic["generic_key"]["descriptor_value"],
               state["extension"]["name"])
        assert key in paths, key
        assert state["extension"]["typed_config"]["key"] == ratelimit_config.FILTER_STATE[key[2]]
    # requests: one entry charging 1; tokens: the estimate at request time and the remainder at stream end
    assert len(entries) == 1 + 2 + 1
    tokens = [e for e in entries if e["actions"][0]["generic_key"]["descriptor_value"] == "tok.tokens"]
    assert [e.get("apply_on_stream_done", False) for e in tokens] == [False, True]
    assert "tokens_estimate" in tokens[0]["hits_addend"]["format"]
    assert "tokens_remainder" in tokens[1]["hits_addend"]["format"]


def test_shipped_service_config_is_generated_from_the_shipped_policy():
    shipped = os.path.join(harness.ROOT, "envoy", "fleet", "ratelimit")
    for name, text in service_configs(harness.default_policy()).items():
        with open(os.path.join(shipped, name)) as f:
            assert f.read() == text, f"envoy/fleet/ratelimit/{name} is stale: make fleet-config"


def test_budgets_the_service_cannot_hold_are_refused_naming_the_field():
    policy = fleet_policy()
    policy["budgets"][1]["max_tokens"] = 2**32
    with pytest.raises(ratelimit_config.ConfigError, match=r"budgets\[1\]\.max_tokens"):
        ratelimit_config.budgets_service_config(policy)


def test_tag_and_shadow_budgets_only_report_in_the_service():
    policy = fleet_policy()
    policy["budgets"][0]["action"] = "tag"
    policy["budgets"][2]["shadow"] = True
    doc = yaml.safe_load(ratelimit_config.budgets_service_config(policy))
    shadow = {d["value"]: d["descriptors"][0].get("shadow_mode", False) for d in doc["descriptors"]}
    assert shadow == {"req.requests": True, "tok.tokens": False, "team.requests": True}


def test_rendered_fleet_config_is_valid_for_envoy():
    out = subprocess.run([sys.executable, os.path.join(harness.ROOT, "envoy", "fleet", "render_fleet.py"),
                          "--wasm", harness.WASM], capture_output=True, text=True, check=True).stdout
    path = os.path.join(harness.ROOT, "target", "fleet-envoy-validate.yaml")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(out)
    r = subprocess.run([harness.ENVOY, "--mode", "validate", "-c", path], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    order = [out.index(f"- name: envoy.filters.http.{f}") for f in ("wasm", "ratelimit", "router")]
    assert order == sorted(order)


# ---- the path, end to end (probe module in the filter's place) ----------------------------------------

def test_path_check_request_budget_holds_across_two_envoys(fleet):
    redis, _rls, (a, b) = fleet
    cred, other = unique("cred"), unique("other")
    statuses = [probe_chat((a, b)[i % 2], cred).status for i in range(6)]
    # 4 a day fleet-wide: each Envoy alone would have admitted 4.
    assert statuses == [200, 200, 200, 200, 429, 429]
    assert probe_chat(b, other).status == 200
    assert counter(redis, "req.requests", "credential", cred) == 6  # refused requests are counted too
    r = probe_chat(a, cred)
    assert r.status == 429 and r.header("x-envoy-ratelimited") == "true"


def test_path_check_tokens_charge_the_estimate_first_and_the_remainder_at_stream_end(fleet):
    redis, _rls, (a, b) = fleet
    cred = unique("tok")
    assert probe_chat(a, cred, estimate=10, remainder=5).status == 200
    assert wait_counter(redis, "tok.tokens", "credential", cred, 15) == 15
    assert probe_chat(b, cred, estimate=10, remainder=0).status == 200
    assert wait_counter(redis, "tok.tokens", "credential", cred, 25) == 25
    # 25 + 30 > 50: the estimate alone pushes this request over the token budget.
    assert probe_chat(a, cred, estimate=30).status == 429
    # a check-only request (estimate 0) is admitted while the window is not over (55 > 50 now, so refused)
    assert probe_chat(b, cred, estimate=0).status == 429


def test_path_check_filter_state_set_after_holding_the_headers_for_the_body_is_used(fleet):
    # distill-guard's timing: headers held (allow_on_headers_stop_iteration), state exported once the
    # body is read, then the request resumes into the rate limit filter
    redis, _rls, (a, b) = fleet
    cred = unique("held")
    statuses = [probe_chat((a, b)[i % 2], cred, estimate=4, remainder=1, hold=True).status for i in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    assert wait_counter(redis, "tok.tokens", "credential", cred, 25) == 25


def test_path_check_an_unset_remainder_skips_the_stream_end_charge(fleet):
    redis, _rls, (a, _b) = fleet
    cred = unique("noremainder")
    assert probe_chat(a, cred, estimate=10, remainder=5, phase="never").status == 200
    assert probe_chat(a, cred, estimate=1, remainder=2).status == 200
    # the first request's stream-end descriptor had no value to charge and was left out
    assert wait_counter(redis, "tok.tokens", "credential", cred, 13) == 13


def test_path_check_a_missing_tenant_skips_only_the_tenant_budget(fleet):
    redis, _rls, (a, b) = fleet
    team = unique("team")
    creds = [unique(f"member{i}") for i in range(4)]
    statuses = [probe_chat((a, b)[i % 2], c, tenant=team).status for i, c in enumerate(creds)]
    assert statuses == [200, 200, 200, 429]  # 3 a day for the tenant, whichever credential
    loner = unique("loner")
    assert probe_chat(a, loner).status == 200
    assert redis.command("KEYS", f"distill_guard_budget_team.requests_tenant_*{loner}*") == []
    assert counter(redis, "req.requests", "credential", loner) == 1


def test_path_check_engine_down_fails_open_and_budgets_hold_again_after_restart(fleet):
    redis, rls, (a, b) = fleet
    cred = unique("outage")
    assert probe_chat(a, cred).status == 200
    rls.stop()
    try:
        errors_before = a.stats().get("cluster.llm_upstream.ratelimit.failure_mode_allowed", 0)
        assert [probe_chat((a, b)[i % 2], cred).status for i in range(6)] == [200] * 6
        assert a.stats().get("cluster.llm_upstream.ratelimit.failure_mode_allowed", 0) > errors_before
    finally:
        rls.start()
    # Counts made while the service was down are lost (fail open); the budget holds again from here.
    statuses = [probe_chat((a, b)[i % 2], cred).status for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


# ---- the detection counters through Envoy's gRPC client (src/fleet compiled into the probe) -------------

def fleet_call(envoy, credential, template):
    # x-probe-credential too: the probe answers these itself, so Envoy's rate limit filter must not count them
    r = envoy.request("/v1/chat/completions", {"model": "m"}, {"x-probe-fleet": f"{credential}:{template}",
                                                               "x-probe-credential": credential})
    assert r.status == 200, r
    try:
        return r.json()
    except ValueError:
        raise AssertionError(f"not the probe's answer: {r.body[:300]!r} {r.headers}")


def test_path_check_fleet_counters_see_a_farm_spread_over_two_envoys_whole(fleet):
    redis, _rls, (a, b) = fleet
    template = unique("tpl")
    farm = [unique(f"farm{i}") for i in range(6)]
    answers = [fleet_call((a, b)[i % 2], cred, template) for i, cred in enumerate(farm)]
    # each Envoy saw 3 of the 6 credentials; the fleet counter has all of them, each counted once
    assert [x["credentials"] for x in answers] == [1, 2, 3, 4, 5, 6]
    assert all(x["first"] for x in answers)
    again = fleet_call(b, farm[0], template)  # farm[0] came through a; b learns it is not new
    assert again == {"first": False, "credentials": 6, "volume": 2}
    assert fleet_call(a, farm[0], unique("other-tpl"))["credentials"] == 1
    # a request the wasm filter answers itself never reaches the rate limit filter: no budget counted
    assert all(counter(redis, "req.requests", "credential", c) == 0 for c in farm)


def test_path_check_redis_down_fails_open_and_budgets_hold_again_after_restart(fleet):
    redis, rls, (a, b) = fleet
    cred = unique("redisdown")
    assert probe_chat(a, cred).status == 200
    allowed = "cluster.llm_upstream.ratelimit.failure_mode_allowed"
    before = a.stats().get(allowed, 0) + b.stats().get(allowed, 0)
    redis.stop()
    try:
        assert [probe_chat((a, b)[i % 2], cred).status for i in range(6)] == [200] * 6
        assert a.stats().get(allowed, 0) + b.stats().get(allowed, 0) >= before + 6
        assert rls.running(), "the rate limit service must survive its Redis going away"
    finally:
        redis.start()
    # Redis came back empty (no persistence here). The service's Redis pool holds some calls until a
    # connection is back: Envoy gives up on them at its timeout and admits, and their increment lands
    # once Redis returns, so the budget may be reached a request or two early: it holds within 4.
    statuses = [probe_chat((a, b)[i % 2], cred).status for i in range(5)]
    admitted = statuses.count(200)
    assert 1 <= admitted <= 4 and statuses == [200] * admitted + [429] * (5 - admitted), statuses


def test_path_check_root_context_flushes_fleet_counters_on_its_tick(fleet):
    # The filter's design: the root context sends the batches on its tick (a stream's callouts would be
    # cancelled with the stream). Each VM of this Envoy (main thread + one worker) marks 3 new credentials
    # in 3 ticks and sends the increments still owed in a 4th: the template's counter ends at 6, each once.
    redis, rls, _envoys = fleet
    template = unique("roottpl")
    policy = fleet_policy()
    e = harness.Envoy(policy=policy, wasm=PROBE, policy_text=json.dumps(f"root-tick:{template}"),
                      edit_config=lambda c: render_fleet.add_fleet(c, policy, rls.grpc_port, timeout_ms=2000))
    try:
        count_key = f"distill_guard_fleet_template_credentials_{template}@*"
        deadline = time.time() + 20
        total = 0
        while time.time() < deadline:
            keys = redis.command("KEYS", count_key) or []
            total = sum(int(redis.command("GET", k)) for k in keys)
            if total >= 6:
                break
            time.sleep(0.2)
        lines = [line for line in e.log().splitlines() if "probe-root-fleet" in line]
        assert total == 6, "\n".join(lines)
        marks = redis.command("KEYS", f"distill_guard_fleet_template_{template}@*_credential_root-*") or []
        assert len(marks) == 6
        assert sum("first=true" in line for line in lines) == 6
        # the view each VM builds from the answers grows with the other VM's credentials too
        assert max(int(line.rsplit("credentials=", 1)[1]) for line in lines) >= 3
    finally:
        e.close()
