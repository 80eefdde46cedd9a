"""Fleet-wide budgets enforced by the filter itself (`fleet.budgets: "filter"`), against the real rate limit
service and Redis on two Envoys: the near-limit synchronous check (`fleet.sync_check_percent`).

With a long tick (60 s: no batch is sent during the test after the first), each Envoy's view of the fleet
count lags, so without the check each admits about its own share of the budget from its own view. With
the check from 50%, every request past half the budget waits on the service's count and the budget holds
fleet-wide. (src/fleet/budgets.rs; tests/core/fleet_wiring.rs has the rule against a fake service.)
"""
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
    with fleet_stack(sync_policy(percent), timeout_ms=2000) as (_redis, _rls, envoys):
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
    else:
        assert 2 * BUDGET - 8 <= checks <= 2 * BUDGET - 2, (checks, statuses)


def test_without_the_near_limit_check_a_long_tick_overshoots():
    # 100%: a request waits only once its Envoy's own view says the budget is spent
    with fleet_stack(sync_policy(100), timeout_ms=2000) as (_redis, _rls, envoys):
        statuses = alternate(envoys)
        checks = sum(e.metric("fleet.sync_checks") for e in envoys)
    admitted = statuses.count(200)
    assert admitted >= BUDGET + 5, statuses
    assert checks >= 1, "the last requests of each Envoy were checked"


def test_the_service_holds_the_filters_charges_under_hashed_ids():
    with fleet_stack(sync_policy(50), timeout_ms=2000) as (redis, _rls, (a, b)):
        key = unique("sk-fleet-sync-count-")
        statuses = [(a, b)[i % 2].chat(key=key).status for i in range(7)]
        assert statuses == [200] * 7
        cred = harness.credential_id(a.policy["credential"]["hash_secret"], key)
        time.sleep(1)  # each Envoy's first batch goes on its first tick (100 ms) after its first request
        # the first batches carried each Envoy's first request (and any made before that tick); the rest
        # waits for the 60 s tick unless a check carried it: never more than were sent
        got = service_count(redis, cred)
        assert 2 <= got <= 7, got
        keys = redis.command("KEYS", "*") or []
        assert not any(key in k for k in keys)
