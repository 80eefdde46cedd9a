"""The rate limit protocol as src/fleet speaks it, checked against the official protobuf runtime and the
real envoyproxy/ratelimit service on Redis.

tests/data/fleet/ holds two exchanges of the detection counters (see src/fleet/counters.rs):
`request1.bin`/`request2.bin` encoded here with the protobuf runtime from the batch specs below (the Rust
encoder must produce the same bytes: tests/core/fleet.rs), and `response1.bin`/`response2.bin` recorded
from the real service answering them (the Rust decoder reads them). This test replays the requests
against a fresh service and checks the service understood them exactly: same answers, same Redis counters.

Re-record (after changing the scheme): ../../.tools/venv/bin/python test_fleet_protocol.py --record
"""
import os
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

import harness

sys.path.insert(0, os.path.join(harness.ROOT, "envoy", "fleet"))
import engine  # noqa: E402
import ratelimit_config  # noqa: E402

DATA = os.path.join(harness.ROOT, "tests", "data", "fleet")
METHOD = "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit"
WINDOW = 7  # the campaign window number the Rust test builds the batches for
T = f"tpl1@{WINDOW}"
# (entries, hits_addend) per descriptor, in the order FleetCounters::build_batch emits them.
BATCH1 = [
    ([("template_credentials", T)], 0),
    ([("template", T), ("credential", "credA")], 1),
    ([("template", T), ("credential", "credB")], 1),
    ([("template_prompts", T)], 0),
    ([("template", T), ("prompt", "p1")], 1),
    ([("volume", "credA")], 2),
    ([("volume", "credB")], 1),
]
BATCH2 = [
    ([("template_credentials", T)], 2),
    ([("template_prompts", T)], 1),
    ([("template", T), ("credential", "credA")], 1),
    ([("volume", "credA")], 1),
]
OK, OVER = 1, 2
LIMIT = ratelimit_config.COUNTER_LIMIT
# (code, limit, remaining) the service must answer
ANSWER1 = [(OK, LIMIT, LIMIT), (OK, 1, 0), (OK, 1, 0), (OK, LIMIT, LIMIT), (OK, 1, 0), (OK, LIMIT, LIMIT - 2),
           (OK, LIMIT, LIMIT - 1)]
ANSWER2 = [(OK, LIMIT, LIMIT - 2), (OK, LIMIT, LIMIT - 1), (OVER, 1, 0), (OK, LIMIT, LIMIT - 3)]


def _messages():
    """The protocol's messages (only the fields used), built from a descriptor at run time."""
    f = descriptor_pb2.FileDescriptorProto(name="dg_rls_subset.proto", package="dgtest", syntax="proto3")
    T_ = descriptor_pb2.FieldDescriptorProto

    def msg(name, *fields):
        m = f.message_type.add(name=name)
        for num, fname, ftype, label, tname in fields:
            fd = m.field.add(name=fname, number=num, type=ftype, label=label)
            if tname:
                fd.type_name = f".dgtest.{tname}"
        return m

    opt, rep = T_.LABEL_OPTIONAL, T_.LABEL_REPEATED
    msg("UInt64Value", (1, "value", T_.TYPE_UINT64, opt, None))
    msg("Entry", (1, "key", T_.TYPE_STRING, opt, None), (2, "value", T_.TYPE_STRING, opt, None))
    msg("Descriptor", (1, "entries", T_.TYPE_MESSAGE, rep, "Entry"),
        (3, "hits_addend", T_.TYPE_MESSAGE, opt, "UInt64Value"))
    msg("Request", (1, "domain", T_.TYPE_STRING, opt, None), (2, "descriptors", T_.TYPE_MESSAGE, rep, "Descriptor"),
        (3, "hits_addend", T_.TYPE_UINT32, opt, None))
    msg("Limit", (1, "requests_per_unit", T_.TYPE_UINT32, opt, None), (2, "unit", T_.TYPE_INT32, opt, None),
        (3, "name", T_.TYPE_STRING, opt, None))
    msg("Duration", (1, "seconds", T_.TYPE_INT64, opt, None), (2, "nanos", T_.TYPE_INT32, opt, None))
    msg("Status", (1, "code", T_.TYPE_INT32, opt, None), (2, "current_limit", T_.TYPE_MESSAGE, opt, "Limit"),
        (3, "limit_remaining", T_.TYPE_UINT32, opt, None), (4, "duration_until_reset", T_.TYPE_MESSAGE, opt, "Duration"))
    msg("Response", (1, "overall_code", T_.TYPE_INT32, opt, None), (2, "statuses", T_.TYPE_MESSAGE, rep, "Status"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"dgtest.{n}")) for n in
            ("Request", "Response")}


