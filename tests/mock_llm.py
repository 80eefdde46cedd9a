#!/usr/bin/env python3
"""A mock LLM API upstream for the demo and the end-to-end tests (Python standard library only).

Serves, on 127.0.0.1:
  POST /v1/chat/completions   OpenAI chat completions, JSON or SSE (usage in the stream only when
                              stream_options.include_usage is true, as the real API does)
  POST /v1/completions        OpenAI legacy completions, JSON or SSE
  POST /v1/responses          OpenAI Responses API, JSON or SSE (response.completed carries usage)
  POST /v1/messages           Anthropic messages, JSON or SSE (message_start / message_delta usage)
  GET  /__mock/requests       the requests received (method, path, headers, body), newest last
  DELETE /__mock/requests     forget them
  GET  /healthz               200

Test controls, as request headers (they pass through Envoy untouched):
  x-mock-reply-words: N     words in the answer (default 12); completion tokens = N
  x-mock-prompt-tokens: N   reported prompt tokens (default: a count of the prompt's words and symbols)
  x-mock-cached-tokens: N   reported cached prompt tokens (default 0)
  x-mock-reasoning-tokens: N reported reasoning tokens (default 0, added to completion tokens)
  x-mock-cut-after: N       streaming: close the connection after N content chunks, without usage
  x-mock-status: CODE       answer with this HTTP status and an API-style error body, no usage
  x-mock-no-usage: 1        JSON: omit usage
  x-mock-split-bytes: N     streaming: send each event in pieces of N bytes (events straddle chunks)
"""

import argparse
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORDS = ("the model answers with a short and plausible sentence about the question so that clients "
         "see realistic text arriving in several pieces over the stream").split()
RECORD_LIMIT = 2000


def prompt_text(api, body):
    """All text a request sends to the model, concatenated."""
    parts = []

    def walk(v):
        if isinstance(v, str):
            parts.append(v)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for k, x in v.items():
                if k not in ("role", "type"):
                    walk(x)

    for field in ("messages", "prompt", "input", "instructions", "system"):
        if field in body:
            walk(body[field])
    return " ".join(parts)


