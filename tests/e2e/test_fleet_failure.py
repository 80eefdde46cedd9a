"""The fleet engine going away mid-traffic (issue 14's failure tests), with the real filter on two Envoys:
the rate limit service or its Redis stopped while requests flow.

While it is down no request fails because of it (fail open: Envoy's rate limit filter admits, the filter
decides on its own counts), the filter's local budgets still hold, and the filter's
`distill_guard.fleet.unavailable` gauge shows the outage with one log line. Once it is back the gauge
clears with one log line, the detection counts sent during the outage reach the service (they were kept
and sent again), and the fleet-wide budget holds again.
"""
import time

import pytest

import harness
from test_fleet_path import fleet_stack, unique

BUDGET = 6
UNAVAILABLE = "wasmcustom.distill_guard.fleet.unavailable"
DOWN_LINE = "fleet counters unavailable"
BACK_LINE = "fleet counters back after"


def failure_policy():
    p = harness.default_policy()
    p["budgets"] = [{"name": "fleet_req", "scope": "credential", "window": "day", "max_requests": BUDGET}]
    p["fleet"] = {"enabled": True, "tick_ms": 100, "timeout_ms": 200}
    return p


@pytest.fixture
def fleet():
    with fleet_stack(failure_policy(), timeout_ms=300) as stack:
        yield stack


def wait_for(what, predicate, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def volume(redis, cred):
    """The fleet-wide request count of a credential in the detection counters (this hour)."""
    keys = redis.command("KEYS", f"distill_guard_fleet_volume_{cred}_*") or []
    return sum(int(redis.command("GET", k) or 0) for k in keys)


def alternate(envoys, key, n):
    return [envoys[i % 2].chat(key=key).status for i in range(n)]


def outage_and_recovery(redis, envoys, stop, start):
    a, b = envoys
    secret = a.policy["credential"]["hash_secret"]
    before = unique("sk-before-")
    assert alternate(envoys, before, 2) == [200, 200]
    wait_for("the first flush", lambda: volume(redis, harness.credential_id(secret, before)) == 2)
    assert a.stats().get(UNAVAILABLE, 0) == 0

    stop()
    try:
        during = unique("sk-during-")
        statuses = alternate(envoys, during, 4)
        # local enforcement goes on: one Envoy alone holds a credential to its own budget
        local = unique("sk-local-")
        statuses_local = [a.chat(key=local).status for _ in range(BUDGET + 2)]
        assert all(s < 500 for s in statuses + statuses_local), (statuses, statuses_local)
        assert statuses == [200] * 4, statuses
        assert statuses_local == [200] * BUDGET + [429, 429], statuses_local
        wait_for("the outage gauge", lambda: a.stats().get(UNAVAILABLE) == 1 and b.stats().get(UNAVAILABLE) == 1)
        assert a.log().count(DOWN_LINE) == 1, a.log()[-3000:]
    finally:
        start()

    wait_for("the recovery", lambda: a.stats().get(UNAVAILABLE) == 0 and b.stats().get(UNAVAILABLE) == 0,
             timeout=20)
    assert a.log().count(BACK_LINE) == 1 and a.log().count(DOWN_LINE) == 1
    # what the filter counted during the outage was kept and reaches the service
    wait_for("the outage's counts", lambda: volume(redis, harness.credential_id(secret, during)) >= 4)
    # the fleet-wide budget holds again
    after = unique("sk-after-")
    assert alternate(envoys, after, BUDGET + 2) == [200] * BUDGET + [429, 429]
    return during


def test_rate_limit_service_stopped_mid_traffic_fails_open_and_converges_when_back(fleet):
    redis, rls, envoys = fleet
    during = outage_and_recovery(redis, envoys, rls.stop, rls.start)
    # the service was down, so nothing of the outage reached it before: the count is exact
    secret = envoys[0].policy["credential"]["hash_secret"]
    assert volume(redis, harness.credential_id(secret, during)) == 4


def test_redis_stopped_mid_traffic_fails_open_and_converges_when_back(fleet):
    redis, _rls, envoys = fleet
    # Redis comes back empty (no persistence here); the service holds calls while it is gone, so a call
    # the filter gave up on may still land: the outage's count is at least what was sent
    outage_and_recovery(redis, envoys, redis.stop, redis.start)
