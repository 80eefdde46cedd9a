"""Second blind benign set (split `fresh2`), written blind on 2026-12-02 by someone who had read neither the
detector (src/), DETECTION.md, tools/intent/, any evaluation result (tests/data/detect-eval/) nor the bodies of
the other generators (attacks.py, benign.py, fresh_*.py). Each builder is `(rng, corpus, n, t0) -> [Event]`,
`n` the number of credentials at scale 1.

The uses were chosen to be the ones a harvest detector finds hard: one product key serving many strangers,
students who always want the steps, people who talk to a reasoning model, scheduled batch jobs that fill one
template thousands of times (a spreadsheet add-on, ticket triage with logprobs for confidence, an evaluation
sweep with chain-of-thought few-shot prompts), agents that loop on tool calls within seconds, writers whose
answers dwarf their prompts. Prompt text is real human text from the harness's corpora (tests/data/human and
tests/data/prompts; licenses in their READMEs); only the glue (personas, instructions, follow-ups) is written
here. Answer lengths are per workload (words = completion tokens of the mock upstream; reasoning models also
report `reasoning_tokens`) and pacing is this file's own: model latency, reading time, log-normal thinking,
Pareto breaks between sessions, a diurnal and lunch-dip product load with occasional traffic spikes.
"""
import math

from common import HOUR, MIN, SEC, Event, reply

FAMILY_KIND = "benign"

# ---- the pieces every family here uses ---------------------------------------------------------------------

APIS = {"chat": "/v1/chat/completions", "messages": "/v1/messages", "responses": "/v1/responses",
        "completions": "/v1/completions"}


def ln(rng, median, sigma=0.5, lo=1, hi=6000):
    return int(min(hi, max(lo, rng.lognormvariate(math.log(median), sigma))))


def key_for(rng, family, i, style="openai"):
    h = "".join(rng.choice("0123456789abcdefABCDEFghijkmnpqrstuvwxyz") for _ in range(20))
    if style == "anthropic":
        return f"sk-ant-api03-f2{family[:6]}{i}-{h}"
    if style == "project":
        return f"sk-proj-f2{family[:6]}{i}{h}"
    return f"sk-f2-{family[:10]}-{i}-{h}"


def body(api, model, sys_text, turns, stream=False, **extra):
    """turns: a list of (role, content) with content a string or content blocks."""
    if api == "messages":
        b = {"model": model, "max_tokens": extra.pop("max_tokens", 2048),
             "messages": [{"role": r, "content": c} for r, c in turns]}
        if sys_text:
            b["system"] = sys_text
    elif api == "responses":
        b = {"model": model, "input": [{"role": r, "content": c} for r, c in turns]}
        if len(turns) == 1 and turns[0][0] == "user" and isinstance(turns[0][1], str):
            b["input"] = turns[0][1]
        if sys_text:
            b["instructions"] = sys_text
    elif api == "completions":
        b = {"model": model, "prompt": "\n\n".join(c for _, c in turns)}
    else:
        msgs = ([{"role": "system", "content": sys_text}] if sys_text else []) + \
               [{"role": r, "content": c} for r, c in turns]
        b = {"model": model, "messages": msgs}
    if stream:
        b["stream"] = True
    b.update(extra)
    return b


def said(words):
    """A previous assistant answer of about `words` words, as a client replays it in the history."""
    filler = ("sure here is what I found and the main points you asked about are below with a short note on each "
              "one so you can check them").split()
    return " ".join(filler[i % len(filler)] for i in range(max(1, int(words))))


def ev(t, family, key, api, b, words, reasoning=0, lang="en", extra_headers=None):
    h = reply(words, reasoning)
    if extra_headers:
        h.update(extra_headers)
    return Event(t, family, FAMILY_KIND, key, APIS[api], b, h, intent="ordinary", lang=lang)


def latency(rng, words, reasoning=0):
    """The model's own time to answer: first token, then ~40-90 tokens a second."""
    return (rng.uniform(0.3, 1.5) + (words + reasoning) / rng.uniform(40, 90)) * SEC


def reading(rng, words):
    """A person reading (or skimming) an answer."""
    wpm = rng.uniform(180, 320)
    r = words / wpm * 60 * SEC
    return r * (0.15 if rng.random() < 0.3 else 1.0)


def pause(rng, median_s=20, sigma=1.1):
    return rng.lognormvariate(math.log(median_s * SEC), sigma)


def long_break(rng):
    """Between a person's sessions: Pareto tail from a quarter of an hour to most of a day."""
    return min(15 * MIN * rng.paretovariate(0.9), 16 * HOUR)


def waking(rng, t0, tz_shift=0.0):
    """The first moment of a person's day (their own time zone shifted by tz_shift hours)."""
    return t0 + ((rng.gauss(9.5, 2.0) + tz_shift) % 24) * HOUR


