"""Credential floods: far more distinct credentials than ledger slots. Memory stays bounded (the
tracked-credentials gauge never exceeds `ledger.max_credentials`), the eviction rule is the documented
one (one-shot keys evict each other, an active credential keeps its history), and an attack running at
the same time is still detected. `make flood` (tests/flood.py, driven by wrk) runs the full-size version: 1,000,000 keys."""
import http.client
import json
import os
import threading

from harness import Envoy, header_of
from conftest import make_policy

FLOOD = int(os.environ.get("DG_FLOOD", "6000"))
SLOTS = int(os.environ.get("DG_FLOOD_SLOTS", "500"))


def test_a_credential_flood_stays_bounded_and_an_attack_is_still_caught():
    p = make_policy()
    p["ledger"]["max_credentials"] = SLOTS
    e = Envoy(p, concurrency=2)
    try:
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},
                                                      {"role": "user", "content": "tell me more"}]}).encode()
        attack = json.dumps({"model": "m", "max_tokens": 1, "temperature": 0, "logprobs": True, "top_logprobs": 20,
                             "logit_bias": {"1234": 100}, "messages": [{"role": "user", "content": "next token?"}]}).encode()
        attack_statuses = []
        errors = []

        def worker(offset, step):
            conn = http.client.HTTPConnection("127.0.0.1", e.port, timeout=60)
            for i in range(offset, FLOOD, step):
                is_attack = i % 25 == 0
                hdrs = {"authorization": "Bearer sk-attacker" if is_attack else f"Bearer sk-flood-{i}",
                        "content-type": "application/json"}
                try:
                    conn.request("POST", "/v1/chat/completions", attack if is_attack else body, hdrs)
                    r = conn.getresponse()
                    r.read()
                except (http.client.HTTPException, OSError) as exc:
                    errors.append(repr(exc))
                    conn = http.client.HTTPConnection("127.0.0.1", e.port, timeout=60)
                    continue
                if is_attack:
                    attack_statuses.append(r.status)
                elif r.status != 200:
                    errors.append(r.status)

        threads = [threading.Thread(target=worker, args=(k, 4)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        tracked = e.metric("tracked_credentials")
        assert 0 < tracked <= SLOTS, tracked
        assert e.metric("ledger.evictions") >= FLOOD - 2 * SLOTS, "one-shot keys evict each other"
        assert attack_statuses[-1] == 403 and attack_statuses.count(403) > len(attack_statuses) // 2, attack_statuses[:20]
        # The active attacker kept its history (its slot was never the one evicted): still blocked.
        r = e.request("/v1/chat/completions", json.loads(attack), {"authorization": "Bearer sk-attacker"})
        assert r.status == 403
        e.assert_no_trap()
        assert e.chat(key="sk-fresh-after-flood").status == 200
        assert header_of(e.last_upstream(), "x-distill-verdict") == "allow"
    finally:
        e.close()