MSG = _messages()


def encode(batch):
    req = MSG["Request"](domain=ratelimit_config.FLEET_DOMAIN)
    for entries, hits in batch:
        d = req.descriptors.add()
        for k, v in entries:
            d.entries.add(key=k, value=v)
        d.hits_addend.SetInParent()
        d.hits_addend.value = hits
    return req.SerializeToString()


def answer(raw):
    resp = MSG["Response"].FromString(raw)
    return [(s.code, s.current_limit.requests_per_unit, s.limit_remaining) for s in resp.statuses], resp.overall_code


def replay(exchanges):
    """Sends each request to a fresh service; returns the raw answers and the Redis keys -> values."""
    engine.wait_clear_of_window_edge()
    with engine.Redis() as redis, engine.RateLimit(redis.port, {
            f"{ratelimit_config.FLEET_DOMAIN}.yaml": ratelimit_config.fleet_service_config()}) as rls:
        with grpc.insecure_channel(f"127.0.0.1:{rls.grpc_port}") as ch:
            call = ch.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
            raws = [call(req, timeout=5) for req in exchanges]
        keys = {k: int(redis.command("GET", k)) for k in redis.command("KEYS", "*")}
    return raws, keys


def read(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


def test_recorded_requests_are_what_the_protobuf_runtime_encodes():
    assert read("request1.bin") == encode(BATCH1)
    assert read("request2.bin") == encode(BATCH2)


def test_recorded_answers_say_what_the_scheme_expects():
    assert answer(read("response1.bin")) == (ANSWER1, OK)
    assert answer(read("response2.bin")) == (ANSWER2, OVER)


def test_the_real_service_answers_the_requests_as_recorded():
    raws, keys = replay([read("request1.bin"), read("request2.bin")])
    assert [answer(r) for r in raws] == [(ANSWER1, OK), (ANSWER2, OVER)]
    # only the reset times differ from the recording
    by_suffix = {k.rsplit("_", 1)[0]: v for k, v in keys.items()}
    assert by_suffix == {
        f"distill_guard_fleet_template_credentials_{T}": 2,
        f"distill_guard_fleet_template_prompts_{T}": 1,
        f"distill_guard_fleet_template_{T}_credential_credA": 2,
        f"distill_guard_fleet_template_{T}_credential_credB": 1,
        f"distill_guard_fleet_template_{T}_prompt_p1": 1,
        "distill_guard_fleet_volume_credA": 3,
        "distill_guard_fleet_volume_credB": 1,
    }


if __name__ == "__main__" and "--record" in sys.argv:
    os.makedirs(DATA, exist_ok=True)
    requests = [encode(BATCH1), encode(BATCH2)]
    raws, _ = replay(requests)
    for i, (req, raw) in enumerate(zip(requests, raws), 1):
        for name, data in ((f"request{i}.bin", req), (f"response{i}.bin", raw)):
            with open(os.path.join(DATA, name), "wb") as f:
                f.write(data)
        print(f"exchange {i}: {len(req)}-byte request, {len(raw)}-byte answer {answer(raw)}")