def product_load(rng, t0, per_hour, hours=24, spike=0.0):
    """Arrival times of independent strangers behind one product key: quiet nights, a morning ramp, a lunch
    dip, an evening peak, and (with probability `spike`) a half-hour surge when the product is mentioned
    somewhere."""
    def rate(h):
        h = h % 24
        base = 0.06 + 0.55 * math.exp(-((h - 11) / 2.5) ** 2) + 0.9 * math.exp(-((h - 20) / 2.2) ** 2)
        base -= 0.2 * math.exp(-((h - 13) / 0.7) ** 2)
        return max(0.03, base)
    out, t, end = [], t0, t0 + hours * HOUR
    surge = (t0 + rng.uniform(8, 22) * HOUR) if rng.random() < spike else None
    while t < end:  # thinning of a Poisson process with rate per_hour * max(rate)
        t += rng.expovariate(per_hour * 1.6 / HOUR)
        r = rate((t - t0) / HOUR)
        if surge is not None and surge <= t < surge + 30 * MIN:
            r *= 4
        if rng.random() < r / 1.6:
            out.append(t)
    return out


def pick(rng, xs):
    return xs[rng.randrange(len(xs))]


def chat_lang_pool(c, lang):
    return c.chat_by_lang.get(lang) or c.chat_by_lang["en"]


# ---- consumer products on one key ---------------------------------------------------------------------------

def museum_guide(rng, c, n, t0):
    """Consumer Q&A product: a city-guide app's "ask the guide" box, one key per deployment; strangers ask
    general-knowledge questions (Natural Questions, TruthfulQA), single turn, streamed answers of 120-350 words,
    diurnal load with a lunch dip and sometimes a surge."""
    out = []
    persona = ("You are Ada, the friendly guide inside the {city} visitor app. Answer visitors' questions in a warm, "
               "plain tone. Keep answers short enough to read on a phone. If you do not know, say so.")
    for i in range(n):
        city = pick(rng, ["Lisbon", "Kraków", "Porto", "Ghent", "Valencia", "Bologna", "Leiden", "Tartu"])
        key = key_for(rng, "museum", i)
        sys_text = persona.format(city=city)
        for t in product_load(rng, t0, rng.uniform(25, 70), spike=0.3):
            q = pick(rng, c.nq if rng.random() < 0.7 else c.truthful)
            if rng.random() < 0.5:
                q = q[:1].upper() + q[1:] + ("?" if not q.endswith("?") else "")
            w = ln(rng, 190, 0.45, 40, 700)
            out.append(ev(t, "museum_guide", key, "chat", body("chat", "gpt-4o-mini", sys_text, [("user", q)],
                                                                  stream=True, temperature=0.7), w))
    return out


def pharmacy_helpline(rng, c, n, t0):
    """Consumer Q&A product: a pharmacy chain's medication helper on the Anthropic API, one key; customers ask
    real health and medication questions, a third ask one follow-up; answers 150-450 words."""
    out = []
    sys_text = ("You help customers of a pharmacy chain understand their medicines and common health questions. "
                "Be accurate and kind, never diagnose, and tell people to see a pharmacist or doctor when it matters.")
    follow = ["Is that safe with alcohol?", "What if I'm pregnant?", "How long until it works?", "thanks, and for kids?",
              "Can I take it with ibuprofen?", "What are the side effects again?"]
    for i in range(n):
        key = key_for(rng, "pharmacy", i, "anthropic")
        for t in product_load(rng, t0, rng.uniform(30, 60), spike=0.2):
            q = pick(rng, c.health)
            w = ln(rng, 260, 0.4, 60, 900)
            out.append(ev(t, "pharmacy_helpline", key, "messages",
                          body("messages", "claude-sonnet-4-5", sys_text, [("user", q)], max_tokens=1024), w))
            if rng.random() < 0.33:
                t2 = t + latency(rng, w) + reading(rng, w) + pause(rng, 12)
                f = pick(rng, follow)
                w2 = ln(rng, 140, 0.5, 30, 500)
                out.append(ev(t2, "pharmacy_helpline", key, "messages",
                              body("messages", "claude-sonnet-4-5", sys_text,
                                   [("user", q), ("assistant", said(w)), ("user", f)], max_tokens=1024), w2))
    return out


# ---- students ------------------------------------------------------------------------------------------------

STEP_ASK = {
    "en": ["can you explain step by step", "how do I solve this? show the steps pls", "I don't get it, walk me through it",
           "explain how to get the answer", "why is the answer that? go slowly", ""],
    "es": ["¿me lo explicas paso a paso?", "no entiendo cómo se hace, ayuda", "explícame cómo resolverlo", ""],
    "pt": ["pode explicar passo a passo?", "como resolvo isso? não entendi", "me ajuda com essa questão", ""],
}


