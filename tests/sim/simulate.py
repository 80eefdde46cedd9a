#!/usr/bin/env python3
"""Traffic simulator: drives the real Envoy with distill-guard (default policy) with a mix of benign
workloads and distillation attacks, and reports per scenario whether and when it was detected.

    python3 tests/sim/simulate.py [--seed 1] [--scale 1.0] [--scenarios a,b,...] [--json out.json]

Every request carries a simulated timestamp in `x-distill-sim-time` (the policy's
`detection.clock_header`, enabled only here) so a day of human pacing and low-and-slow campaigns runs
in about a minute. Requests are sent one at a time in timestamp order through Envoy to the mock LLM
upstream; the verdict of each is read from what the upstream received (tag/degrade) or from the
status (429/403). Prompt text comes from tests/data/prompts (real public prompts; see its README).
"""
import argparse
import http.client
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

from harness import Envoy, Response, default_policy  # noqa: E402

DATA = os.path.join(ROOT, "tests", "data", "prompts")
CLOCK_HEADER = "x-distill-sim-time"
T0 = 1_800_000_000_000  # a fixed simulated epoch (ms); 00:00 UTC
HOUR = 3_600_000
MIN = 60_000
SEVERITY = {"allow": 0, "tag": 1, "degrade": 2, "throttle": 3, "block": 4}


def load(name):
    with open(os.path.join(DATA, name)) as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


class Corpus:
    def __init__(self):
        self.questions = load("truthfulqa.jsonl") + load("health_questions.jsonl") + load("bigbench_strategyqa.jsonl")
        self.math = load("asdiv.jsonl") + load("evals_math.jsonl") + load("game24.jsonl")
        self.code = load("humaneval.jsonl")
        self.zh = load("chatterbot_zh.jsonl") + load("evals_zh.jsonl")
        with open(os.path.join(DATA, "mmlu_dev_cot.jsonl")) as f:
            self.mmlu = [json.loads(line) for line in f if line.strip()]


class Event:
    __slots__ = ("t", "scenario", "kind", "key", "path", "body", "headers")

    def __init__(self, t, scenario, kind, key, path, body, headers=None):
        self.t, self.scenario, self.kind, self.key = int(t), scenario, kind, key
        self.path, self.body, self.headers = path, body, headers or {}


def chat_body(messages, model="gpt-4o", **extra):
    body = {"model": model, "messages": messages}
    body.update(extra)
    return body


def words(n):
    return {"x-mock-reply-words": str(max(1, int(n)))}


# ---- benign workloads ------------------------------------------------------------------------------

def chat_users(rng, c, n_users, start):
    """Interactive chat: multi-turn conversations, bursty human pacing over the day."""
    events = []
    for u in range(n_users):
        key = f"sk-chat-{u}"
        t = start + rng.uniform(0, 14 * HOUR)
        for _session in range(rng.randint(1, 4)):
            history = []
            if rng.random() < 0.5:
                history.append({"role": "system", "content": "You are a helpful assistant."})
            for _turn in range(rng.randint(1, 8)):
                pool = c.zh if rng.random() < 0.15 else c.questions
                q = rng.choice(pool)
                if rng.random() < 0.08:
                    q += " Can you explain it step by step?"
                history.append({"role": "user", "content": q})
                answer_words = rng.randint(40, 250)
                events.append(Event(t, "chat_users", "benign", key, "/v1/chat/completions",
                                    chat_body(list(history), stream=rng.random() < 0.5), words(answer_words)))
                history.append({"role": "assistant", "content": " ".join(["word"] * answer_words)})
                t += rng.expovariate(1 / 40_000) + 3_000  # reading and typing
            t += rng.uniform(0.5, 5) * HOUR
    return events


def rag_app(rng, c, n_apps, start):
    """A RAG app: one fixed system prompt, long varied retrieved contexts, short answers."""
    system = ("You are the support assistant of Example Health. Answer only from the provided context. If the "
              "context does not contain the answer, say that you do not know. Cite the passages you used, keep a "
              "friendly and professional tone, and never give a diagnosis.")
    events = []
    for a in range(n_apps):
        key = f"sk-rag-{a}"
        t = start + rng.uniform(0, 2 * HOUR)
        for _ in range(rng.randint(120, 250)):
            ctx = "\n\n".join(rng.sample(c.questions, 6))
            user = f"Context:\n{ctx}\n\nQuestion: {rng.choice(c.questions)}"
            events.append(Event(t, "rag_app", "benign", key, "/v1/chat/completions",
                                chat_body([{"role": "system", "content": system}, {"role": "user", "content": user}],
                                          model="gpt-4.1-mini", max_tokens=400), words(rng.randint(30, 120))))
            t += rng.expovariate(1 / 180_000) + 500  # end users arrive at random
    return events


