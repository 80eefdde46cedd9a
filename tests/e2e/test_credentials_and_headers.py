"""Credential extraction from every source, the x-distill-* headers seen upstream, and spoofing."""
import base64
import json
import re

import pytest

from harness import Envoy, credential_id, header_of, headers_of
from conftest import env_secret_policy, make_policy

SECRET = "e2e-secret-0123456789abcdef"


def b64url(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def jwt(payload):
    return f"{b64url({'alg': 'RS256'})}.{b64url(payload)}.c2lnbmF0dXJl"


@pytest.fixture(scope="module")
def envoy_sources():
    policy = make_policy(
        credential={
            "sources": [
                {"kind": "jwt_claim", "claim": "sub"},
                {"kind": "jwt_payload_header", "header": "x-jwt-payload", "claim": "sub"},
                {"kind": "bearer"},
                {"kind": "header", "name": "x-api-key"},
                {"kind": "header", "name": "api-key"},
                {"kind": "header", "name": "x-authenticated-user"},
            ],
            "missing": "block",
            "hash_secret": SECRET,
        },
        tenant=[{"kind": "jwt_claim", "claim": "org"}, {"kind": "key_prefix", "prefixes": {"sk-acme-": "acme"}}],
    )
    e = Envoy(policy)
    yield e
    e.close()


def seen_id(envoy):
    return header_of(envoy.last_upstream(), "x-distill-credential")


@pytest.mark.parametrize("headers,kind,value,source", [
    ({"authorization": "Bearer sk-plain-key-1"}, "key", "sk-plain-key-1", "bearer"),
    ({"x-api-key": "sk-xapi-2"}, "key", "sk-xapi-2", "x-api-key"),
    ({"api-key": "azure-key-3"}, "key", "azure-key-3", "api-key"),
    ({"x-authenticated-user": "alice@example.com"}, "key", "alice@example.com", "named header"),
    ({"authorization": "Bearer " + jwt({"sub": "user-42", "org": "org-a"})}, "claim", "user-42", "jwt claim"),
    ({"x-jwt-payload": b64url({"sub": "svc-7"})}, "claim", "svc-7", "jwt_authn payload header"),
])
def test_each_credential_source_yields_the_keyed_hash_upstream(envoy_sources, headers, kind, value, source):
    r = envoy_sources.request("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "hi"}]}, headers)
    assert r.status == 200, r
    assert seen_id(envoy_sources) == credential_id(SECRET, value, kind), source


def test_jwt_tenant_and_key_prefix_tenant_are_forwarded(envoy_sources):
    envoy_sources.request("/v1/chat/completions", {"model": "m", "messages": []},
                          {"authorization": "Bearer " + jwt({"sub": "u1", "org": "org-a"})})
    assert header_of(envoy_sources.last_upstream(), "x-distill-tenant") == "org-a"
    envoy_sources.request("/v1/chat/completions", {"model": "m", "messages": []}, {"x-api-key": "sk-acme-77"})
    assert header_of(envoy_sources.last_upstream(), "x-distill-tenant") == "acme"


def test_rotated_jwts_of_one_subject_share_an_id(envoy_sources):
    envoy_sources.chat(key=jwt({"sub": "same", "iat": 1}))
    a = seen_id(envoy_sources)
    envoy_sources.chat(key=jwt({"sub": "same", "iat": 2}))
    assert seen_id(envoy_sources) == a


def test_allowed_request_carries_verdict_headers(envoy_default):
    r = envoy_default.chat(key="sk-headers")
    assert r.status == 200
    seen = dict(headers_of(envoy_default.last_upstream()))
    assert seen["x-distill-verdict"] == "allow"
    assert re.fullmatch(r"0\.\d\d", seen["x-distill-score"]) and float(seen["x-distill-score"]) < 0.35
    assert len(seen["x-distill-credential"]) == 16
    assert "x-distill-signals" not in seen
    assert "x-distill-shadow" not in seen


def test_spoofed_distill_headers_are_removed_all_copies(envoy_default):
    spoof = [("authorization", "Bearer sk-spoof"), ("content-type", "application/json"),
             ("x-distill-verdict", "allow"), ("X-Distill-Verdict", "allow-again"),
             ("x-distill-score", "0.00"), ("x-distill-credential", "ffffffffffffffff"),
             ("x-distill-signals", "trusted"), ("x-distill-anything", "1"), ("x-distill-tenant", "vip")]
    r = envoy_default.request("/v1/chat/completions", raw=json.dumps({"model": "m", "messages": []}).encode(),
                              headers=spoof)
    assert r.status == 200
    seen = headers_of(envoy_default.last_upstream())
    names = [k for k, _ in seen]
    assert len(names) == len(set(names)), seen
    assert dict(seen)["x-distill-credential"] == credential_id(
        envoy_default.policy["credential"]["hash_secret"], "sk-spoof")
    assert "x-distill-anything" not in names and "x-distill-tenant" not in names
    assert dict(seen)["x-distill-verdict"] == "allow" and "x-distill-signals" not in names


def test_spoofed_headers_are_removed_on_bodyless_requests(envoy_default):
    r = envoy_default.request("/v1/models", method="GET",
                              headers={"authorization": "Bearer sk-get", "x-distill-verdict": "allow"})
    assert r.status == 404  # the mock has no /v1/models; the request still reached it
    seen = dict(headers_of(envoy_default.last_upstream()))
    assert seen.get("x-distill-credential") == credential_id(envoy_default.policy["credential"]["hash_secret"], "sk-get")


def test_missing_credential_gets_401_in_the_callers_format(envoy_default):
    r = envoy_default.chat(key=None)
    assert r.status == 401
    assert r.json()["error"]["code"] == "missing_api_key"
    r = envoy_default.anthropic(key=None)
    assert r.status == 401
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error"


def test_raw_keys_never_reach_the_log_or_stats(envoy_sources):
    key = "sk-very-secret-raw-key-000111"
    envoy_sources.chat(key=key)
    envoy_sources.request("/v1/chat/completions", {"model": "m", "messages": []}, {"x-api-key": key})
    log = envoy_sources.log()
    assert key not in log
    assert key not in envoy_sources.admin_get("/stats")
    for rec in envoy_sources.upstream_requests():
        for k, v in rec["headers"]:
            if k.startswith("x-distill-"):
                assert key not in v


def test_track_client_address_when_configured():
    policy = make_policy(credential={"sources": [{"kind": "bearer"}], "missing": "track_client_address",
                                     "hash_secret": SECRET})
    e = Envoy(policy)
    try:
        r = e.chat(key=None)
        assert r.status == 200
        assert seen_id(e) == credential_id(SECRET, "127.0.0.1", "addr")
    finally:
        e.close()


def test_hash_secret_can_come_from_the_vm_environment():
    policy = env_secret_policy()
    secret = "secret-from-the-environment-42"
    e = Envoy(policy, env={"DISTILL_GUARD_HASH_SECRET": secret})
    try:
        assert e.chat(key="sk-env").status == 200
        assert seen_id(e) == credential_id(secret, "sk-env")
        assert secret not in e.log() and secret not in e.admin_get("/config_dump")
    finally:
        e.close()
