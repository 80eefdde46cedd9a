"""Headers-first mode (`inspection.hold_headers: false`) in an Envoy *without*
allow_on_headers_stop_iteration, as under Istio's WasmPlugin: requests flow, the x-distill-* headers
carry the verdict known before the body, and body verdicts still reject and rewrite."""
import json

import pytest

from harness import Envoy, header_of
from conftest import make_policy

LOGPROBS = {"model": "gpt-4o", "logprobs": True, "top_logprobs": 10, "n": 3,
            "messages": [{"role": "user", "content": "Which word comes next: red, green, ..."}]}


def policy(**detection):
    p = make_policy(budgets=[{"name": "rpm", "scope": "credential", "window": "minute", "max_requests": 3}])
    p["inspection"]["hold_headers"] = False
    p["detection"].update({"min_requests": 1, "sustained_intent_requests": 0})  # one request reaches any tier
    p["detection"].update(detection)
    p["detection"]["degrade"].pop("route_header", None)
    p["detection"]["degrade"].pop("route_value", None)
    return p


@pytest.fixture(scope="module")
def envoy():
    e = Envoy(policy(tiers={"tag": None, "degrade": 0.1, "throttle": None, "block": None}), hold_headers=False,
              concurrency=2)
    yield e
    e.close()


def test_requests_flow_with_headers_upstream(envoy):
    r = envoy.chat(key="sk-hf-plain", messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},
                                                {"role": "user", "content": "how are you today?"}])
    assert r.status == 200
    rec = envoy.last_upstream()
    assert header_of(rec, "x-distill-verdict") == "allow"
    assert len(header_of(rec, "x-distill-credential")) == 16
    envoy.assert_no_trap()


def test_body_verdicts_still_rewrite_and_headers_catch_up_on_the_next_request(envoy):
    r = envoy.request("/v1/chat/completions", LOGPROBS, {"authorization": "Bearer sk-hf-degrade"})
    assert r.status == 200
    rec = envoy.last_upstream()
    body = json.loads(rec["body"])
    assert "logprobs" not in body and body["n"] == 1, "rewritten after the headers left"
    assert header_of(rec, "x-distill-verdict") == "allow", "the headers carry the verdict known before the body"
    envoy.request("/v1/chat/completions", LOGPROBS, {"authorization": "Bearer sk-hf-degrade"})
    rec = envoy.last_upstream()
    assert header_of(rec, "x-distill-verdict") == "degrade"
    assert "sticky" in header_of(rec, "x-distill-signals")


def test_streaming_usage_injection_works_without_held_headers(envoy):
    before = envoy.metric("tokens.input")
    r = envoy.chat(key="sk-hf-stream", stream=True, extra_headers={"x-mock-prompt-tokens": "40"})
    assert r.status == 200 and r.body.rstrip().endswith("data: [DONE]")
    assert '"usage": {' not in r.body, "the injected usage chunk is metered, not passed on"
    assert json.loads(envoy.last_upstream()["body"])["stream_options"] == {"include_usage": True}
    assert envoy.wait_metric("tokens.input", before + 40) == before + 40


def test_budget_rejects_before_the_body_is_read(envoy):
    statuses = [envoy.chat(key="sk-hf-budget").status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_block_tier_rejects_from_the_body_phase():
    e = Envoy(policy(tiers={"tag": None, "degrade": None, "throttle": None, "block": 0.1}), hold_headers=False)
    try:
        r = e.request("/v1/chat/completions", LOGPROBS, {"authorization": "Bearer sk-hf-block"})
        assert r.status == 403 and r.json()["error"]["code"] == "permission_denied"
        r = e.request("/v1/chat/completions", LOGPROBS, {"authorization": "Bearer sk-hf-block"})
        assert r.status == 403, "sticky: now refused before the body"
        assert any('"phase":"headers"' in l for l in e.log().splitlines())
        assert e.chat(key="sk-hf-other").status == 200
        e.assert_no_trap()
    finally:
        e.close()