def students_steps(rng, c, n, t0):
    """Students (English, Spanish, Portuguese): homework word problems and puzzles pasted with a request for the
    steps, in evening sessions of 2-14 problems on one to three evenings, often a "why?" follow-up;
    answers 250-700 words."""
    out = []
    pool = c.math + c.game24
    for i in range(n):
        lang = pick(rng, ["en", "en", "es", "pt"])
        key = key_for(rng, "students", i, "project")
        model = pick(rng, ["gpt-4o", "gpt-4o-mini", "gpt-4.1"])
        day = t0 + rng.uniform(15, 22.5) * HOUR
        for session in range(rng.choice([1, 1, 2, 3])):
            t = day + session * rng.uniform(20, 30) * HOUR
            if session and t > t0 + 70 * HOUR:
                break
            turns = []
            for _ in range(rng.randint(2, 14)):
                ask = pick(rng, STEP_ASK[lang])
                p = pick(rng, pool)
                q = (p + ("\n" + ask if ask else "")) if rng.random() < 0.6 else ((ask + ": " if ask else "") + p)
                if turns and rng.random() < 0.5:
                    turns = turns[-4:]
                else:
                    turns = []
                turns.append(("user", q))
                w = ln(rng, 380, 0.45, 80, 1400)
                out.append(ev(t, "students_steps", key, "chat", body("chat", model, None, list(turns)), w, lang=lang))
                turns.append(("assistant", said(w)))
                t += latency(rng, w) + reading(rng, w) + pause(rng, 40, 1.0)
                if rng.random() < 0.35:
                    fq = pick(rng, ["why?", "where did the 3 come from", "ok and the next step?", "¿por qué?",
                                    "não entendi essa parte", "can you check my answer, I got a different number"])
                    turns.append(("user", fq))
                    w2 = ln(rng, 160, 0.5, 30, 600)
                    out.append(ev(t, "students_steps", key, "chat", body("chat", model, None, list(turns)), w2, lang=lang))
                    turns.append(("assistant", said(w2)))
                    t += latency(rng, w2) + reading(rng, w2) + pause(rng, 25, 1.0)
    return out


def reasoning_study_group(rng, c, n, t0):
    """Students and curious people on a reasoning model (Responses API, effort low to high): yes/no reasoning
    questions, exam questions and math, a few a day, long reasoning (500-6,000 reasoning tokens) and answers of
    100-400 words, long reading pauses."""
    out = []
    for i in range(n):
        key = key_for(rng, "reason", i)
        t = waking(rng, t0) + rng.uniform(0, 8) * HOUR
        effort = pick(rng, ["low", "medium", "medium", "high"])
        for _ in range(rng.randint(2, 25)):
            kind = rng.random()
            if kind < 0.4:
                q = pick(rng, c.strategy)
            elif kind < 0.7:
                q = pick(rng, c.math)
            else:
                m = pick(rng, c.mmlu)
                q = m["text"] + "\nWhich one and why?"
            r = ln(rng, {"low": 600, "medium": 1600, "high": 3500}[effort], 0.7, 50, 20000)
            w = ln(rng, 200, 0.5, 30, 900)
            out.append(ev(t, "reasoning_study_group", key, "responses",
                          body("responses", "o4-mini", None, [("user", q)], reasoning={"effort": effort}), w, r))
            t += latency(rng, w, r) + reading(rng, w) + pause(rng, 60, 1.2)
            if rng.random() < 0.2:
                t += long_break(rng)
    return out


# ---- personal assistants -----------------------------------------------------------------------------------

def household_assistant(rng, c, n, t0):
    """Personal assistant: a family's shared key used from phones and a laptop, in the family's languages
    (chat openers and conversations in 12 languages, search questions, finance questions), a memory system
    prompt, short multi-turn chats spread over a day or two; answers 40-400 words."""
    out = []
    langs = ["en", "pt", "fr", "it", "es", "id", "hi", "he", "sv", "de", "zh-Hant", "ru"]
    for i in range(n):
        key = key_for(rng, "house", i)
        family_langs = [pick(rng, langs)] + (["en"] if rng.random() < 0.6 else [])
        memory = ("You are the family assistant. Known facts: the family lives in {place}; {names}. "
                  "Answer in the language you are addressed in.").format(
            place=pick(rng, ["Porto", "Lyon", "Pune", "Haifa", "Malmö", "Bandung", "Turin", "Graz"]),
            names=pick(rng, ["two kids, 7 and 11", "a dog called Miso", "grandmother visits on Sundays", "one teenager"]))
        t = waking(rng, t0, rng.uniform(-3, 3))
        end = t0 + rng.uniform(20, 48) * HOUR
        while t < end:
            lang = pick(rng, family_langs)
            turns = []
            for _ in range(rng.choice([1, 1, 2, 3, 5])):
                if lang == "en" and rng.random() < 0.5:
                    q = pick(rng, c.nq + c.fiqa)
                else:
                    q = pick(rng, chat_lang_pool(c, lang))
                turns.append(("user", q))
                w = ln(rng, 110, 0.8, 10, 800)
                out.append(ev(t, "household_assistant", key, "chat",
                              body("chat", "gpt-4o", memory, list(turns), stream=rng.random() < 0.7), w,
                              lang=lang))
                turns.append(("assistant", said(w)))
                t += latency(rng, w) + reading(rng, w) + pause(rng, 18, 1.0)
            t += long_break(rng)
    return out


