"""Shared pieces of the evaluation: corpus, events, answer lengths and human pacing."""
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "tests", "sim"))

import simulate  # noqa: E402  (reused: Event, Sender, the clock header, the simulated epoch)

PROMPTS = os.path.join(ROOT, "tests", "data", "prompts")
HUMAN = os.path.join(ROOT, "tests", "data", "human")
HOUR, MIN, SEC = simulate.HOUR, simulate.MIN, 1000
T0 = simulate.T0


def _rows(folder, name):
    with open(os.path.join(folder, name), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _texts(folder, name):
    return [r["text"] for r in _rows(folder, name)]


class Corpus:
    """Real text only: every list comes from a public package (tests/data/*/README.md)."""

    def __init__(self):
        p, h = PROMPTS, HUMAN
        self.health = _texts(p, "health_questions.jsonl")
        self.truthful = _texts(p, "truthfulqa.jsonl")
        self.strategy = _texts(p, "bigbench_strategyqa.jsonl")
        self.math = _texts(p, "asdiv.jsonl") + _texts(p, "evals_math.jsonl")
        self.game24 = _texts(p, "game24.jsonl")
        self.code = _texts(p, "humaneval.jsonl")
        self.mmlu = _rows(p, "mmlu_dev_cot.jsonl")
        self.zh_chat = _texts(p, "chatterbot_zh.jsonl")
        self.zh_tasks = _texts(p, "evals_zh.jsonl")
        self.nq = _texts(h, "nq_open.jsonl")
        self.fiqa = _texts(h, "fiqa.jsonl")
        self.boolq = _rows(h, "boolq.jsonl")
        self.quac = _rows(h, "quac.jsonl")
        self.news = _texts(h, "xsum.jsonl")
        self.sentences = _texts(h, "translation.jsonl")
        self.reviews = _texts(h, "imdb.jsonl")
        self.dialogues = _texts(h, "mtsdialog.jsonl")
        self.chat_by_lang = {}
        for r in _rows(h, "chatterbot_multi.jsonl"):
            self.chat_by_lang.setdefault(r["lang"], []).append(r["text"])
        self.chat_by_lang.setdefault("zh", []).extend(self.zh_chat)
        self.questions = self.health + self.truthful + self.strategy + self.nq + self.fiqa


class Event(simulate.Event):
    """One request at simulated time `t`: the family it belongs to, its text-level intent (for the
    labelled dump) and the language of its prompt."""
    __slots__ = ("intent", "lang")

    def __init__(self, t, family, kind, key, path, body, headers=None, intent="ordinary", lang="en"):
        super().__init__(t, family, kind, key, path, body, headers)
        self.intent, self.lang = intent, lang


def chat(messages, model="gpt-4o", **extra):
    body = {"model": model, "messages": messages}
    body.update(extra)
    return body


def user(text):
    return {"role": "user", "content": text}


def system(text):
    return {"role": "system", "content": text}


def assistant(words):
    return {"role": "assistant", "content": " ".join(["answer"] * max(1, int(words)))}


def reply(words, reasoning=0):
    """Mock upstream controls: answer length in words (= completion tokens) and reasoning tokens."""
    h = {"x-mock-reply-words": str(max(1, int(words)))}
    if reasoning:
        h["x-mock-reasoning-tokens"] = str(int(reasoning))
    return h


def lognormal(rng, median, sigma=0.6, lo=1, hi=4000):
    return int(min(hi, max(lo, rng.lognormvariate(math.log(median), sigma))))


def think_gap(rng, answer_words, prompt_chars):
    """A person's gap before the next message of a session: reading the answer (skimmed one time in
    five), thinking (log-normal, median 15 s, heavy tail) and typing the next prompt."""
    reading = answer_words / rng.uniform(3.5, 6.0) * SEC
    if rng.random() < 0.2:
        reading *= 0.2
    thinking = rng.lognormvariate(math.log(15 * SEC), 1.0)
    typing = min(prompt_chars / rng.uniform(3.0, 7.0), 150) * SEC
    return reading + thinking + typing


def session_gap(rng):
    """Between a person's sessions: Pareto-tailed, minutes to many hours."""
    return min(rng.paretovariate(1.1) * 25 * MIN, 14 * HOUR)


def day_start(rng, t0, earliest=7, latest=20):
    """A person's first message of the day, in waking hours."""
    return t0 + rng.uniform(earliest, latest) * HOUR


def product_arrivals(rng, t0, per_hour, hours=24):
    """Arrival times of many independent end users behind one key: Poisson with a diurnal rate (low at
    night, peak in the afternoon)."""
    out = []
    t = t0
    end = t0 + hours * HOUR
    while t < end:
        hour = ((t - T0) / HOUR) % 24
        rate = per_hour * (0.15 + 0.85 * max(0.0, math.sin(math.pi * (hour - 6) / 17))) if 6 <= hour <= 23 else per_hour * 0.15
        t += rng.expovariate(max(rate, 0.5) / HOUR)
        out.append(t)
    return out


def pick(rng, items):
    return items[rng.randrange(len(items))]