def count_prompt_tokens(text):
    return max(1, len(re.findall(r"\w+|[^\w\s]", text))) + 7


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = []
        self.count = 0  # requests ever recorded (the list keeps the last RECORD_LIMIT)

    def add(self, item):
        with self.lock:
            self.items.append(item)
            self.count += 1
            if len(self.items) > 2 * RECORD_LIMIT:
                del self.items[:-RECORD_LIMIT]

    def all(self):
        with self.lock:
            return list(self.items)

    def clear(self):
        with self.lock:
            self.items.clear()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-llm/1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm holds the body
    # until the proxy's delayed ACK (~40 ms a response), which made long simulations crawl.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet
        if self.server.verbose:
            sys.stderr.write("mock-llm: " + (fmt % args) + "\n")

    # ---- helpers -------------------------------------------------------------------------------
    def send_json(self, status, obj, extra_headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def start_sse(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def chunk(self, text):
        # x-mock-split-bytes: N sends each event in pieces of N bytes, a moment apart, so events
        # straddle the chunks the proxy sees.
        data = text.encode()
        step = self.hint("x-mock-split-bytes") or len(data) or 1
        for at in range(0, len(data), step):
            piece = data[at:at + step]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
            if step < len(data):
                time.sleep(0.002)

    def end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def cut(self):
        """Abort mid-stream: the connection closes without the terminating chunk."""
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def hint(self, name, default=None):
        v = self.headers.get(name)
        if v is None:
            return default
        try:
            return int(v)
        except ValueError:
            return default

    # ---- routes --------------------------------------------------------------------------------
    def do_GET(self):
        if self.path == "/healthz":
            return self.send_json(200, {"ok": True})
        if self.path == "/__mock/requests":
            return self.send_json(200, self.server.recorder.all())
        self.server.recorder.add({"method": "GET", "path": self.path, "body": "", "time": time.time(),
                                  "headers": [[k.lower(), v] for k, v in self.headers.items()]})
        self.send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_DELETE(self):
        if self.path == "/__mock/requests":
            self.server.recorder.clear()
            return self.send_json(200, {"ok": True})
        self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            raw = self.read_chunked()
        item = {
            "method": "POST",
            "path": self.path,
            "headers": [[k.lower(), v] for k, v in self.headers.items()],
            "body": raw.decode("utf-8", "replace"),
            "time": time.time(),
        }
        self.server.recorder.add(item)
        path = self.path.split("?")[0]
        anthropic = path.endswith("/messages")
        status = self.hint("x-mock-status")
        if status:
            if anthropic:
                return self.send_json(status, {"type": "error", "error": {"type": "api_error", "message": "mock failure"}})
            return self.send_json(status, {"error": {"message": "mock failure", "type": "server_error", "param": None, "code": None}})
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except (ValueError, RecursionError):
            if anthropic:
                return self.send_json(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "invalid JSON"}})
            return self.send_json(400, {"error": {"message": "We could not parse the JSON body of your request.", "type": "invalid_request_error", "param": None, "code": None}})

        words = max(1, self.hint("x-mock-reply-words", 12))
        reply = [WORDS[i % len(WORDS)] for i in range(words)]
        prompt_tokens = self.hint("x-mock-prompt-tokens") or count_prompt_tokens(prompt_text(path, body))
        cached = self.hint("x-mock-cached-tokens", 0)
        reasoning = self.hint("x-mock-reasoning-tokens", 0)
        completion = words + reasoning
        model = body.get("model", "mock-model")
        stream = bool(body.get("stream"))
        # The usage this answer reports (when it reports any), for tests that check what was billed.
        item["usage"] = {"input": prompt_tokens, "output": completion}
        ctx = dict(reply=reply, prompt=prompt_tokens, cached=cached, reasoning=reasoning,
                   completion=completion, model=model, body=body, cut=self.hint("x-mock-cut-after"))
        if path.endswith("/chat/completions"):
            return self.chat_stream(ctx) if stream else self.chat_json(ctx)
        if path.endswith("/completions"):
            return self.completions_stream(ctx) if stream else self.completions_json(ctx)
        if path.endswith("/responses"):
            return self.responses_stream(ctx) if stream else self.responses_json(ctx)
        if anthropic:
            return self.anthropic_stream(ctx) if stream else self.anthropic_json(ctx)
        self.send_json(404, {"error": {"message": f"unknown path {path}", "type": "invalid_request_error"}})

    def read_chunked(self):
        out = b""
        while True:
            size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return out
            out += self.rfile.read(size)
            self.rfile.readline()

    # ---- OpenAI chat -----------------------------------------------------------------------------
    def openai_usage(self, c):
        return {
            "prompt_tokens": c["prompt"],
            "completion_tokens": c["completion"],
            "total_tokens": c["prompt"] + c["completion"],
            "prompt_tokens_details": {"cached_tokens": c["cached"], "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": c["reasoning"], "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        }

    def chat_json(self, c):
        obj = {
            "id": "chatcmpl-mock", "object": "chat.completion", "created": int(time.time()), "model": c["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": " ".join(c["reply"]), "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "system_fingerprint": "fp_mock",
        }
        if not self.hint("x-mock-no-usage"):
            obj["usage"] = self.openai_usage(c)
        self.send_json(200, obj)

    def chat_stream(self, c):
        self.start_sse()
        base = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": c["model"], "system_fingerprint": "fp_mock"}
        include_usage = bool((c["body"].get("stream_options") or {}).get("include_usage"))
        first = dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        if include_usage:
            first["usage"] = None
        self.chunk("data: " + json.dumps(first) + "\n\n")
        for i, w in enumerate(c["reply"]):
            if c["cut"] is not None and i >= c["cut"]:
                return self.cut()
            ev = dict(base, choices=[{"index": 0, "delta": {"content": (" " if i else "") + w}, "finish_reason": None}])
            if include_usage:
                ev["usage"] = None
            self.chunk("data: " + json.dumps(ev) + "\n\n")
        last = dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])
        self.chunk("data: " + json.dumps(last) + "\n\n")
        if include_usage:
            self.chunk("data: " + json.dumps(dict(base, choices=[], usage=self.openai_usage(c))) + "\n\n")
        self.chunk("data: [DONE]\n\n")
        self.end_chunks()

    # ---- OpenAI completions ----------------------------------------------------------------------
    def completions_json(self, c):
        obj = {"id": "cmpl-mock", "object": "text_completion", "created": int(time.time()), "model": c["model"],
               "choices": [{"text": " ".join(c["reply"]), "index": 0, "logprobs": None, "finish_reason": "stop"}]}
        if not self.hint("x-mock-no-usage"):
            obj["usage"] = self.openai_usage(c)
        self.send_json(200, obj)

    def completions_stream(self, c):
        self.start_sse()
        include_usage = bool((c["body"].get("stream_options") or {}).get("include_usage"))
        base = {"id": "cmpl-mock", "object": "text_completion", "created": int(time.time()), "model": c["model"]}
        for i, w in enumerate(c["reply"]):
            if c["cut"] is not None and i >= c["cut"]:
                return self.cut()
            self.chunk("data: " + json.dumps(dict(base, choices=[{"text": " " + w, "index": 0, "logprobs": None, "finish_reason": None}])) + "\n\n")
        if include_usage:
            self.chunk("data: " + json.dumps(dict(base, choices=[], usage=self.openai_usage(c))) + "\n\n")
        self.chunk("data: [DONE]\n\n")
        self.end_chunks()

    # ---- OpenAI Responses API --------------------------------------------------------------------
    def responses_usage(self, c):
        return {"input_tokens": c["prompt"], "input_tokens_details": {"cached_tokens": c["cached"]},
                "output_tokens": c["completion"], "output_tokens_details": {"reasoning_tokens": c["reasoning"]},
                "total_tokens": c["prompt"] + c["completion"]}

    def response_obj(self, c, status, with_usage):
        text = " ".join(c["reply"])
        return {"id": "resp_mock", "object": "response", "created_at": int(time.time()), "status": status,
                "model": c["model"],
                "output": [{"type": "message", "id": "msg_mock", "status": "completed", "role": "assistant",
                            "content": [{"type": "output_text", "text": text, "annotations": []}]}] if with_usage else [],
                "usage": self.responses_usage(c) if with_usage else None}

    def responses_json(self, c):
        obj = self.response_obj(c, "completed", True)
        if self.hint("x-mock-no-usage"):
            obj.pop("usage")
        self.send_json(200, obj)

    def responses_stream(self, c):
        self.start_sse()
        seq = 0

        def emit(kind, payload):
            nonlocal seq
            payload = dict(payload, type=kind, sequence_number=seq)
            seq += 1
            self.chunk(f"event: {kind}\ndata: {json.dumps(payload)}\n\n")

        emit("response.created", {"response": self.response_obj(c, "in_progress", False)})
        emit("response.output_item.added", {"output_index": 0, "item": {"type": "message", "id": "msg_mock", "role": "assistant", "content": []}})
        for i, w in enumerate(c["reply"]):
            if c["cut"] is not None and i >= c["cut"]:
                return self.cut()
            emit("response.output_text.delta", {"item_id": "msg_mock", "output_index": 0, "content_index": 0,
                                                "delta": (" " if i else "") + w})
        emit("response.output_text.done", {"item_id": "msg_mock", "output_index": 0, "content_index": 0, "text": " ".join(c["reply"])})
        emit("response.completed", {"response": self.response_obj(c, "completed", True)})
        self.end_chunks()

    # ---- Anthropic messages ----------------------------------------------------------------------
    def anthropic_usage(self, c, output):
        return {"input_tokens": c["prompt"] - c["cached"], "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": c["cached"], "output_tokens": output}

    def anthropic_json(self, c):
        obj = {"id": "msg_mock", "type": "message", "role": "assistant", "model": c["model"],
               "content": [{"type": "text", "text": " ".join(c["reply"])}],
               "stop_reason": "end_turn", "stop_sequence": None}
        if not self.hint("x-mock-no-usage"):
            obj["usage"] = self.anthropic_usage(c, c["completion"])
        self.send_json(200, obj)

    def anthropic_stream(self, c):
        self.start_sse()

        def emit(kind, payload):
            self.chunk(f"event: {kind}\ndata: {json.dumps(dict(payload, type=kind))}\n\n")

        emit("message_start", {"message": {"id": "msg_mock", "type": "message", "role": "assistant", "model": c["model"],
                                           "content": [], "stop_reason": None, "stop_sequence": None,
                                           "usage": self.anthropic_usage(c, 1)}})
        emit("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        self.chunk("event: ping\ndata: {\"type\": \"ping\"}\n\n")
        for i, w in enumerate(c["reply"]):
            if c["cut"] is not None and i >= c["cut"]:
                return self.cut()
            emit("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": (" " if i else "") + w}})
        emit("content_block_stop", {"index": 0})
        emit("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"output_tokens": c["completion"]}})
        emit("message_stop", {})
        self.end_chunks()


def make_server(port=0, verbose=False, host="127.0.0.1"):
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    server.recorder = Recorder()
    server.verbose = verbose
    return server


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 inside a container)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    server = make_server(args.port, args.verbose, args.host)
    print(f"mock-llm listening on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