def voice_assistant(rng, c, n, t0):
    """Personal assistant by voice: transcribed spoken queries (search questions, lowercased, no punctuation),
    many short single-turn requests a day in bursts (cooking, driving), answers of 15-70 words."""
    out = []
    for i in range(n):
        key = key_for(rng, "voice", i)
        t = waking(rng, t0, rng.uniform(-2, 2)) - 2 * HOUR
        end = t + rng.uniform(10, 16) * HOUR
        while t < end:
            for _ in range(rng.choice([1, 1, 2, 3, 4, 6])):
                q = pick(rng, c.nq).lower().rstrip("?")
                if rng.random() < 0.3:
                    q = pick(rng, ["hey ", "ok so ", "um ", "tell me "]) + q
                w = ln(rng, 35, 0.4, 8, 120)
                out.append(ev(t, "voice_assistant", key, "chat",
                              body("chat", "gpt-4o-mini", "Answer for text-to-speech in one to three sentences.",
                                   [("user", q)], max_tokens=150), w))
                t += latency(rng, w) + w / 2.6 * SEC + pause(rng, 8, 0.9)
            t += long_break(rng)
    return out


# ---- agents with tool calls ------------------------------------------------------------------------------------

TOOLS_ANTHROPIC = [
    {"name": "search_tickets", "description": "Search the ticket system.",
     "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}},
    {"name": "run_sql", "description": "Run a read-only SQL query.",
     "input_schema": {"type": "object", "properties": {"sql": {"type": "string"}}, "required": ["sql"]}},
    {"name": "read_file", "description": "Read a file from the repository.",
     "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}},
]
TOOLS_RESPONSES = [
    {"type": "function", "name": "open_page", "description": "Open a web page and return its text.",
     "parameters": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]}},
    {"type": "function", "name": "click", "description": "Click an element on the page.",
     "parameters": {"type": "object", "properties": {"selector": {"type": "string"}}, "required": ["selector"]}},
]


def ops_agent(rng, c, n, t0):
    """Agents with tool calls (Anthropic messages): an internal operations agent that gets a task from a person
    (a finance or search question), then loops 2-12 times on tool_use / tool_result within seconds,
    the history growing each step; step answers 20-150 words, final answers 100-400."""
    out = []
    names = ["search_tickets", "run_sql", "read_file"]
    for i in range(n):
        key = key_for(rng, "opsagent", i, "anthropic")
        sys_text = "You are an operations agent for the {team} team. Use the tools; be concise.".format(
            team=pick(rng, ["billing", "platform", "support", "data"]))
        t = t0 + rng.uniform(7, 11) * HOUR
        end = t0 + rng.uniform(17, 21) * HOUR
        while t < end:
            task = pick(rng, c.fiqa + c.nq + [x["text"] for x in c.boolq])
            msgs = [("user", task)]
            for step in range(rng.randint(2, 12)):
                w = ln(rng, 60, 0.6, 10, 300)
                out.append(ev(t, "ops_agent", key, "messages",
                              body("messages", "claude-sonnet-4-5", sys_text, list(msgs), tools=TOOLS_ANTHROPIC,
                                   max_tokens=4096), w))
                tid = f"toolu_{rng.randrange(16 ** 12):012x}"
                name = pick(rng, names)
                msgs.append(("assistant", [{"type": "text", "text": said(min(w, 30))},
                                           {"type": "tool_use", "id": tid, "name": name, "input": {"query": task[:60]}}]))
                result = pick(rng, c.boolq)["passage"][:rng.randint(200, 1500)]
                msgs.append(("user", [{"type": "tool_result", "tool_use_id": tid, "content": result}]))
                t += latency(rng, w) + rng.uniform(0.2, 6) * SEC
            w = ln(rng, 200, 0.5, 40, 700)
            out.append(ev(t, "ops_agent", key, "messages",
                          body("messages", "claude-sonnet-4-5", sys_text, list(msgs), tools=TOOLS_ANTHROPIC,
                               max_tokens=4096), w))
            t += latency(rng, w) + pause(rng, 25 * 60, 1.0)
    return out


def browser_agent(rng, c, n, t0):
    """Agents with tool calls (Responses API): a browsing agent that opens pages and clicks for a person's
    errand, chaining calls with previous_response_id every few seconds; 3-20 steps per errand, a few errands a
    day."""
    out = []
    for i in range(n):
        key = key_for(rng, "browser", i, "project")
        t = waking(rng, t0) + rng.uniform(0, 6) * HOUR
        for _ in range(rng.randint(1, 6)):
            errand = pick(rng, c.nq + c.health + c.fiqa)
            prev = None
            for step in range(rng.randint(3, 20)):
                if step == 0:
                    inp = [{"role": "user", "content": "Find out: " + errand}]
                else:
                    inp = [{"type": "function_call_output", "call_id": f"call_{rng.randrange(16 ** 10):010x}",
                            "output": pick(rng, c.boolq)["passage"][:rng.randint(300, 2000)]}]
                b = {"model": "gpt-4.1", "input": inp, "tools": TOOLS_RESPONSES}
                if prev:
                    b["previous_response_id"] = prev
                w = ln(rng, 40, 0.6, 8, 250)
                out.append(ev(t, "browser_agent", key, "responses", b, w))
                prev = f"resp_{rng.randrange(16 ** 16):016x}"
                t += latency(rng, w) + rng.uniform(0.5, 8) * SEC
            t += pause(rng, 30 * 60, 1.0) + rng.uniform(0, 3) * HOUR
    return out