def coding_assistant(rng, c, n_users, start):
    """A coding assistant: multi-turn edits of code, bursty."""
    events = []
    for u in range(n_users):
        key = f"sk-code-{u}"
        t = start + rng.uniform(0, 10 * HOUR)
        for _ in range(rng.randint(2, 5)):
            history = [{"role": "system", "content": "You are a coding assistant. Prefer concise code."}]
            code = rng.choice(c.code)
            for turn in range(rng.randint(2, 7)):
                ask = (f"Complete this function:\n{code}" if turn == 0 else
                       rng.choice(["That fails on empty input, fix it.", "Add type hints and a docstring.",
                                   "Can you make it faster?", "Write three pytest tests for it.",
                                   "Why does this loop never end?"]))
                history.append({"role": "user", "content": ask})
                n = rng.randint(60, 300)
                events.append(Event(t, "coding_assistant", "benign", key, "/v1/chat/completions",
                                    chat_body(list(history), model="gpt-4.1", stream=True), words(n)))
                history.append({"role": "assistant", "content": "def f(x):\n    return x\n" * (n // 20)})
                t += rng.expovariate(1 / 60_000) + 5_000
            t += rng.uniform(1, 4) * HOUR
    return events


def batch_job(rng, c, n_jobs, start):
    """A legitimate batch job: one template, high volume, regular cadence, tiny outputs (the hard case)."""
    events = []
    items = c.questions + c.zh
    for j in range(n_jobs):
        key = f"sk-batch-{j}"
        t = start + rng.uniform(0, 6 * HOUR)
        for _ in range(rng.randint(500, 900)):
            text = rng.choice(items)
            prompt = ("Classify the topic of the following user message into one of: health, science, history, "
                      f"language, other. Reply with the label only.\n\nMessage: {text}")
            events.append(Event(t, "batch_job", "benign", key, "/v1/chat/completions",
                                chat_body([{"role": "user", "content": prompt}], model="gpt-4o-mini",
                                          temperature=0, max_tokens=5), words(1)))
            t += 2_000 * rng.uniform(0.9, 1.1)
    return events


def eval_harness(rng, c, n_runs, start):
    """An evaluation harness running a benchmark once: few-shot multiple choice, short answers."""
    events = []
    for r in range(n_runs):
        key = f"sk-eval-{r}"
        t = start + rng.uniform(0, 12 * HOUR)
        for item in c.mmlu:
            subject = item["subject"].replace("_", " ")
            prompt = (f"The following are multiple choice questions (with answers) about {subject}.\n\n"
                      f"{item['text']}\nAnswer:")
            events.append(Event(t, "eval_harness", "benign", key, "/v1/completions",
                                {"model": "gpt-3.5-turbo-instruct", "prompt": prompt, "max_tokens": 5,
                                 "temperature": 0}, words(2)))
            t += 700 * rng.uniform(0.8, 1.2)
    return events


# ---- attacks ---------------------------------------------------------------------------------------

COT_TEMPLATE = ("Solve the following problem. Think step by step and show your full reasoning before you give "
                "the final answer on its own line.\n\nProblem: {q}")
# Each campaign uses its own wording, so scenarios running at the same time do not help each other.
FARM_TEMPLATE = ("You are a world-class tutor. Read the question, reason through it step by step in detail, and "
                 "finish with 'Final answer:'.\n\nQuestion: {q}")
SLOW_TEMPLATE = ("Task: produce a complete worked solution with the full chain of reasoning, then the result.\n"
                 "Input: {q}")


def cot_harvest(rng, c, n, start, key="sk-attack-cot", scenario="cot_harvest", gap=3_000):
    events = []
    t = start
    for _ in range(n):
        events.append(Event(t, scenario, "attack", key, "/v1/chat/completions",
                            chat_body([{"role": "user", "content": COT_TEMPLATE.format(q=rng.choice(c.math))}],
                                      model="gpt-4o", max_tokens=4096, temperature=0.7), words(rng.randint(250, 600))))
        t += gap * rng.uniform(0.7, 1.3)
    return events


def logprob_extraction(rng, c, n, start):
    events = []
    t = start
    for _ in range(n):
        bias = {str(rng.randint(100, 100_000)): rng.choice([-100, 100]) for _ in range(rng.randint(1, 5))}
        events.append(Event(t, "logprob_extraction", "attack", "sk-attack-logprob", "/v1/chat/completions",
                            chat_body([{"role": "user", "content": rng.choice(c.questions)}], model="gpt-4o",
                                      logprobs=True, top_logprobs=20, max_tokens=1, temperature=0, logit_bias=bias),
                            words(1)))
        t += 1_000 * rng.uniform(0.8, 1.2)
    return events


def rubric_harvest(rng, c, n, start):
    events = []
    t = start
    for _ in range(n):
        prompt = ("You are an impartial judge. Grade the answer below on a scale of 1 to 10 using this rubric: "
                  "correctness, completeness, clarity. Explain your judgement, then give the score.\n\n"
                  f"Question: {rng.choice(c.questions)}\n\nAnswer: {rng.choice(c.questions)}")
        events.append(Event(t, "rubric_harvest", "attack", "sk-attack-judge", "/v1/chat/completions",
                            chat_body([{"role": "user", "content": prompt}], model="gpt-4o"),
                            words(rng.randint(120, 300))))
        t += 2_500 * rng.uniform(0.7, 1.3)
    return events


def synthetic_data(rng, c, n, start):
    topics = ["medical triage dialogues", "math word problems", "python bug fixes", "customer support chats",
              "legal questions", "chemistry explanations", "travel itineraries", "SQL queries"]
    events = []
    t = start
    for _ in range(n):
        k = rng.choice([10, 20, 25, 50])
        prompt = (f"Generate {k} diverse examples of {rng.choice(topics)} as JSONL training data. Each line must be "
                  f"an object with fields instruction and response. Seed topic: {rng.choice(c.questions)}")
        events.append(Event(t, "synthetic_data", "attack", "sk-attack-synth", "/v1/chat/completions",
                            chat_body([{"role": "user", "content": prompt}], model="gpt-4o", max_tokens=16000),
                            words(rng.randint(600, 1500))))
        t += 4_000 * rng.uniform(0.7, 1.3)
    return events


def key_farm(rng, c, n, start, keys=60):
    """One CoT template spread thin over many keys (rotated through proxies), interleaved."""
    events = []
    t = start
    for i in range(n):
        key = f"sk-farm-{rng.randrange(keys)}"
        events.append(Event(t, "key_farm", "attack", key, "/v1/chat/completions",
                            chat_body([{"role": "user", "content": FARM_TEMPLATE.format(q=rng.choice(c.math))}],
                                      model="gpt-4o", max_tokens=4096), words(rng.randint(250, 600))))
        t += 1_000 * rng.uniform(0.5, 1.5)
    return events


def low_and_slow(rng, c, n, start, keys=10):
    """A campaign under every single-key volume limit: each key sends one request every ~15 minutes."""
    events = []
    per_key = max(1, n // keys)
    for k in range(keys):
        t = start + rng.uniform(0, 15 * MIN)
        for _ in range(per_key):
            events.append(Event(t, "low_and_slow", "attack", f"sk-slow-{k}", "/v1/chat/completions",
                                chat_body([{"role": "user", "content": SLOW_TEMPLATE.format(q=rng.choice(c.math))}],
                                          model="gpt-4o", max_tokens=4096), words(rng.randint(250, 600))))
            t += 15 * MIN * rng.uniform(0.6, 1.4)
    return events


PARAPHRASES = [
    "Solve this problem and show your full reasoning:",
    "Work through the following carefully, explaining each step:",
    "Please reason it out before answering:",
    "Walk me through how you would solve this:",
    "Give a detailed solution with all intermediate steps:",
    "Explain your reasoning thoroughly, then answer:",
    "Break the problem down and show your work:",
    "Think this through step by step:",
    "Show the steps you take to reach the answer:",
    "Lay out your complete thought process for this question:",
    "请一步一步地解答下面的问题，并写出推理过程：",
    "Derive the answer and show the derivation:",
]


def paraphrased(rng, c, n, start):
    """The template is reworded for every request (its skeleton never repeats)."""
    events = []
    t = start
    for _ in range(n):
        intro = rng.choice(PARAPHRASES)
        q = rng.choice(c.math)
        prompt = f"{q}\n\n{intro}" if rng.random() < 0.5 else f"{intro}\n{q}"
        events.append(Event(t, "paraphrased_template", "attack", "sk-attack-para", "/v1/chat/completions",
                            chat_body([{"role": "user", "content": prompt}], model="gpt-4o",
                                      temperature=rng.choice([0.3, 0.7, 1.0])), words(rng.randint(250, 600))))
        t += 3_000 * rng.uniform(0.5, 1.5)
    return events


SCENARIOS = {
    # name: (kind, builder(rng, corpus, scale, start))
    "chat_users": ("benign", lambda r, c, s, t: chat_users(r, c, max(1, int(120 * s)), t)),
    "rag_app": ("benign", lambda r, c, s, t: rag_app(r, c, max(1, int(10 * s)), t)),
    "coding_assistant": ("benign", lambda r, c, s, t: coding_assistant(r, c, max(1, int(20 * s)), t)),
    "batch_job": ("benign", lambda r, c, s, t: batch_job(r, c, max(1, int(5 * s)), t)),
    "eval_harness": ("benign", lambda r, c, s, t: eval_harness(r, c, max(1, int(5 * s)), t)),
    "cot_harvest": ("attack", lambda r, c, s, t: cot_harvest(r, c, max(50, int(1000 * s)), t)),
    "logprob_extraction": ("attack", lambda r, c, s, t: logprob_extraction(r, c, max(50, int(1000 * s)), t)),
    "rubric_harvest": ("attack", lambda r, c, s, t: rubric_harvest(r, c, max(50, int(1000 * s)), t)),
    "synthetic_data": ("attack", lambda r, c, s, t: synthetic_data(r, c, max(50, int(1000 * s)), t)),
    "key_farm": ("attack", lambda r, c, s, t: key_farm(r, c, max(100, int(1000 * s)), t)),
    "low_and_slow": ("attack", lambda r, c, s, t: low_and_slow(r, c, max(100, int(1000 * s)), t)),
    "paraphrased_template": ("attack", lambda r, c, s, t: paraphrased(r, c, max(50, int(1000 * s)), t)),
}


class Sender:
    """Requests over one kept-alive connection (reconnecting when the proxy closes it)."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def send(self, path, body, headers):
        data = json.dumps(body).encode()
        hdrs = {"content-type": "application/json", "content-length": str(len(data))}
        hdrs.update(headers)
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request("POST", path, data, hdrs)
                r = self.conn.getresponse()
                payload = r.read()
                if r.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return Response(r.status, [(k.lower(), v) for k, v in r.getheaders()], payload.decode("utf-8", "replace"))
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")


# The shipped `detection.sustained_intent_requests` (src/detection.rs SUSTAINED_INTENT_REQUESTS).
SUSTAINED_INTENT_REQUESTS = 350


def sim_policy(scale=1.0):
    """The shipped default policy plus the simulated clock. A run scaled below 1 shortens every
    campaign by `scale` (a 1,000-request attack sends 250 at 0.25), so the requests of sustained intent
    needed beyond `degrade` are scaled with it: what the run stands for is the full-size traffic."""
    p = default_policy()
    p.setdefault("detection", {})["clock_header"] = CLOCK_HEADER
    if scale < 1.0:
        p["detection"]["sustained_intent_requests"] = max(1, round(SUSTAINED_INTENT_REQUESTS * scale))
    return p


def run(seed=1, scale=1.0, names=None, log=print, keep_log=None):
    """`keep_log`: a path to copy Envoy's log to before it stops (for `make report`)."""
    rng = random.Random(seed)
    corpus = Corpus()
    names = names or list(SCENARIOS)
    events = []
    for name in names:
        _kind, build = SCENARIOS[name]
        start = T0 + rng.uniform(0, 4 * HOUR)
        events.extend(build(random.Random(rng.random()), corpus, scale, start))
    events.sort(key=lambda e: e.t)
    log(f"simulating {len(events)} requests from {len(names)} scenarios (seed {seed}, scale {scale})")
    envoy = Envoy(sim_policy(scale), concurrency=2)
    results = {}
    try:
        recorder = envoy.mock.recorder
        sender = Sender(envoy.port)
        started = time.time()
        for i, e in enumerate(events):
            headers = {"authorization": f"Bearer {e.key}", CLOCK_HEADER: str(e.t)}
            headers.update(e.headers)
            before = recorder.count
            r = sender.send(e.path, e.body, headers)
            verdict = "allow"
            usage = None
            if r.status == 429 and r.header("retry-after"):
                verdict = "throttle"
            elif r.status == 403:
                verdict = "block"
            elif recorder.count > before:
                seen = dict(recorder.items[-1]["headers"])
                verdict = seen.get("x-distill-verdict", "allow")
                usage = recorder.items[-1].get("usage")
            s = results.setdefault(e.scenario, {"kind": e.kind, "requests": 0, "first_tag": None,
                                                "first_enforce": None, "credentials": {}, "verdicts": {},
                                                "flagged_tokens": {}})
            if verdict != "allow" and usage:
                # What the upstream reported for the flagged requests it answered, per key.
                t = s["flagged_tokens"].setdefault(e.key, [0, 0])
                t[0] += usage["input"]
                t[1] += usage["output"]
            s["requests"] += 1
            s["verdicts"][verdict] = s["verdicts"].get(verdict, 0) + 1
            worst = s["credentials"].get(e.key, 0)
            s["credentials"][e.key] = max(worst, SEVERITY.get(verdict, 0))
            if SEVERITY.get(verdict, 0) >= 1 and s["first_tag"] is None:
                s["first_tag"] = s["requests"]
            if SEVERITY.get(verdict, 0) >= 3 and s["first_enforce"] is None:
                s["first_enforce"] = s["requests"]
            if (i + 1) % 2000 == 0:
                log(f"  {i + 1} requests sent ({time.time() - started:.0f}s)")
        envoy.assert_no_trap()
    finally:
        if keep_log:
            time.sleep(0.2)  # the last log lines
            with open(keep_log, "w") as f:
                f.write(envoy.log())
        envoy.close()
    return results


def summarise(results):
    rows = []
    ok = True
    for name, s in results.items():
        creds = s["credentials"]
        tagged = sum(1 for v in creds.values() if v >= 1)
        enforced = sum(1 for v in creds.values() if v >= 3)
        if s["kind"] == "attack":
            meets = (s["first_tag"] is not None and s["first_tag"] <= 200
                     and s["first_enforce"] is not None and s["first_enforce"] <= 1000)
        else:
            meets = enforced == 0
        ok &= meets
        rows.append(dict(scenario=name, kind=s["kind"], requests=s["requests"], credentials=len(creds),
                         detected=s["first_tag"] is not None, first_tag=s["first_tag"],
                         first_enforce=s["first_enforce"], tagged=tagged, enforced=enforced,
                         verdicts=s["verdicts"], meets_target=meets))
    benign = [r for r in rows if r["kind"] == "benign"]
    benign_creds = sum(r["credentials"] for r in benign)
    benign_tagged = sum(r["tagged"] for r in benign)
    fp_rate = benign_tagged / benign_creds if benign_creds else 0.0
    ok &= fp_rate <= 0.01
    return rows, dict(benign_credentials=benign_creds, benign_tagged=benign_tagged, benign_tag_rate=fp_rate,
                      all_targets_met=ok)


def markdown(rows, totals, seed, scale):
    out = [f"Seed {seed}, scale {scale}.", "",
           "| scenario | kind | requests | credentials | detected | requests to first tag | requests to first throttle/block | credentials tagged | credentials throttled/blocked | verdicts | target met |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        v = ", ".join(f"{k} {n}" for k, n in sorted(r["verdicts"].items(), key=lambda kv: SEVERITY.get(kv[0], 0)))
        out.append(f"| {r['scenario']} | {r['kind']} | {r['requests']} | {r['credentials']} | "
                   f"{'yes' if r['detected'] else 'no'} | {r['first_tag'] or '-'} | {r['first_enforce'] or '-'} | "
                   f"{r['tagged']} | {r['enforced']} | {v} | {'yes' if r['meets_target'] else 'NO'} |")
    out.append("")
    out.append(f"Benign credentials tagged at least once: {totals['benign_tagged']} of {totals['benign_credentials']} "
               f"({100 * totals['benign_tag_rate']:.2f}%; target at most 1%). All targets met: "
               f"{'yes' if totals['all_targets_met'] else 'NO'}.")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every scenario's size")
    ap.add_argument("--scenarios", default="", help="comma list (default: all): " + ",".join(SCENARIOS))
    ap.add_argument("--json", default="", help="also write the results here")
    a = ap.parse_args()
    names = [n for n in a.scenarios.split(",") if n] or None
    for n in names or []:
        if n not in SCENARIOS:
            ap.error(f"unknown scenario {n}")
    results = run(a.seed, a.scale, names)
    rows, totals = summarise(results)
    print(markdown(rows, totals, a.seed, a.scale))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"seed": a.seed, "scale": a.scale, "rows": rows, "totals": totals}, f, indent=2)
    return 0 if totals["all_targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
