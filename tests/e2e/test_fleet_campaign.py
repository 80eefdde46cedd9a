"""A key farm spread over two Envoys (issue 14's detection test): each Envoy sees half the farm, which its
local campaign sketch does not flag; the fleet counters must show the farm whole.

The first two tests make the third meaningful: the same traffic through one Envoy is a campaign, and
split over two Envoys without fleet counters it is not. The third, with the `fleet` section on, sees it:
the filter merges the fleet view (src/fleet) into its campaign detector.
"""
import os
import sys
import time

import pytest

import harness
from test_fleet_path import service_configs, unique

sys.path.insert(0, os.path.join(harness.ROOT, "envoy", "fleet"))
import engine  # noqa: E402
import render_fleet  # noqa: E402

FARM = 10
# The campaign signal starts at min_credentials / 2 = 6 distinct credentials. The local sketch (32
# registers, linear counting at small counts) never reads 5 credentials above 5.5, and reads 10 below 6 only
# if 5 of them collide: the whole farm (10) is over it, each Envoy's half (5) always under.
MIN_CREDENTIALS = 12


def campaign_policy(fleet=False):
    p = harness.default_policy()
    p["budgets"] = []
    p["detection"]["campaign"]["min_credentials"] = MIN_CREDENTIALS
    # tag on any evidence, so the signals header lists what contributed (campaign_template or not)
    p["detection"]["tiers"] = {"tag": 0.01, "degrade": None, "throttle": None, "block": None}
    if fleet:
        p["fleet"] = {"enabled": True, "tick_ms": 100, "timeout_ms": 1000}
    return p


# The fleet view is a few ticks behind (a mark, then the increment it owes, then a read): a farm that runs
# for minutes is seen after its first seconds, but here 60 requests take ~0.2 s, so rounds are spaced by a
# few ticks (tick_ms = 100) as if the farm ran at 20 requests a second.
ROUND_PAUSE_S = 0.4


def farm_traffic(envoy_of, rounds=6, pause=0.0):
    """Each farm key sends `rounds` distinct fillings of one template; `envoy_of(k)` routes key k."""
    run = unique("")
    for r in range(rounds):
        time.sleep(pause if r else 0)
        for k in range(FARM):
            i = r * FARM + k
            prompt = ("You are a world-class tutor. Read the question, reason carefully and finish with the "
                      f"answer. Question: problem number {i} about {i * 13}")
            resp = envoy_of(k).chat(key=f"sk-farm-{run}-{k}", messages=[{"role": "user", "content": prompt}])
            assert resp.status == 200, resp


def campaign_seen(envoys):
    signals = [harness.header_of(r, "x-distill-signals") or "" for e in envoys for r in e.upstream_requests()]
    return sum("campaign_template" in s for s in signals)


def test_the_farm_through_one_envoy_is_a_campaign():
    e = harness.Envoy(policy=campaign_policy())
    try:
        farm_traffic(lambda k: e)
        assert campaign_seen([e]) > 0
    finally:
        e.close()


def test_the_farm_split_over_two_envoys_is_not_seen_without_fleet_counters():
    a, b = harness.Envoy(policy=campaign_policy()), harness.Envoy(policy=campaign_policy())
    try:
        farm_traffic(lambda k: (a, b)[k % 2], pause=ROUND_PAUSE_S)
        assert campaign_seen([a, b]) == 0
    finally:
        a.close()
        b.close()


def test_the_farm_split_over_two_envoys_is_a_campaign_with_fleet_counters():
    policy = campaign_policy(fleet=True)
    with engine.Redis() as redis, engine.RateLimit(redis.port, service_configs(policy)) as rls:
        envoys = []
        try:
            for _ in range(2):
                envoys.append(harness.Envoy(policy=policy, edit_config=lambda c: render_fleet.add_fleet(
                    c, policy, rls.grpc_port, timeout_ms=1000)))
            a, b = envoys
            farm_traffic(lambda k: (a, b)[k % 2], pause=ROUND_PAUSE_S)
            assert campaign_seen([a, b]) > 0
        finally:
            for e in envoys:
                e.close()