# ---- retrieval-augmented generation --------------------------------------------------------------------------

def docs_rag_service(rng, c, n, t0):
    """RAG: a company knowledge-base assistant on one key; each employee question (search questions) is sent
    with 2-5 retrieved Wikipedia passages in the prompt, single turn, answers 60-250 words, diurnal load."""
    out = []
    for i in range(n):
        key = key_for(rng, "kbrag", i)
        for t in product_load(rng, t0, rng.uniform(20, 50)):
            row = pick(rng, c.boolq)
            ctx = [row] + [pick(rng, c.boolq) for _ in range(rng.randint(1, 4))]
            rng.shuffle(ctx)
            docs = "\n\n".join(f"[{j + 1}] {d['title']}: {d['passage']}" for j, d in enumerate(ctx))
            prompt = f"Context:\n{docs}\n\nQuestion: {row['text']}?\nAnswer using the context and cite [n]."
            w = ln(rng, 110, 0.5, 20, 400)
            out.append(ev(t, "docs_rag_service", key, "chat",
                          body("chat", "gpt-4o-mini", "You answer employees' questions from the company wiki.",
                               [("user", prompt)], temperature=0), w))
    return out


def chat_with_pdf(rng, c, n, t0):
    """RAG by individuals: someone pastes a passage (QuAC Wikipedia sections) and asks the questions they really
    asked about it, in order, as one conversation; answers 40-200 words; one or two documents a day."""
    out = []
    for i in range(n):
        key = key_for(rng, "pdfchat", i)
        t = waking(rng, t0) + rng.uniform(0, 10) * HOUR
        for _ in range(rng.choice([1, 1, 2, 3])):
            row = pick(rng, c.quac)
            qs = row["questions"] if isinstance(row["questions"], list) else [row["text"][:80]]
            turns = [("user", "Here is a document:\n\n" + row["text"] + "\n\n" + (qs[0] if qs else "Summarise it."))]
            for j in range(min(len(qs), rng.randint(1, 8)) or 1):
                w = ln(rng, 90, 0.6, 15, 400)
                out.append(ev(t, "chat_with_pdf", key, "messages",
                              body("messages", "claude-haiku-4-5", None, list(turns), max_tokens=1024), w))
                turns.append(("assistant", said(w)))
                if j + 1 < len(qs):
                    turns.append(("user", qs[j + 1]))
                t += latency(rng, w) + reading(rng, w) + pause(rng, 15, 0.9)
            t += long_break(rng)
    return out


# ---- coding ------------------------------------------------------------------------------------------------------

def pr_review_bot(rng, c, n, t0):
    """Coding: a CI bot that reviews each pushed change (HumanEval functions as the diff), 1-6 files per push
    sent back to back, pushes clustered in working hours; reviews 150-600 words."""
    out = []
    for i in range(n):
        key = key_for(rng, "prbot", i)
        t = t0 + rng.uniform(8, 10) * HOUR
        end = t0 + rng.uniform(18, 23) * HOUR
        while t < end:
            for _ in range(rng.randint(1, 6)):
                code = pick(rng, c.code)
                diff = "\n".join("+" + line for line in code.splitlines())
                w = ln(rng, 280, 0.5, 40, 1200)
                out.append(ev(t, "pr_review_bot", key, "chat",
                              body("chat", "gpt-4.1", "You are a careful code reviewer. Point out bugs, risky edge "
                                   "cases and style problems in the diff. Use markdown.",
                                   [("user", f"Review this diff to `src/{pick(rng, ['util', 'core', 'api'])}.py`:\n"
                                     f"```diff\n{diff}\n```")], temperature=0.2), w))
                t += latency(rng, w) + rng.uniform(0.1, 2) * SEC
            t += pause(rng, 25 * 60, 1.2)
    return out


def notebook_copilot(rng, c, n, t0):
    """Coding: data scientists in a notebook asking about code (HumanEval prompts, with their own questions),
    multi-turn, answers 100-600 words, bursty work sessions."""
    out = []
    asks = ["why does this fail on empty input?", "can you make this faster", "write tests for this",
            "explain what this does", "add type hints and a docstring", "convert to numpy", ""]
    for i in range(n):
        key = key_for(rng, "notebook", i, "project")
        t = waking(rng, t0, rng.uniform(-4, 4)) + rng.uniform(0, 3) * HOUR
        for _ in range(rng.randint(1, 3)):
            turns = []
            for _ in range(rng.randint(1, 9)):
                q = (pick(rng, c.code) + "\n\n" + pick(rng, asks)).strip() if not turns or rng.random() < 0.4 \
                    else pick(rng, asks[:-1])
                turns.append(("user", q))
                w = ln(rng, 260, 0.6, 30, 1500)
                out.append(ev(t, "notebook_copilot", key, "chat",
                              body("chat", pick(rng, ["gpt-4.1", "gpt-4o"]), None, list(turns[-8:])), w))
                turns.append(("assistant", said(w)))
                t += latency(rng, w) + reading(rng, w) * 0.6 + pause(rng, 90, 1.1)
            t += long_break(rng)
    return out


