"""Hostile and malformed requests: each gets the documented behaviour, the VM never traps, and later
requests are unaffected."""
import json

import pytest

from harness import Envoy, header_of
from conftest import make_policy

CAP = 4096


@pytest.fixture(scope="module")
def envoy():
    p = make_policy()
    p["inspection"]["max_body_bytes"] = CAP
    e = Envoy(p, concurrency=2)
    yield e
    e.close()


def post(envoy, raw, content_type="application/json", key="sk-bad", path="/v1/chat/completions", extra=None):
    headers = [("authorization", f"Bearer {key}"), ("content-type", content_type)] + list(extra or [])
    return envoy.request(path, raw=raw, headers=headers)


def body_of_size(n):
    base = {"model": "m", "messages": [{"role": "user", "content": ""}]}
    pad = n - len(json.dumps(base, separators=(",", ":")))
    base["messages"][0]["content"] = "a" * pad
    raw = json.dumps(base, separators=(",", ":")).encode()
    assert len(raw) == n
    return raw


def test_malformed_json_is_forwarded_and_flagged(envoy):
    r = post(envoy, b'{"model": "m", "messages": [')
    assert r.status == 400  # the upstream's own answer
    rec = envoy.last_upstream()
    assert header_of(rec, "x-distill-signals") == "body_unparsed"
    assert rec["body"] == '{"model": "m", "messages": ['


def test_non_json_content_type_is_forwarded(envoy):
    r = post(envoy, b"hello world", content_type="text/plain")
    assert r.status == 400
    assert header_of(envoy.last_upstream(), "x-distill-signals") == "body_unparsed"
    assert header_of(envoy.last_upstream(), "x-distill-verdict") == "allow"


def test_empty_body_is_forwarded(envoy):
    r = post(envoy, b"")
    assert r.status == 200
    assert header_of(envoy.last_upstream(), "x-distill-verdict") == "allow"


def test_invalid_utf8_is_forwarded_and_flagged(envoy):
    r = post(envoy, b'{"model":"m","messages":[{"role":"user","content":"\xc3\x28\xff"}]}')
    assert r.status in (200, 400)
    assert header_of(envoy.last_upstream(), "x-distill-signals") == "body_unparsed"


def test_deeply_nested_json_is_forwarded_and_flagged(envoy):
    depth = 1500
    raw = ('{"model":"m","messages":' + "[" * depth + "]" * depth + "}").encode()
    assert len(raw) < CAP
    post(envoy, raw)
    assert header_of(envoy.last_upstream(), "x-distill-signals") == "body_unparsed"


def test_body_exactly_at_the_cap_is_inspected(envoy):
    raw = body_of_size(CAP)
    r = post(envoy, raw)
    assert r.status == 200
    rec = envoy.last_upstream()
    assert header_of(rec, "x-distill-signals") is None
    assert rec["body"].encode() == raw


def test_body_over_the_cap_is_forwarded_whole_with_a_signal(envoy):
    raw = body_of_size(CAP * 5 + 3)
    r = post(envoy, raw)
    assert r.status == 200
    rec = envoy.last_upstream()
    assert header_of(rec, "x-distill-signals") == "body_not_inspected"
    assert rec["body"].encode() == raw


def test_body_over_the_cap_is_refused_when_policy_says_block():
    p = make_policy()
    p["inspection"]["max_body_bytes"] = CAP
    p["inspection"]["oversize_body"] = "block"
    e = Envoy(p)
    try:
        r = post(e, body_of_size(CAP + 1))
        assert r.status == 413
        assert r.json()["error"]["code"] == "request_too_large"
        r = post(e, body_of_size(CAP + 1), path="/v1/messages", extra=[("anthropic-version", "2023-06-01")])
        assert r.status == 413 and r.json()["error"]["type"] == "request_too_large"
        assert post(e, body_of_size(CAP)).status == 200
        e.assert_no_trap()
    finally:
        e.close()


def test_chunked_upload_in_tiny_pieces_is_reassembled_and_rewritten(envoy):
    body = json.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "x" * 300}]}).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]) for i in range(0, len(body), 7)) + b"0\r\n\r\n"
    r = envoy.request("/v1/chat/completions", raw=chunked, headers=[
        ("authorization", "Bearer sk-chunked"), ("content-type", "application/json"), ("transfer-encoding", "chunked")])
    assert r.status == 200
    sent = json.loads(envoy.last_upstream()["body"])
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["messages"][0]["content"] == "x" * 300


def test_many_hostile_requests_never_trap_the_vm_and_normal_traffic_still_works(envoy):
    hostile = [
        b"", b"{", b"null", b"[]", b"\x00\x01\x02", b'{"messages": "not a list"}', b'{"model": 5, "stream": "yes"}',
        b'{"messages": [' + b'{"role":"user","content":"a"},' * 2000 + b'{}]}',
        b'{"stream": true, "stream_options": 7, "messages": []}',
        b'{"a":"' + b"\\ud800" * 50 + b'"}', ("{\"k\":\"" + "\u4e2d" * 500 + "\"}").encode(),
    ]
    for i in range(200):
        raw = hostile[i % len(hostile)]
        r = post(envoy, raw, key=f"sk-h{i % 7}", path=["/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/completions"][i % 4])
        assert r.status in (200, 400), (raw[:40], r)
    envoy.assert_no_trap()
    r = envoy.chat(key="sk-after")
    assert r.status == 200
    assert header_of(envoy.last_upstream(), "x-distill-verdict") == "allow"
