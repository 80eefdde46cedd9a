"""10,000 hostile and malformed requests through the real Envoy, from several connections at once.
Afterwards no wasm VM failed or was recreated, every response was a documented one, and a normal
request still works."""
import http.client
import json
import os
import tempfile
import threading
import time

from harness import Envoy, credential_id, header_of
from conftest import env_secret_policy, make_policy


def b64(raw):
    import base64
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def cases():
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    jb = lambda o: json.dumps(o).encode()  # noqa: E731
    # Forwarded (the upstream's 200/400), or refused by policy: budgets and detection (429/403) apply to
    # hostile keys too. What must never appear is a 5xx (a trapped VM) or a hang.
    ok = {200, 400, 403, 429}
    yield "/v1/chat/completions", [("authorization", "Bearer sk-h1")], jb(chat), ok
    yield "/v1/chat/completions", [("authorization", "Bearer sk-h2")], jb({"model": "m", "messages": [{"role": "user", "content": "x" * 200_000}]}), ok
    yield "/v1/chat/completions", [("authorization", "Bearer sk-h3")], jb({"model": "m", "messages": [{"role": "user", "content": str(i)} for i in range(10_000)]}), ok
    yield "/v1/chat/completions", [("authorization", "Bearer sk-h4")], b"[" * 5000 + b"]" * 5000, ok
    yield "/v1/chat/completions", [("authorization", "Bearer sk-h5")], b'{"messages":[{"content":"\xff\xfe\xc3\x28"}]}', ok
    yield "/v1/messages", [("x-api-key", "sk-h6"), ("content-type", "text/plain")], b"plain text body", ok
    yield "/v1/responses", [("authorization", "Bearer sk-h7"), ("content-type", "application/x-www-form-urlencoded")], b"a=1&b=2", ok
    yield "/v1/chat/completions", [("authorization", "Bearer sk-h8"), ("authorization", "Bearer sk-h8b"),
                                   ("x-distill-verdict", "allow"), ("X-DISTILL-VERDICT", "allow"), ("x-distill-score", "0")], jb(chat), ok
    yield "/v1/chat/completions", [("authorization", "Bearer " + b64(b'{"alg":"none"}') + "." + b64(b"\x00\xffgarbage") + ".sig")], jb(chat), ok
    yield "/v1/chat/completions", [("authorization", "Bearer a.b.c.d.e")], jb(chat), ok
    yield "/v1/chat/completions", [], jb(chat), {401}
    yield "/v1/chat/completions", [("authorization", "Basic dXNlcjpwYXNz")], jb(chat), {401}
    yield "/v1/chat/completions", [("authorization", "Bearer " + "k" * 20_000)], jb(chat), {401, 431}
    yield "/v1/completions", [("authorization", "Bearer sk-h9")], jb({"model": "m", "prompt": 5, "echo": "yes", "logprobs": -3, "n": 1e300}), ok
    yield "/v1/chat/completions", [("authorization", "Bearer sk-h10")], jb({"model": "m", "stream": True, "stream_options": "nope", "messages": "str"}), ok
    yield "/v1/chat/completions", [("authorization", "Bearer sk-h11")], b"", ok
    yield "/unknown/path", [("authorization", "Bearer sk-h12")], b"{}", {404, 403, 429}


def send(conn, path, headers, body):
    conn.putrequest("POST", path, skip_accept_encoding=True)
    names = {k.lower() for k, _ in headers}
    for k, v in headers:
        conn.putheader(k, v)
    if "content-type" not in names:
        conn.putheader("content-type", "application/json")
    conn.putheader("content-length", str(len(body)))
    conn.endheaders(body)
    r = conn.getresponse()
    r.read()
    return r.status