# ---- translation -----------------------------------------------------------------------------------------------

TARGETS = ["French", "German", "Japanese", "Brazilian Portuguese", "Korean", "Turkish", "Polish", "Vietnamese"]


def subtitle_pipeline(rng, c, n, t0):
    """Translation: a subtitle studio's pipeline translating episode scripts (short English sentences) into
    several languages in numbered blocks of 5-30 lines, four workers in parallel, a few episodes a day;
    answers about as long as the block."""
    out = []
    for i in range(n):
        key = key_for(rng, "subs", i)
        t = t0 + rng.uniform(1, 20) * HOUR
        for _ in range(rng.randint(1, 4)):
            lines = [pick(rng, c.sentences) for _ in range(rng.randint(60, 250))]
            langs = rng.sample(TARGETS, rng.randint(2, 5))
            workers = [t] * 4
            for lang in langs:
                k = 0
                while k < len(lines):
                    size = rng.randint(5, 30)
                    block = lines[k:k + size]
                    k += size
                    text = "\n".join(f"{j + 1}. {s}" for j, s in enumerate(block))
                    wi = min(range(4), key=lambda x: workers[x])
                    w = max(5, int(sum(len(s.split()) for s in block) * rng.uniform(1.0, 1.4)))
                    out.append(ev(workers[wi], "subtitle_pipeline", key, "chat",
                                  body("chat", "gpt-4o-mini", f"Translate each numbered subtitle line into {lang}. "
                                       "Keep the numbering and line breaks. Do not merge lines.",
                                       [("user", text)], temperature=0.3), w))
                    workers[wi] += latency(rng, w) + rng.uniform(0.05, 0.5) * SEC
            t = max(workers) + rng.uniform(1, 5) * HOUR
    return out


def phrasebook_travellers(rng, c, n, t0):
    """Translation by people: travellers and learners asking what a phrase means or how to say something
    (chat lines in 10 languages), a handful a day, answers 20-120 words."""
    out = []
    langs = ["pt", "fr", "it", "es", "de", "id", "sv", "he", "hi", "zh-Hant"]
    asks = ["What does this mean: {x}", "how do I say \"{x}\" in {lang}", "Translate: {x}", "is this polite? {x}",
            "{x}\n\nin english please"]
    for i in range(n):
        key = key_for(rng, "phrase", i)
        lang = pick(rng, langs)
        t = waking(rng, t0, rng.uniform(-6, 6))
        for _ in range(rng.randint(2, 18)):
            x = pick(rng, chat_lang_pool(c, lang)) if rng.random() < 0.7 else pick(rng, c.sentences)
            q = pick(rng, asks).format(x=x, lang=pick(rng, TARGETS))
            w = ln(rng, 45, 0.6, 5, 250)
            out.append(ev(t, "phrasebook_travellers", key, "chat", body("chat", "gpt-4o-mini", None, [("user", q)]),
                          w, lang=lang))
            t += latency(rng, w) + reading(rng, w) + pause(rng, 40, 1.4)
            if rng.random() < 0.3:
                t += long_break(rng)
    return out


# ---- batch jobs ----------------------------------------------------------------------------------------------------

TICKET_CATS = ["billing", "account_access", "investments", "taxes", "loans", "fraud", "other"]


def ticket_triage(rng, c, n, t0):
    """Batch classification: a bank's support queue routes every incoming message (personal-finance forum
    questions) to a category as JSON, temperature 0, max 8 tokens, with logprobs for a confidence threshold;
    each message as it arrives plus backlog sweeps of 5-40 messages in about half the hours; answers 3-8 words."""
    out = []
    sys_text = ("Classify the customer message into one of: " + ", ".join(TICKET_CATS) +
                ". Reply with JSON {\"category\": ...} only.")
    for i in range(n):
        key = key_for(rng, "triage", i)
        times = product_load(rng, t0, rng.uniform(20, 60))
        for h in range(24):
            if rng.random() < 0.5:
                base = t0 + h * HOUR + rng.uniform(0, 5) * MIN
                times += [base + j * rng.uniform(0.3, 1.2) * SEC for j in range(rng.randint(5, 40))]
        for t in sorted(times):
            msg = pick(rng, c.fiqa)
            out.append(ev(t, "ticket_triage", key, "chat",
                          body("chat", "gpt-4o-mini", sys_text, [("user", msg)], temperature=0, max_tokens=8,
                               logprobs=True, top_logprobs=3, response_format={"type": "json_object"}),
                          ln(rng, 5, 0.2, 3, 9)))
    return out


