"""Fleet-wide budgets with the real filter (the product test of issue 14's first point): one credential's
traffic alternated over two Envoys is held to its request budget fleet-wide, a tenant's to its token budget,
and what reaches
the rate limit service carries no raw key.

The filter exports its filter state (`src/fleet/export.rs`: credential id, tenant, token estimate, usage
remainder); without it the rate limit filter would find no descriptor values and each Envoy would admit
the full budget. The Envoy + rate limit service + Redis path itself is proved by test_fleet_path.py.
"""
import re

import pytest

import harness
from test_fleet_path import counter, fleet_stack, unique, wait_counter

# 100 tokens an exchange (the mock reports what it is told)
TOKENS = {"x-mock-prompt-tokens": "50", "x-mock-reply-words": "50"}


def budgets_policy():
    p = harness.default_policy()
    p["budgets"] = [
        {"name": "fleet_req", "scope": "credential", "window": "day", "max_requests": 5},
        {"name": "fleet_tok", "scope": "tenant", "window": "day", "max_tokens": 1000},
    ]
    p["tenant"] = [{"kind": "header", "name": "x-tenant"}]
    return p


@pytest.fixture(scope="module")
def fleet():
    with fleet_stack(budgets_policy(), timeout_ms=2000) as (redis, _rls, envoys):
        yield redis, envoys


def test_request_budget_holds_across_two_envoys(fleet):
    _redis, (a, b) = fleet
    key = unique("sk-fleet-req-")
    statuses = [(a, b)[i % 2].chat(key=key).status for i in range(10)]
    # 5 a day fleet-wide; each Envoy alone admits 5 of its own
    assert statuses == [200] * 5 + [429] * 5


def test_tenant_token_budget_holds_across_two_envoys(fleet):
    redis, (a, b) = fleet
    tenant = unique("team-")
    # a new key each time (far from the request budget), one tenant
    statuses = []
    for i in range(20):
        statuses.append((a, b)[i % 2].chat(key=unique("sk-member-"),
                                           extra_headers=dict(TOKENS, **{"x-tenant": tenant})).status)
        # the usage is charged at stream end, after the client has its answer: let that charge land before
        # the next request is checked (otherwise it is one request in flight, which the bound allows)
        charged = wait_counter(redis, "fleet_tok.tokens", "tenant", tenant, 100 * statuses.count(200))
        if statuses[-1] == 200:
            assert charged == 100 * statuses.count(200), (statuses, charged)
    admitted = statuses.count(200)
    # 1000 tokens at 100 an exchange: 10 fleet-wide (sequential requests, nothing in flight to overshoot);
    # each Envoy alone would admit 10 (20 in all)
    assert admitted <= 10 and statuses[:admitted] == [200] * admitted and admitted >= 9


def test_nothing_the_service_stores_carries_a_raw_key(fleet):
    redis, (a, _b) = fleet
    key = unique("sk-secret-")
    assert a.chat(key=key).status == 200
    cred = harness.credential_id(a.policy["credential"]["hash_secret"], key)
    assert counter(redis, "fleet_req.requests", "credential", cred) == 1
    keys = redis.command("KEYS", "*") or []
    assert keys and not any(key in k for k in keys)


MESSAGE = re.compile(r"Rate limit reached\. Please try again in [1-9][0-9]*s\.")


def assert_quiet_about_the_path(resp):
    """Envoy's 429 says no more than the filter's own: no `x-envoy-ratelimited`, a `retry-after`."""
    assert resp.header("x-envoy-ratelimited") is None, resp.headers
    assert resp.header("retry-after") == resp.header("x-ratelimit-reset"), resp.headers
    assert int(resp.header("retry-after")) > 0
    assert resp.header("content-type") == "application/json", resp.headers


def test_envoys_429_is_the_apis_own_error_openai_style(fleet):
    _redis, (a, b) = fleet
    key = unique("sk-fleet-shape-")
    resps = [(a, b)[i % 2].chat(key=key) for i in range(6)]
    assert [r.status for r in resps] == [200] * 5 + [429]
    # refused by Envoy's rate limit filter: each Envoy had admitted under its own budget of 5
    r = resps[5]
    assert r.header("x-ratelimit-limit") is not None, "Envoy's rate limit filter answered"
    err = r.json()["error"]
    assert (err["type"], err["code"], err["param"]) == ("requests", "rate_limit_exceeded", None), r.body
    assert MESSAGE.fullmatch(err["message"]), err
    assert_quiet_about_the_path(r)


def test_envoys_429_is_the_apis_own_error_anthropic_style_by_header_or_path(fleet):
    _redis, (a, b) = fleet
    body = {"model": "claude-sonnet-4", "max_tokens": 16, "messages": [{"role": "user", "content": "Hello"}]}
    for with_version in (True, False):
        key = unique("sk-ant-fleet-")
        headers = {"x-api-key": key}
        if with_version:
            headers["anthropic-version"] = "2023-06-01"
        resps = [(a, b)[i % 2].request("/v1/messages?beta=true", body, headers) for i in range(6)]
        assert [r.status for r in resps] == [200] * 5 + [429], resps
        r = resps[5]
        doc = r.json()
        assert doc["type"] == "error" and doc["error"]["type"] == "rate_limit_error", r.body
        assert MESSAGE.fullmatch(doc["error"]["message"]), doc
        assert_quiet_about_the_path(r)


def test_the_filters_own_429_is_left_as_it_is(fleet):
    _redis, (a, _b) = fleet
    key = unique("sk-fleet-own-")
    resps = [a.chat(key=key) for _ in range(6)]
    assert [r.status for r in resps] == [200] * 5 + [429]
    r = resps[5]
    # the filter refused it first (its own budget of 5 on this Envoy): its headers, not Envoy's
    assert r.header("x-ratelimit-limit-requests") == "5" and r.header("x-ratelimit-limit") is None, r.headers
    assert MESSAGE.fullmatch(r.json()["error"]["message"])
