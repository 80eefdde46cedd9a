"""Glue shared by the third blind set (split `fresh3`): request bodies for the four API shapes, keys,
latency and the clock helpers both fresh3 files use. Written blind on 2026-12-02 (see fresh3_benign.py)."""
import math

from common import HOUR, MIN, SEC, Event, reply

PATHS = {"chat": "/v1/chat/completions", "messages": "/v1/messages", "responses": "/v1/responses",
         "completions": "/v1/completions"}
# What the mock upstream answers with (its reply cycles these words); a client that keeps a conversation
# sends the answer it got back as the assistant turn.
_MOCK = ("the model answers with a short and plausible sentence about the question so that clients "
         "see realistic text arriving in several pieces over the stream").split()


def answer_text(words):
    return " ".join(_MOCK[i % len(_MOCK)] for i in range(max(1, int(words))))


def ln(rng, median, sigma=0.55, lo=1, hi=8000):
    return int(min(hi, max(lo, rng.lognormvariate(math.log(median), sigma))))


def pick(rng, xs):
    return xs[rng.randrange(len(xs))]


def make_key(rng, family, i, vendor="openai"):
    tail = "%020x" % rng.getrandbits(80)
    if vendor == "anthropic":
        return f"sk-ant-api03-{family}-{i}-{tail}"
    return f"sk-proj-{family}-{i}-{tail}"


def body_for(api, model, sys_text, turns, max_tokens=None, **extra):
    """A request body in the API's own shape. `turns`: [(role, text or content list)], the last a user turn."""
    if api == "messages":
        b = {"model": model, "max_tokens": max_tokens or 1024,
             "messages": [{"role": r, "content": t} for r, t in turns]}
        if sys_text:
            b["system"] = sys_text
    elif api == "responses":
        b = {"model": model}
        if sys_text:
            b["instructions"] = sys_text
        if len(turns) == 1 and isinstance(turns[0][1], str):
            b["input"] = turns[0][1]
        else:
            b["input"] = [{"role": r, "content": t} for r, t in turns]
        if max_tokens:
            b["max_output_tokens"] = max_tokens
    elif api == "completions":
        b = {"model": model, "prompt": turns[-1][1]}
        if max_tokens:
            b["max_tokens"] = max_tokens
    else:
        msgs = ([{"role": "system", "content": sys_text}] if sys_text else []) + \
               [{"role": r, "content": t} for r, t in turns]
        b = {"model": model, "messages": msgs}
        if max_tokens:
            b["max_tokens"] = max_tokens
    b.update(extra)
    return b


def event(t, family, kind, key, api, body, words, reasoning=0, lang="en", intent="ordinary", headers=None):
    h = reply(words, reasoning)
    if headers:
        h.update(headers)
    return Event(t, family, kind, key, PATHS[api], body, h, intent=intent, lang=lang)


def latency(rng, words, reasoning=0):
    """Time the model takes to answer: time to first token plus decoding at 40-110 tokens/s."""
    return (rng.uniform(0.3, 1.5) + (words + reasoning) / rng.uniform(40, 110)) * SEC


__all__ = ["HOUR", "MIN", "SEC", "answer_text", "ln", "pick", "make_key", "body_for", "event", "latency"]