def spreadsheet_addon(rng, c, n, t0):
    """Batch extraction from a spreadsheet add-on: an analyst drags a formula like =AI("extract the country",
    A2) down a column, so one template is filled with 30-250 cells in a burst one to three times a day (review snippets,
    search questions, news first lines); answers 1-12 words."""
    out = []
    asks = ["Extract the main topic in 3 words or fewer: {x}", "Is this positive, negative or neutral? {x}",
            "Which country is this about? Answer with the country name or 'none'. {x}",
            "Give a short title (max 8 words) for: {x}", "Does this mention a price? yes/no. {x}"]
    for i in range(n):
        key = key_for(rng, "sheet", i)
        t = t0 + rng.uniform(8, 12) * HOUR
        for _ in range(rng.randint(1, 3)):
            tmpl = pick(rng, asks)
            src = pick(rng, [c.reviews, c.nq, c.news, c.fiqa])
            for _ in range(rng.randint(30, 250)):
                x = pick(rng, src)[:400]
                out.append(ev(t, "spreadsheet_addon", key, "chat",
                              body("chat", "gpt-4o-mini", None, [("user", tmpl.format(x=x))], temperature=0),
                              ln(rng, 4, 0.5, 1, 14)))
                t += rng.uniform(0.15, 0.8) * SEC
            t += pause(rng, 80 * 60, 0.8)
    return out


def clinic_notes(rng, c, n, t0):
    """Summarisation: clinics turning recorded doctor-patient conversations into visit notes (SOAP) after each
    appointment, every 15-40 minutes in clinic hours; answers 120-350 words."""
    out = []
    for i in range(n):
        key = key_for(rng, "clinic", i, "anthropic")
        t = t0 + rng.uniform(7.5, 9.5) * HOUR
        end = t0 + rng.uniform(16, 19) * HOUR
        while t < end:
            d = pick(rng, c.dialogues)
            w = ln(rng, 210, 0.35, 60, 600)
            out.append(ev(t, "clinic_notes", key, "messages",
                          body("messages", "claude-sonnet-4-5", "Write a SOAP note from the visit transcript. Use "
                               "only facts stated in it.", [("user", d)], max_tokens=1500, temperature=0), w))
            t += rng.uniform(15, 40) * MIN + (rng.uniform(30, 70) * MIN if rng.random() < 0.1 else 0)
    return out


def newsletter_digest(rng, c, n, t0):
    """Summarisation: a newsroom tool that summarises wire stories (BBC articles) into 2-3 sentences as they
    land, with a morning batch; answers 40-110 words."""
    out = []
    for i in range(n):
        key = key_for(rng, "digest", i)
        times = [t0 + 6 * HOUR + j * rng.uniform(1, 4) * SEC for j in range(rng.randint(20, 80))]
        times += product_load(rng, t0, rng.uniform(4, 12))
        for t in sorted(times):
            w = ln(rng, 70, 0.3, 25, 160)
            out.append(ev(t, "newsletter_digest", key, "responses",
                          body("responses", "gpt-4.1-mini", "Summarise the article in two or three sentences for a "
                               "newsletter. Neutral tone.", [("user", pick(rng, c.news))]), w))
    return out


# ---- evaluation runs ----------------------------------------------------------------------------------------------

def benchmark_sweep(rng, c, n, t0):
    """Evaluation run: an ML engineer's one-off benchmark of the model on exam, yes/no and math questions with
    a few-shot chain-of-thought prompt ("Let's think step by step", as the benchmarks prescribe), 8 concurrent
    workers, temperature 0, 300-1,500 items once; answers 60-300 words."""
    out = []
    shots = "\n\n".join(f"Q: {m['text']}\nA: {m['cot_answer']}" for m in c.mmlu[:3])
    for i in range(n):
        key = key_for(rng, "bench", i, "project")
        t = t0 + rng.uniform(9, 20) * HOUR
        items = [m["text"] for m in c.mmlu] + c.strategy + c.math
        rng.shuffle(items)
        workers = [t + j * 0.1 * SEC for j in range(8)]
        for q in items[:rng.randint(300, 1500)]:
            wi = min(range(8), key=lambda x: workers[x])
            w = ln(rng, 130, 0.5, 20, 500)
            out.append(ev(workers[wi], "benchmark_sweep", key, "chat",
                          body("chat", "gpt-4o", None, [("user", f"{shots}\n\nQ: {q}\nA: Let's think step by step.")],
                               temperature=0, max_tokens=512), w))
            workers[wi] += latency(rng, w) + rng.uniform(0.01, 0.2) * SEC
    return out


def prompt_ab_test(rng, c, n, t0):
    """Evaluation run: a developer comparing two system prompts for their product on a fixed list of 40-150 real
    user questions, each question under both prompts, run once or twice in an afternoon; answers 100-300 words."""
    out = []
    for i in range(n):
        key = key_for(rng, "abtest", i)
        qs = [pick(rng, c.questions) for _ in range(rng.randint(40, 150))]
        prompts = ["You are a concise assistant.", "You are a friendly expert. Explain clearly and give one example."]
        t = t0 + rng.uniform(12, 18) * HOUR
        for _ in range(rng.choice([1, 1, 2])):
            for q in qs:
                for p in prompts:
                    w = ln(rng, 170, 0.5, 30, 600)
                    out.append(ev(t, "prompt_ab_test", key, "chat", body("chat", "gpt-4o", p, [("user", q)]), w))
                    t += latency(rng, w) + rng.uniform(0.05, 0.4) * SEC
            t += rng.uniform(40, 120) * MIN
    return out


