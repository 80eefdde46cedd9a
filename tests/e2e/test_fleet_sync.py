"""Fleet-wide budgets enforced by the filter itself (`fleet.budgets: "filter"`), against the real rate limit
service and Redis on two Envoys: the near-limit synchronous check (`fleet.sync_check_percent`).

With a long tick (60 s: no batch is sent during the test after the first), each Envoy's view of the fleet
count lags, so without the check each admits about its own share of the budget from its own view. With
the check from 50%, every request past half the budget waits on the service's count and the budget holds
fleet-wide. (src/fleet/budgets.rs; tests/core/fleet_wiring.rs has the rule against a fake service.)
"""
import json
import time

import pytest

import harness
from test_fleet_path import fleet_stack, unique

BUDGET = 10


def sync_policy(sync_check_percent):
    p = harness.default_policy()
    p["budgets"] = [{"name": "sync_req", "scope": "credential", "window": "hour", "max_requests": BUDGET}]
    p["fleet"] = {"enabled": True, "budgets": "filter", "tick_ms": 60000, "timeout_ms": 2000,
                  "sync_check_percent": sync_check_percent}
    return p


def alternate(envoys, n=2 * BUDGET):
    key = unique("sk-fleet-sync-")
    return [envoys[i % 2].chat(key=key).status for i in range(n)]


def service_count(redis, credential):
    keys = redis.command("KEYS", f"distill_guard_fleet_budget_hour_sync_req.requests_credential_{credential}_*") or []
    assert len(keys) <= 1, keys
    return int(redis.command("GET", keys[0])) if keys else 0


@pytest.mark.parametrize("percent", [50, 0])
def test_near_the_limit_the_service_decides_and_the_budget_holds_across_two_envoys(percent):
    with fleet_stack(sync_policy(percent), timeout_ms=2000) as (redis, _rls, envoys):
        statuses = alternate(envoys)
        checks = sum(e.metric("fleet.sync_checks") for e in envoys)
        admitted = statuses.count(200)
        assert set(statuses) <= {200, 429}, statuses
        # 10 an hour fleet-wide; each Envoy alone would admit 10 of its own (its local budget)
        assert admitted == BUDGET and statuses[:admitted] == [200] * admitted, statuses
        # 0%: every request waited. 50%: at most the first 4 of each Envoy did not (fewer when the first
        # batch's answer already brought the other Envoy's requests into its view), and at least the first.
        if percent == 0:
            assert checks == 2 * BUDGET, (checks, statuses)
            held_request_is_rewritten_and_tagged(envoys[0])
        else:
            assert 2 * BUDGET - 8 <= checks <= 2 * BUDGET - 2, (checks, statuses)
            the_service_holds_the_charges_under_hashed_ids(redis, envoys)


def held_request_is_rewritten_and_tagged(a):
    """The decision made in the check's answer callback still rewrites the body (include_usage for a
    stream the client did not ask usage for) and sets the upstream headers."""
    before = a.metric("fleet.sync_checks")
    r = a.chat(key=unique("sk-fleet-sync-stream-"), stream=True,
               extra_headers={"x-mock-prompt-tokens": "50", "x-mock-reply-words": "9"})
    assert r.status == 200, r
    assert a.metric("fleet.sync_checks") == before + 1
    up = a.last_upstream()
    assert json.loads(up["body"])["stream_options"] == {"include_usage": True}
    assert harness.header_of(up, "x-distill-verdict") is not None
    assert '"usage": {' not in r.body and r.body.rstrip().endswith("data: [DONE]")


def the_service_holds_the_charges_under_hashed_ids(redis, envoys):
    """Below the threshold the charges wait for the tick (60 s, and each Envoy sent its first batch
    already); the first check carries its Envoy's unsent charges with its own."""
    a, b = envoys
    key = unique("sk-fleet-sync-count-")
    before = sum(e.metric("fleet.sync_checks") for e in envoys)
    statuses = [(a, b)[i % 2].chat(key=key).status for i in range(7)]  # 4 on a, 3 on b
    assert statuses == [200] * 7
    assert sum(e.metric("fleet.sync_checks") for e in envoys) == before, "nothing waited below 50%"
    cred = harness.credential_id(a.policy["credential"]["hash_secret"], key)
    assert service_count(redis, cred) == 0, "nothing sent yet"
    # a's fifth reaches 50% of 10 by its view: checked, carrying a's 4 unsent charges and its own
    assert a.chat(key=key).status == 200
    assert service_count(redis, cred) == 5
    keys = redis.command("KEYS", "*") or []
    assert not any(key in k for k in keys)


def test_without_the_near_limit_check_a_long_tick_overshoots():
    # 100%: a request waits only once its Envoy's own view says the budget is spent
    with fleet_stack(sync_policy(100), timeout_ms=2000) as (_redis, _rls, envoys):
        statuses = alternate(envoys)
        checks = sum(e.metric("fleet.sync_checks") for e in envoys)
    admitted = statuses.count(200)
    assert admitted >= BUDGET + 5, statuses
    assert checks >= 1, "the last requests of each Envoy were checked"
