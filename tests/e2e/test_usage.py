"""Token accounting through the real Envoy: exact usage from JSON and SSE of each API style, a stream
cut short, and include_usage injection. Observed through the filter's own Envoy metrics."""
import json

import openai
import pytest

from harness import Envoy


@pytest.fixture(scope="module")
def envoy():
    e = Envoy()
    yield e
    e.close()


class Delta:
    """Metric deltas around one exchange (metrics land in the log phase, just after the response)."""

    NAMES = ("tokens.input", "tokens.output", "tokens.cached", "tokens.reasoning", "usage_estimated", "usage_injected")

    def __init__(self, envoy):
        self.envoy = envoy
        self.before = envoy.metrics(self.NAMES)

    def settle(self):
        # A settled exchange bumps tokens.input (>0 for every request here); wait for it.
        self.envoy.wait_metric("tokens.input", self.before["tokens.input"] + 1)
        after = self.envoy.metrics(self.NAMES)
        return {n: after[n] - self.before[n] for n in self.NAMES}


BODIES = {
    "/v1/chat/completions": {"model": "gpt-4o", "messages": [{"role": "user", "content": "Tell me a joke"}]},
    "/v1/completions": {"model": "gpt-3.5-turbo-instruct", "prompt": "Once upon a time"},
    "/v1/responses": {"model": "gpt-4.1", "input": "Summarise the news"},
    "/v1/messages": {"model": "claude-sonnet-4", "max_tokens": 100, "messages": [{"role": "user", "content": "Hi"}]},
}


@pytest.mark.parametrize("path", list(BODIES))
@pytest.mark.parametrize("stream", [False, True])
def test_reported_usage_is_metered_exactly(envoy, path, stream):
    body = dict(BODIES[path])
    if stream:
        body["stream"] = True
    headers = {"x-api-key": "sk-usage", "x-mock-prompt-tokens": "321", "x-mock-reply-words": "17",
               "x-mock-cached-tokens": "100", "x-mock-reasoning-tokens": "5"}
    d = Delta(envoy)
    r = envoy.request(path, body, headers)
    assert r.status == 200, r
    if stream:
        assert "text/event-stream" in r.header("content-type")
    got = d.settle()
    assert got["tokens.input"] == 321
    assert got["tokens.cached"] == 100
    assert got["tokens.output"] == 22  # 17 words + 5 reasoning
    if "messages" in path and "chat" not in path:
        assert got["tokens.reasoning"] == 0  # Anthropic does not break reasoning out
    else:
        assert got["tokens.reasoning"] == 5
    assert got["usage_estimated"] == 0


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
def test_streaming_openai_request_gets_include_usage_injected(envoy, path):
    body = dict(BODIES[path], stream=True)
    d = Delta(envoy)
    r = envoy.request(path, body, {"authorization": "Bearer sk-inject", "x-mock-prompt-tokens": "50",
                                   "x-mock-reply-words": "9"})
    assert r.status == 200
    sent = json.loads(envoy.last_upstream()["body"])
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["model"] == body["model"]
    assert '"usage": {' not in r.body, "the client, which did not ask for usage, does not receive the usage chunk"
    assert r.body.rstrip().endswith("data: [DONE]")
    got = d.settle()
    assert got["usage_injected"] == 1
    assert (got["tokens.input"], got["tokens.output"], got["usage_estimated"]) == (50, 9, 0)


def test_include_usage_already_requested_is_left_alone(envoy):
    body = dict(BODIES["/v1/chat/completions"], stream=True, stream_options={"include_usage": True})
    raw = json.dumps(body, separators=(",", ":")).encode()
    d = Delta(envoy)
    r = envoy.request("/v1/chat/completions", raw=raw, headers={"authorization": "Bearer sk-x",
                                                                  "content-type": "application/json"})
    assert r.status == 200
    assert envoy.last_upstream()["body"].encode() == raw, "body forwarded byte for byte"
    assert d.settle()["usage_injected"] == 0


@pytest.mark.parametrize("path", list(BODIES))
def test_stream_cut_short_is_estimated_from_streamed_text(envoy, path):
    body = dict(BODIES[path], stream=True)
    d = Delta(envoy)
    r = envoy.request(path, body, {"x-api-key": "sk-cut", "x-mock-cut-after": "5", "x-mock-reply-words": "40",
                                   "x-mock-prompt-tokens": "77"})
    assert r.status == 200  # headers were sent before the upstream died
    got = d.settle()
    assert got["usage_estimated"] == 1
    assert 4 <= got["tokens.output"] <= 8, got  # five streamed words, estimated
    if path == "/v1/messages":
        assert got["tokens.input"] == 77  # message_start had already reported input
    else:
        assert got["tokens.input"] != 77 and got["tokens.input"] > 0  # the request estimate stands


def test_json_response_without_usage_keeps_the_estimate(envoy):
    d = Delta(envoy)
    r = envoy.chat(key="sk-nousage", extra_headers={"x-mock-no-usage": "1"})
    assert r.status == 200
    got = d.settle()
    assert got["usage_estimated"] == 1
    assert got["tokens.input"] > 0 and got["tokens.output"] == 0


def test_upstream_error_refunds_the_estimate(envoy):
    before = envoy.metric("tokens.input")
    estimated = envoy.metric("usage_estimated")
    r = envoy.chat(key="sk-err", extra_headers={"x-mock-status": "500"})
    assert r.status == 500
    assert envoy.wait_metric("usage_estimated", estimated + 1) == estimated + 1, "the exchange was settled"
    assert envoy.metric("tokens.input") == before


# ---- the official OpenAI SDK streaming through the filter ------------------------------------------

def sdk_stream(envoy, key, split, **options):
    """A streamed chat through the filter with the official SDK; `split`: the usage chunk straddles
    the proxy's chunks (each event sent in pieces of 7 bytes)."""
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{envoy.port}/v1", api_key=key, max_retries=0, timeout=20)
    headers = {"x-mock-prompt-tokens": "50", "x-mock-reply-words": "9"}
    if split:
        headers["x-mock-split-bytes"] = "7"
    return client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Tell me a joke"}],
                                          stream=True, extra_headers=headers, **options)


@pytest.mark.parametrize("split", [False, True])
def test_sdk_reading_choices_0_works_when_the_client_did_not_ask_for_usage(envoy, split):
    d = Delta(envoy)
    text, chunks = "", 0
    for chunk in sdk_stream(envoy, "sk-sdk-plain", split):
        chunks += 1
        text += chunk.choices[0].delta.content or ""  # what breaks on an injected usage chunk
        assert chunk.usage is None
    assert len(text.split()) == 9 and chunks == 11, (text, chunks)
    sent = json.loads(envoy.last_upstream()["body"])
    assert sent["stream_options"] == {"include_usage": True}, "usage was still injected upstream"
    got = d.settle()
    assert (got["usage_injected"], got["tokens.input"], got["tokens.output"], got["usage_estimated"]) == (1, 50, 9, 0)


@pytest.mark.parametrize("split", [False, True])
def test_sdk_gets_the_usage_chunk_when_the_client_asked_for_it(envoy, split):
    d = Delta(envoy)
    stream = sdk_stream(envoy, "sk-sdk-usage", split, stream_options={"include_usage": True})
    chunks = list(stream)
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None, last
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (50, 9)
    assert all(c.choices for c in chunks[:-1])
    got = d.settle()
    assert (got["usage_injected"], got["tokens.input"], got["tokens.output"], got["usage_estimated"]) == (0, 50, 9, 0)