# ---- one generic system prompt, many unrelated users ----------------------------------------------------------

def byok_wrapper(rng, c, n, t0):
    """Many unrelated users of one generic system prompt: a bring-your-own-key desktop chat app that sends the
    same "helpful assistant" prompt for everybody, each user with their own key and habits (languages, length,
    time zone); 1-60 messages over a day, answers 30-600 words."""
    out = []
    sys_text = "You are a helpful assistant. Current date: 2026-12-02. Format answers in Markdown."
    langs = ["en", "en", "en", "pt", "fr", "es", "de", "it", "zh-Hant", "id", "hi", "ru", "sv"]
    for i in range(n):
        key = key_for(rng, "byok", i, pick(rng, ["openai", "project"]))
        lang = pick(rng, langs)
        verbosity = rng.choice([60, 150, 300])
        t = waking(rng, t0, rng.uniform(-8, 8))
        left = int(min(60, max(1, rng.paretovariate(1.0) * 3)))
        while left > 0:
            turns = []
            for _ in range(min(left, rng.randint(1, 6))):
                left -= 1
                if lang == "en":
                    q = pick(rng, pick(rng, [c.nq, c.health, c.fiqa, c.truthful, c.sentences]))
                else:
                    q = pick(rng, chat_lang_pool(c, lang))
                turns.append(("user", q))
                w = ln(rng, verbosity, 0.7, 10, 1500)
                out.append(ev(t, "byok_wrapper", key, "chat",
                              body("chat", pick(rng, ["gpt-4o", "gpt-4o-mini", "gpt-4.1"]), sys_text, list(turns),
                                   stream=True), w, lang=lang))
                turns.append(("assistant", said(w)))
                t += latency(rng, w) + reading(rng, w) + pause(rng, 25, 1.1)
            t += long_break(rng)
    return out


# ---- writers and occasional users ------------------------------------------------------------------------------

def fiction_writers(rng, c, n, t0):
    """Creative writing: people drafting stories who paste a short scene idea (a news first paragraph or a chat
    line) and ask for long continuations, rewrites and "more", in long sessions; answers 400-1,500 words, far
    longer than the prompts."""
    out = []
    asks = ["Continue the story from here, about a thousand words.", "Rewrite this scene with more tension.",
            "more", "keep going", "Write the next chapter.", "Now from the other character's point of view."]
    for i in range(n):
        key = key_for(rng, "fiction", i, "anthropic")
        t = waking(rng, t0, rng.uniform(-4, 6)) + rng.uniform(2, 12) * HOUR
        for _ in range(rng.randint(1, 3)):
            seed = pick(rng, c.news)[:500] if rng.random() < 0.6 else pick(rng, chat_lang_pool(c, "en"))
            turns = [("user", "Story idea: " + seed + "\n\n" + asks[0])]
            for _ in range(rng.randint(2, 20)):
                w = ln(rng, 800, 0.4, 150, 3000)
                out.append(ev(t, "fiction_writers", key, "messages",
                              body("messages", "claude-opus-4-1", "You are a co-writer.", list(turns[-9:]),
                                   max_tokens=4096, temperature=1.0), w))
                turns.append(("assistant", said(w)))
                turns.append(("user", pick(rng, asks[1:])))
                t += latency(rng, w) + reading(rng, w) * 1.3 + pause(rng, 120, 1.0)
            t += long_break(rng)
    return out


def occasional_users(rng, c, n, t0):
    """Casual: people with 1-15 messages in a day, any time zone, any language, a mix of chat openers, search and
    health questions; answers 20-500 words."""
    out = []
    langs = list(c.chat_by_lang)
    for i in range(n):
        key = key_for(rng, "occasional", i, pick(rng, ["openai", "project", "anthropic"]))
        api = "messages" if key.startswith("sk-ant") else "chat"
        lang = pick(rng, langs) if rng.random() < 0.5 else "en"
        t = t0 + rng.uniform(0, 22) * HOUR
        for _ in range(rng.choice([1, 2, 3, 4, 6, 9, 15])):
            if lang == "en":
                q = pick(rng, pick(rng, [c.nq, c.health, c.truthful, chat_lang_pool(c, "en")]))
            else:
                q = pick(rng, chat_lang_pool(c, lang))
            w = ln(rng, 120, 0.9, 5, 1200)
            model = "claude-haiku-4-5" if api == "messages" else "gpt-4o-mini"
            out.append(ev(t, "occasional_users", key, api, body(api, model, None, [("user", q)]), w, lang=lang))
            t += latency(rng, w) + reading(rng, w) + pause(rng, 30, 1.5)
            if rng.random() < 0.25:
                t += long_break(rng)
    return out