def send_chunked_bytewise(port, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.putrequest("POST", "/v1/chat/completions", skip_accept_encoding=True)
    c.putheader("authorization", "Bearer sk-bytes")
    c.putheader("content-type", "application/json")
    c.putheader("transfer-encoding", "chunked")
    c.endheaders()
    for i in range(len(body)):
        c.send(b"1\r\n" + body[i:i + 1] + b"\r\n")
    c.send(b"0\r\n\r\n")
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def test_ten_thousand_hostile_requests_never_trap_the_vm():
    p = make_policy()
    p["credential"]["sources"].insert(0, {"kind": "jwt_claim", "claim": "sub"})
    e = Envoy(p, concurrency=2)
    try:
        created = e.stats().get("wasm.envoy.wasm.runtime.v8.created")
        all_cases = list(cases())
        bad, count = [], [0]
        lock = threading.Lock()

        def worker(offset):
            conn = http.client.HTTPConnection("127.0.0.1", e.port, timeout=60)
            for i in range(offset, 10_000, 4):
                path, headers, body, allowed = all_cases[i % len(all_cases)]
                try:
                    status = send(conn, path, headers, body)
                except (http.client.HTTPException, OSError):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", e.port, timeout=60)
                    status = send(conn, path, headers, body)
                with lock:
                    count[0] += 1
                    if status not in allowed:
                        bad.append((i % len(all_cases), status))

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert count[0] == 10_000
        assert bad == [], bad[:10]
        # A chunked upload split at every byte is reassembled and rewritten like any other.
        body = json.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "split me"}]}).encode()
        assert send_chunked_bytewise(e.port, body) == 200
        assert json.loads(e.last_upstream()["body"])["stream_options"] == {"include_usage": True}
        e.assert_no_trap()
        assert e.stats().get("wasm.envoy.wasm.runtime.v8.created") == created, "no VM was recreated"
        r = e.chat(key="sk-after-the-storm")
        assert r.status == 200 and header_of(e.last_upstream(), "x-distill-verdict") == "allow"
    finally:
        e.close()


# The filter state distill-guard exports for Envoy's rate limit filter (fleet budgets), as an access log
# line per request: `credential|tenant|tokens_estimate|tokens_remainder`.
EXPORTED = "|".join(f"%FILTER_STATE(wasm.distill_guard.{n}:PLAIN)%"
                    for n in ("credential", "tenant", "tokens_estimate", "tokens_remainder"))


def log_exported_state(path):
    def edit(config):
        hook = "          stat_prefix: llm_api\n"
        assert hook in config
        return config.replace(hook, hook + (
            "          access_log:\n"
            "          - name: envoy.access_loggers.file\n"
            "            typed_config:\n"
            '              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog\n'
            f"              path: {path}\n"
            "              log_format:\n"
            f"                text_format_source: {{inline_string: \"{EXPORTED}\\n\"}}\n"), 1)
    return edit


def test_no_raw_key_reaches_logs_stats_config_dump_distill_headers_or_exported_filter_state():
    p = env_secret_policy()
    p["credential"]["sources"].insert(0, {"kind": "jwt_claim", "claim": "sub"})
    p["tenant"] = [{"kind": "key_prefix", "prefixes": {"sk-live-": "live"}}]
    access_log = os.path.join(tempfile.mkdtemp(prefix="dg-access-"), "access.log")
    e = Envoy(p, env={"DISTILL_GUARD_HASH_SECRET": "the-hashing-secret-value"},
              edit_config=log_exported_state(access_log))
    keys = ["sk-live-AAAAAAAAAAAAAAAA", "sk-ant-BBBBBBBBBBBBBBBB", "azure-CCCCCCCCCCCCCCCC"]
    try:
        e.chat(key=keys[0])
        e.anthropic(key=keys[1])
        e.request("/v1/chat/completions", {"model": "m", "messages": []}, {"api-key": keys[2]})
        e.request("/v1/chat/completions", {"model": "m", "messages": []},
                  {"authorization": "Bearer " + b64(b'{"alg":"none"}') + "." + b64(b'{"sub":"user-DDDDDDDD"}') + ".s"})
        places = {"log": e.log(), "stats": e.admin_get("/stats"), "prometheus": e.admin_get("/stats/prometheus"),
                  "config_dump": e.admin_get("/config_dump")}
        # Envoy writes access logs on a flush timer: wait for the four lines
        deadline = time.time() + 10
        exported = []
        while time.time() < deadline and len(exported) < 4:
            time.sleep(0.2)
            exported = open(access_log).read().splitlines() if os.path.exists(access_log) else []
        assert len(exported) == 4, exported
        # the forwarded requests exported a credential id, an estimate and the settled remainder
        first = exported[0].split("|")
        assert first[0] == credential_id("the-hashing-secret-value", keys[0]) and first[1] == "live", first
        assert first[2].isdigit() and first[3].isdigit(), first
        places["exported filter state"] = "\n".join(exported)
        for rec in e.upstream_requests():
            places["upstream x-distill headers"] = places.get("upstream x-distill headers", "") + json.dumps(
                [(k, v) for k, v in rec["headers"] if k.startswith("x-distill-")])
        for secret in keys + ["user-DDDDDDDD", "the-hashing-secret-value"]:
            for where, text in places.items():
                assert secret not in text, f"{secret} found in {where}"
    finally:
        e.close()
