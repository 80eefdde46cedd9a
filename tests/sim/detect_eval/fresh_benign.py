"""Fresh benign families (split `fresh`), written blind on 2026-12-02: by someone who had not read the
detector (src/), DETECTION.md, tools/intent/, earlier evaluation results or the other generators' bodies,
from an idea of how people and products really use an LLM API. Each builder is `(rng, corpus, n, t0) ->
[Event]`, `n` the number of credentials at scale 1. Prompt text is real human text from the harness's
corpora (tests/data/human, tests/data/prompts; licenses in their READMEs); only the glue (personas,
"fix my text", follow-ups) is written here. Answer lengths are per workload (words = completion tokens
of the mock upstream; reasoning models also report `reasoning_tokens`) and human pacing includes the
model's own latency, reading time and heavy-tailed pauses."""
import math

import common
from common import (HOUR, MIN, SEC, Event, assistant, day_start, lognormal, pick, reply, session_gap, system,
                    think_gap, user)

B = "benign"
CHAT, MESSAGES, RESPONSES, COMPLETIONS = "/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/completions"
HORIZON = 30 * HOUR  # a benign population is followed for a day and a bit

_EXTRA = {}


def rows(folder, name):
    """Whole rows of a corpus file (the shared Corpus keeps only the text of some)."""
    if (folder, name) not in _EXTRA:
        _EXTRA[(folder, name)] = common._rows(folder, name)
    return _EXTRA[(folder, name)]


def new_key(rng, tag):
    """A fresh API key; every family's keys look alike (`tag` only names the call site)."""
    return f"sk-proj-{rng.getrandbits(96):024x}"


def latency(rng, words):
    """Time the model takes to produce `words` words (time to first token plus ~40-110 tokens/s)."""
    return (rng.uniform(0.3, 1.5) + words / rng.uniform(40, 110)) * SEC


def body_for(api, sys_text, messages, model, stream=False, **extra):
    """(path, body) of one request in the API's own shape."""
    if api == MESSAGES:
        body = {"model": model, "max_tokens": extra.pop("max_tokens", 4096), "messages": messages}
        if sys_text:
            body["system"] = sys_text
    elif api == RESPONSES:
        body = {"model": model, "input": messages if len(messages) > 1 else messages[0]["content"]}
        if sys_text:
            body["instructions"] = sys_text
    else:
        body = {"model": model, "messages": ([system(sys_text)] if sys_text else []) + messages}
        if stream:
            body["stream_options"] = {"include_usage": True}
    if stream:
        body["stream"] = True
    body.update(extra)
    return api, body


def ev(t, family, key, api, body, words, reasoning=0, lang="en", headers=None):
    path = api
    h = reply(words, reasoning)
    h.update(headers or {})
    return Event(t, family, B, key, path, body, h, intent="ordinary", lang=lang)


def arrivals(rng, t0, per_hour, hours=24, peak=15.0, width=4.5, night=0.08, bursts=0):
    """Arrivals of many unrelated people behind one product key: an inhomogeneous Poisson process with
    a smooth daily curve peaking at `peak` o'clock, a floor at night, and `bursts` short surges (a
    newsletter, a mention on social media) of 3-6x the rate for 20-60 minutes."""
    surge = []
    for _ in range(bursts):
        s = t0 + rng.uniform(8, 21) * HOUR
        surge.append((s, s + rng.uniform(20, 60) * MIN, rng.uniform(3, 6)))
    top = per_hour * 6.0
    out, t, end = [], t0, t0 + hours * HOUR
    while True:  # thinning
        t += rng.expovariate(top / HOUR)
        if t >= end:
            return out
        hour = ((t - common.T0) / HOUR) % 24
        d = min(abs(hour - peak), 24 - abs(hour - peak))
        rate = per_hour * (night + (1 - night) * math.exp(-(d / width) ** 2))
        for s, e, k in surge:
            if s <= t < e:
                rate *= k
        if rng.random() < rate / top:
            out.append(t)


def walk(rng, t0, plan, first=None):
    """Drives one person through a plan of sessions. `plan` yields (new_session, prompt_chars, words)
    per message; returns the send times. Within a session: model latency, reading, thinking and typing
    (`think_gap`); between sessions: a heavy-tailed pause (`session_gap`), sometimes overnight."""
    t = first if first is not None else day_start(rng, t0, 7, 22)
    times, last_words = [], 0
    for i, (new_session, chars, words) in enumerate(plan):
        if i:
            if new_session:
                t += latency(rng, last_words) + session_gap(rng)
            else:
                t += latency(rng, last_words) + think_gap(rng, last_words, chars)
        times.append(t)
        last_words = words
    return times


def conversation(rng, c, lang):
    """A real conversation opener (and its later lines) in `lang` from the chatterbot corpora."""
    pool = c.chat_by_lang.get(lang) or c.chat_by_lang["en"]
    return pick(rng, pool)


def chat_lines(rng, c, lang):
    """The user lines of one real chatterbot conversation in `lang` (every other turn)."""
    if "by_lang" not in _EXTRA:
        by = {}
        for r in rows(common.HUMAN, "chatterbot_multi.jsonl"):
            by.setdefault(r["lang"], []).append(r)
        _EXTRA["by_lang"] = by
    r = pick(rng, _EXTRA["by_lang"].get(lang) or _EXTRA["by_lang"]["en"])
    return r["turns"][::2] or [r["text"]]


# ---- products: one key, many unrelated end users ------------------------------------------------

SUPPORT = [
    ("Northbank", "fiqa", "You are Nora, the virtual assistant of Northbank, a retail bank. Answer customers' questions "
     "about accounts, cards, payments, loans and taxes in plain language. Be friendly and brief. Never ask for full "
     "card numbers or passwords. If a question needs a human, tell the customer to call 0800 555 0199.", 110),
    ("MediMart", "health", "You are the pharmacy helper of MediMart online pharmacy. Give general, accurate "
     "information about medicines, symptoms and conditions, always suggest seeing a doctor or pharmacist for "
     "personal advice, and never diagnose. Keep answers short and clear.", 130),
    ("Tripwise", "travel", "You are Tripwise's support agent. Help travellers with bookings, destinations, languages "
     "and everyday questions. Reply in the customer's language.", 80),
]
SUPPORT_FOLLOW = ["ok thanks", "And how long does that usually take?", "That doesn't really answer my question.",
                  "can I talk to a real person", "What if it's a joint account?", "is there a fee for that?",
                  "sorry, what do you mean by that?", "Thanks, that helps a lot!", "and for children?",
                  "Is it safe to take with alcohol?", "where do I find that in the app?", "ok. anything else I should know?"]


def support_bot(rng, c, n, t0):
    """Customer-support bots of three companies (bank, online pharmacy, travel), one key each: a fixed
    persona, real customer questions (FiQA, health questions, travel phrases in several languages),
    conversations of one to five turns, streamed answers of ~80-130 words, diurnal volume with surges."""
    out = []
    fam = "support_bot"
    travel_langs = ["en", "en", "es", "pt", "fr", "it", "de", "id"]
    for i in range(n):
        name, pool, persona, median = SUPPORT[i % len(SUPPORT)]
        key = new_key(rng, "support")
        for start in arrivals(rng, t0, rng.uniform(18, 40), bursts=rng.randrange(3)):
            lang = "en"
            if pool == "fiqa":
                q = pick(rng, c.fiqa)
            elif pool == "health":
                q = pick(rng, c.health)
            else:
                lang = pick(rng, travel_langs)
                q = pick(rng, c.sentences) if lang == "en" and rng.random() < 0.5 else conversation(rng, c, lang)
            msgs, t = [user(q)], start
            for k in range(1 + min(4, int(rng.expovariate(1.1)))):
                words = lognormal(rng, median, 0.5, 15, 600)
                out.append(ev(t, fam, key, *body_for(CHAT, persona, list(msgs), "gpt-4o-mini", stream=True), words,
                              lang=lang))
                msgs.append(assistant(words))
                nxt = pick(rng, SUPPORT_FOLLOW)
                msgs.append(user(nxt))
                t += latency(rng, words) + think_gap(rng, words, len(nxt))
    return out


ANSWER_BOX = ("You write the AI answer box shown above search results on Findr. Given the user's search query, "
              "write a helpful, factual answer of one to three short paragraphs. Do not mention that you are an AI.")


def answer_box(rng, c, n, t0):
    """A search engine's AI answer box on one key per market: every search (real search queries: NQ,
    health and finance questions) gets a single-turn answer of ~250 words, streamed, at a steady 40-120
    an hour with a daily curve; nobody ever writes a second message."""
    out, fam = [], "answer_box"
    for _ in range(n):
        key = new_key(rng, "findr")
        for start in arrivals(rng, t0, rng.uniform(40, 120), peak=14.0, width=6.0, night=0.2, bursts=1):
            q = pick(rng, c.nq if rng.random() < 0.6 else c.health + c.fiqa)
            words = lognormal(rng, 250, 0.35, 40, 900)
            out.append(ev(start, fam, key, *body_for(CHAT, ANSWER_BOX, [user(q)], "gpt-4o-mini", stream=True), words))
    return out


TUTOR_APP = ("You are Pip, the maths tutor in the Sumly homework app for pupils aged 9 to 15. Show your work: go "
             "through the solution one small step at a time, explain why each step is done, and put the final answer "
             "on its own line at the end. Use simple words. If the pupil only wants a hint, give a hint.")
TUTOR_FOLLOW = ["why do you divide there?", "I still don't get it", "can you give me a hint instead", "thanks!!",
                "what if the numbers were bigger", "is there an easier way", "ok I got 14, is that right?",
                "can you check my working: I added first then multiplied"]


def tutoring_app(rng, c, n, t0):
    """A homework app's tutoring backend on one key per school district: a "show your work" persona,
    real maths word problems pasted by many pupils (ASDiv, multi-step problems, Game of 24), afternoon
    and evening peaks, two-in-five sessions with a follow-up, long worked answers (~300 words)."""
    out, fam = [], "tutoring_app"
    for _ in range(n):
        key = new_key(rng, "tutor")
        for start in arrivals(rng, t0, rng.uniform(15, 30), peak=18.0, width=3.5, night=0.03):
            q = pick(rng, c.math) if rng.random() < 0.8 else pick(rng, c.game24)
            msgs, t = [user(q)], start
            for k in range(2 if rng.random() < 0.4 else 1):
                words = lognormal(rng, 300 if k == 0 else 140, 0.45, 40, 1500)
                out.append(ev(t, fam, key, *body_for(CHAT, TUTOR_APP, list(msgs), "gpt-4o-mini", stream=True), words))
                nxt = pick(rng, TUTOR_FOLLOW)
                msgs += [assistant(words), user(nxt)]
                t += latency(rng, words) + think_gap(rng, words, len(nxt))
    return out


WRITING = ("You are the writing assistant inside Quillpad. Improve the user's text as asked: fix grammar and "
           "spelling, keep their voice and meaning, and return only the revised text unless they ask for comments.")
WRITING_ASK = ["Make this more concise:\n\n{t}", "fix grammar pls\n\n{t}", "Rewrite this in a more formal tone:\n{t}",
               "Can you make this sound friendlier?\n\n{t}", "Shorten to about 50 words: {t}",
               "Turn this into three bullet points:\n{t}", "{t}\n\n^ proofread this", "Give me a catchy title for: {t}"]


def writing_product(rng, c, n, t0):
    """A writing-assistant product (one key per app instance): users paste their own drafts (real review,
    news and dialogue text) with a short instruction; the answer is roughly as long as the draft."""
    out, fam = [], "writing_product"
    for _ in range(n):
        key = new_key(rng, "quill")
        for start in arrivals(rng, t0, rng.uniform(12, 35), peak=13.0, width=5.0):
            draft = pick(rng, c.reviews if rng.random() < 0.6 else c.news)
            draft = draft[: rng.randrange(200, 1200)]
            ask = pick(rng, WRITING_ASK).format(t=draft)
            words = lognormal(rng, max(15, len(draft.split()) * 0.9), 0.3, 8, 900)
            out.append(ev(start, fam, key, *body_for(MESSAGES, WRITING, [user(ask)], "claude-3-5-haiku-latest"), words))
    return out


RAG_SYS = ("Answer the employee's question using only the context passages below. Cite passages as [1], [2]. If "
           "the context does not contain the answer, say you don't know.")


def rag_intranet(rng, c, n, t0):
    """Retrieval-augmented question answering of company knowledge bases, one key per deployment: each
    request carries 2-4 retrieved passages (real Wikipedia passages from BoolQ and QuAC) and a real
    question about them, business-hours traffic, answers of ~70-150 words; a third of the deployments
    use the Responses API."""
    out, fam = [], "rag_intranet"
    for i in range(n):
        key = new_key(rng, "kb")
        api = RESPONSES if i % 3 == 2 else CHAT
        for start in arrivals(rng, t0, rng.uniform(10, 25), peak=11.5, width=3.0, night=0.02):
            if rng.random() < 0.5:
                r = pick(rng, c.boolq)
                gold, q = r["passage"], r["text"]
            else:
                r = pick(rng, c.quac)
                gold, q = r["text"], pick(rng, r["questions"]) if r["questions"] else "What is this about?"
            passages = [gold] + [pick(rng, c.boolq)["passage"] for _ in range(rng.randrange(1, 4))]
            rng.shuffle(passages)
            ctx = "\n\n".join(f"[{j + 1}] {p[:700]}" for j, p in enumerate(passages))
            words = lognormal(rng, 100, 0.45, 10, 500)
            msg = user(f"Context:\n{ctx}\n\nQuestion: {q}")
            if api == RESPONSES:
                path, body = body_for(RESPONSES, RAG_SYS, [msg], "gpt-4.1-mini")
            else:
                path, body = body_for(CHAT, RAG_SYS, [msg], "gpt-4o-mini", temperature=0)
            out.append(ev(start, fam, key, path, body, words))
    return out


# ---- individual people --------------------------------------------------------------------------

STUDENT_ASK = ["{q}", "{q}", "{q} pls explain", "how do i solve this? {q}", "can you help me with my homework: {q}",
               "explain step by step: {q}", "no idea where to start - {q}", "{q}\nI got {n}, is that right?",
               "Can someone explain this question to me. {q}", "{q} (show working please, my teacher wants it)"]
STUDENT_FOLLOW = ["why?", "can you explain the second part again", "ok got it thanks", "what formula is that",
                  "that's not what my teacher got", "wait how did you get that number", "next one:", "hm ok",
                  "can you do it a different way", "thx"]
ZH_ASK = ["这道题怎么做？{q}", "老师布置的作业，不会做：{q}", "{q}\n请详细解释一下", "帮我看看这个：{q}"]
ZH_FOLLOW = ["为什么？", "第二步没看懂", "好的，谢谢", "还有别的方法吗", "能再简单点解释吗"]


def students_homework(rng, c, n, t0):
    """Pupils and students on their own keys (a family plan, a school's per-pupil keys): evening homework
    sessions of 2-10 messages, real problems (maths word problems, Game of 24, yes/no reasoning, Chinese
    riddles and parables for a fifth of them) with their own short wrappers and confused follow-ups,
    long explanations (~250 words) and shorter replies to follow-ups."""
    out, fam = [], "students_homework"
    for _ in range(n):
        key = new_key(rng, "stu")
        zh = rng.random() < 0.2
        model = pick(rng, ["gpt-4o-mini", "gpt-4o", "gpt-4o-mini"])
        plan, texts = [], []
        for s in range(rng.choice([1, 1, 2, 2, 3])):
            for k in range(rng.randrange(2, 11)):
                first = k == 0 or rng.random() < 0.35
                if zh:
                    text = pick(rng, ZH_ASK).format(q=pick(rng, c.zh_tasks)[:400]) if first else pick(rng, ZH_FOLLOW)
                else:
                    q = pick(rng, c.math) if rng.random() < 0.7 else pick(rng, c.game24 + c.strategy)
                    text = pick(rng, STUDENT_ASK).format(q=q, n=rng.randrange(2, 90)) if first else pick(rng, STUDENT_FOLLOW)
                words = lognormal(rng, 250 if first else 110, 0.5, 20, 1200)
                plan.append((k == 0, len(text), words))
                texts.append((first, text, words))
        times = walk(rng, t0, plan, first=t0 + rng.uniform(15, 21.5) * HOUR)
        msgs = []
        for (new_s, _, _), (first, text, words), t in zip(plan, texts, times):
            if new_s or (first and rng.random() < 0.5):
                msgs = []  # a new chat
            msgs.append(user(text))
            out.append(ev(t, fam, key, *body_for(CHAT, "", list(msgs), model, stream=True), words,
                          lang="zh" if zh else "en"))
            msgs.append(assistant(words))
    return out


ASSIST_LANGS = ["en"] * 6 + ["pt", "fr", "es", "de", "it", "id", "hi", "sv", "ru", "zh-Hant", "he"]
ASSIST_ASK = {
    "summ": ["tl;dr this please:\n\n{x}", "Summarise this article for me in a few bullet points\n\n{x}",
             "what's the main point here?\n{x}"],
    "fin": ["{x}", "quick money question: {x}", "{x} (I'm in the UK if it matters)"],
    "health": ["{x}", "asking for my mum: {x}", "{x}? should I be worried"],
    "trivia": ["{x}", "{x}?", "do you know {x}"],
    "plan": ["Plan a 3-day trip to {x} with a small budget", "Give me a packing list for {x} in winter",
             "What should I cook tonight with rice, eggs and spinach?", "draft a polite email declining a meeting on Friday",
             "help me write a birthday message for my sister, she's turning 30",
             "remind me how to convert {x} cups to grams of flour"],
}
PLACES = ["Lisbon", "Kyoto", "Oaxaca", "Tallinn", "Marrakesh", "Hobart", "Bergen", "Da Nang", "Cusco", "Ljubljana"]


def personal_assistant(rng, c, n, t0):
    """People using an assistant app with their own key: 1-5 sessions a day of 0-12 messages mixing
    trivia, money and health questions, article summaries, planning and small talk in their own
    language (17 languages), a chat history that carries over within a session; one in four on
    Anthropic's API, one in six on a reasoning model (reasoning tokens reported)."""
    out, fam = [], "personal_assistant"
    for _ in range(n):
        key = new_key(rng, "me")
        lang = pick(rng, ASSIST_LANGS)
        api = MESSAGES if rng.random() < 0.25 else CHAT
        reasoner = api == CHAT and rng.random() < 1 / 6
        model = "claude-sonnet-4-5" if api == MESSAGES else ("o4-mini" if reasoner else "gpt-4o")
        items = []
        for s in range(rng.choice([1, 2, 2, 3, 4, 5])):
            for k in range(min(12, int(rng.paretovariate(1.2) * 1.5))):
                if lang != "en" and rng.random() < 0.6:
                    text, words = pick(rng, chat_lines(rng, c, lang)), lognormal(rng, 70, 0.6, 5, 600)
                else:
                    kind = pick(rng, ["summ", "fin", "health", "trivia", "trivia", "plan"])
                    x = {"summ": lambda: pick(rng, c.news)[:1500], "fin": lambda: pick(rng, c.fiqa),
                         "health": lambda: pick(rng, c.health), "trivia": lambda: pick(rng, c.nq + c.truthful),
                         "plan": lambda: pick(rng, PLACES)}[kind]()
                    text = pick(rng, ASSIST_ASK[kind]).format(x=x)
                    words = lognormal(rng, {"summ": 90, "plan": 260}.get(kind, 150), 0.7, 5, 1500)
                items.append((k == 0, text, words))
        times = walk(rng, t0, [(a, len(b), w) for a, b, w in items])
        msgs = []
        for (new_s, text, words), t in zip(items, times):
            if new_s:
                msgs = []
            msgs.append(user(text))
            reasoning = lognormal(rng, 700, 0.9, 64, 12000) if reasoner else 0
            extra = {"reasoning_effort": "medium"} if reasoner else {}
            out.append(ev(t, fam, key, *body_for(api, "", list(msgs), model, stream=not reasoner, **extra), words,
                          reasoning, lang=lang))
            msgs.append(assistant(words))
    return out


GENERIC_SYS = "You are a helpful assistant. Answer as concisely as possible. Current date: 2026-12-02."


def bring_your_own_key(rng, c, n, t0):
    """Many unrelated people running the same open-source chat front end with their own keys, so every
    request carries the same default system prompt: each person a few messages (heavy-tailed: most 2-6,
    some 30), real questions or chat lines in their language, streamed answers of ~150 words."""
    out, fam = [], "bring_your_own_key"
    for _ in range(n):
        key = new_key(rng, "byok")
        lang = pick(rng, ["en", "en", "en", "pt", "es", "fr", "de", "zh-Hant", "it", "id"])
        m = min(30, 1 + int(rng.paretovariate(1.2) * 1.5))
        items = []
        for k in range(m):
            if lang == "en":
                text = pick(rng, c.questions) if rng.random() < 0.7 else conversation(rng, c, "en")
            else:
                text = conversation(rng, c, lang)
            items.append((k > 0 and rng.random() < 0.25, text, lognormal(rng, 150, 0.8, 5, 1500)))
        times = walk(rng, t0, [(a, len(b), w) for a, b, w in items])
        msgs = []
        for (new_s, text, words), t in zip(items, times):
            if new_s or len(msgs) > 12:
                msgs = []
            msgs.append(user(text))
            out.append(ev(t, fam, key, *body_for(CHAT, GENERIC_SYS, list(msgs), "gpt-4o-mini", stream=True), words,
                          lang=lang))
            msgs.append(assistant(words))
    return out


def occasional(rng, c, n, t0):
    """Occasional users: a handful to a dozen messages over a day, mostly unrelated one-off questions,
    some real small-talk conversations followed line by line, in 17 languages; answers ~40-200 words.
    Paced like a person (reading, thinking and typing; a skimmed answer now and then)."""
    out, fam = [], "occasional"
    for _ in range(n):
        key = new_key(rng, "occ")
        lang = pick(rng, ASSIST_LANGS)
        m = rng.randrange(3, 16)
        texts = []
        while len(texts) < m:
            if rng.random() < 0.5:
                texts += chat_lines(rng, c, lang)[: m - len(texts)]
            else:
                texts.append(pick(rng, c.questions) if lang == "en" else conversation(rng, c, lang))
        items = [(k > 0 and rng.random() < 0.2, x, lognormal(rng, 90, 0.8, 3, 900)) for k, x in enumerate(texts)]
        times = walk(rng, t0, [(a, len(b), w) for a, b, w in items])
        api = MESSAGES if rng.random() < 0.2 else CHAT
        model = "claude-3-5-haiku-latest" if api == MESSAGES else "gpt-4o-mini"
        for (_, text, words), t in zip(items, times):
            out.append(ev(t, fam, key, *body_for(api, "", [user(text)], model), words, lang=lang))
    return out


def reasoning_researchers(rng, c, n, t0):
    """People who use a reasoning model for hard questions (maths, probability, tricky yes/no, money):
    a few questions a day, reasoning tokens of ~1,500 (heavy-tailed up to 20,000), visible answers of
    ~200 words, long waits and long reading."""
    out, fam = [], "reasoning_researchers"
    for _ in range(n):
        key = new_key(rng, "rsn")
        items = []
        for s in range(rng.choice([1, 2, 2, 3])):
            for k in range(rng.randrange(1, 5)):
                text = pick(rng, c.math + c.strategy + c.fiqa + c.truthful)
                items.append((k == 0, text, lognormal(rng, 200, 0.6, 10, 1500)))
        times = walk(rng, t0, [(a, len(b), w) for a, b, w in items])
        api = RESPONSES if rng.random() < 0.5 else CHAT
        for (_, text, words), t in zip(items, times):
            reasoning = lognormal(rng, 1500, 0.9, 100, 20000)
            t += reasoning / rng.uniform(60, 150) * SEC
            if api == RESPONSES:
                path, body = body_for(RESPONSES, "", [user(text)], "o3", reasoning={"effort": "high"})
            else:
                path, body = body_for(CHAT, "", [user(text)], "o3-mini", reasoning_effort="high")
            out.append(ev(t, fam, key, path, body, words, reasoning))
    return out


def translators(rng, c, n, t0):
    """People translating now and then: a few real sentences or chat lines a session, into a language
    of their choice (or from it), answers about as long as the source."""
    out, fam = [], "translators"
    targets = ["French", "Spanish", "German", "Japanese", "Chinese", "Portuguese", "Korean", "Italian", "Turkish"]
    asks = ["Translate to {l}: {x}", "how do you say \"{x}\" in {l}", "{x}\n\ninto {l} please", "{l}? -> {x}"]
    for _ in range(n):
        key = new_key(rng, "tr")
        lang = pick(rng, targets)
        items = []
        for s in range(rng.choice([1, 1, 2, 3])):
            for k in range(rng.randrange(1, 7)):
                if rng.random() < 0.8:
                    x = pick(rng, c.sentences)
                    text = pick(rng, asks).format(l=lang, x=x)
                else:
                    src = pick(rng, ["pt", "fr", "es", "de", "it", "id"])
                    x = conversation(rng, c, src)
                    text = f"what does this mean: {x}"
                items.append((k == 0, text, lognormal(rng, max(3, len(x.split()) * 1.3), 0.3, 2, 400)))
        times = walk(rng, t0, [(a, len(b), w) for a, b, w in items])
        for (_, text, words), t in zip(items, times):
            out.append(ev(t, fam, key, *body_for(CHAT, "", [user(text)], "gpt-4o-mini"), words))
    return out


# ---- developers -----------------------------------------------------------------------------------

CODE_ASK = ["Implement this:\n```python\n{x}\n```", "{x}\n\nwrite the body of this function",
            "Can you write pytest tests for this function?\n\n{x}", "what's the time complexity of the obvious solution to\n{x}",
            "```\n{x}\n```\nmy version fails on an empty list, why?", "refactor this to be more readable:\n{x}"]
CODE_FOLLOW = ["it throws IndexError on line 3", "can you add type hints", "now make it faster", "thanks, works",
               "explain the second loop", "what about negative numbers?", "write it without recursion"]


def developers_chat(rng, c, n, t0):
    """Developers asking a coding assistant in their editor's chat panel: working-hours sessions of 3-20
    messages with real function stubs (HumanEval), error reports and follow-ups, a growing history,
    answers of ~200 words with code; some via Anthropic's API."""
    out, fam = [], "developers_chat"
    for _ in range(n):
        key = new_key(rng, "dev")
        api = MESSAGES if rng.random() < 0.4 else CHAT
        model = "claude-sonnet-4-5" if api == MESSAGES else "gpt-4.1"
        sys_text = "You are a coding assistant in VS Code. The user's open file is Python 3.12."
        items = []
        for s in range(rng.choice([1, 2, 3])):
            for k in range(rng.randrange(3, 21)):
                text = pick(rng, CODE_ASK).format(x=pick(rng, c.code)) if k == 0 or rng.random() < 0.25 else pick(rng, CODE_FOLLOW)
                items.append((k == 0, text, lognormal(rng, 210, 0.7, 10, 2500)))
        times = walk(rng, t0, [(a, len(b), w) for a, b, w in items], first=t0 + rng.uniform(8, 15) * HOUR)
        msgs = []
        for (new_s, text, words), t in zip(items, times):
            if new_s:
                msgs = []
            msgs.append(user(text))
            out.append(ev(t, fam, key, *body_for(api, sys_text, list(msgs), model, stream=True), words))
            msgs.append(assistant(words))
    return out


def inline_completion(rng, c, n, t0):
    """An editor's inline code completion on a developer's key: while the person types, a completion
    request (legacy completions API with a code prefix and suffix, max 64 tokens) every few seconds,
    in bursts of typing separated by reading and meetings; answers of 5-60 tokens."""
    out, fam = [], "inline_completion"
    for _ in range(n):
        key = new_key(rng, "ide")
        t = t0 + rng.uniform(8, 11) * HOUR
        end = t + rng.uniform(4, 9) * HOUR
        while t < end:
            code = pick(rng, c.code)
            cut = rng.randrange(20, max(21, len(code)))
            for _ in range(int(rng.paretovariate(1.2) * 4)):
                body = {"model": "gpt-3.5-turbo-instruct", "prompt": code[:cut], "suffix": code[cut:cut + 200],
                        "max_tokens": 64, "temperature": 0.1, "stop": ["\n\n"]}
                out.append(ev(t, fam, key, COMPLETIONS, body, lognormal(rng, 18, 0.8, 1, 64)))
                cut = min(len(code), cut + rng.randrange(5, 60))
                t += rng.lognormvariate(math.log(3.5 * SEC), 0.8)
            t += rng.lognormvariate(math.log(4 * MIN), 1.2)
            if rng.random() < 0.05:
                t += rng.uniform(30, 90) * MIN  # a meeting, lunch
    return out


TOOLS_OAI = [
    {"type": "function", "function": {"name": "web_search", "description": "Search the web",
                                      "parameters": {"type": "object", "properties": {"q": {"type": "string"}},
                                                     "required": ["q"]}}},
    {"type": "function", "function": {"name": "read_url", "description": "Fetch a page as text",
                                      "parameters": {"type": "object", "properties": {"url": {"type": "string"}},
                                                     "required": ["url"]}}},
    {"type": "function", "function": {"name": "create_ticket", "description": "Open a ticket in the tracker",
                                      "parameters": {"type": "object",
                                                     "properties": {"title": {"type": "string"},
                                                                    "body": {"type": "string"}},
                                                     "required": ["title"]}}},
]
TOOLS_ANT = [{"name": t["function"]["name"], "description": t["function"]["description"],
              "input_schema": t["function"]["parameters"]} for t in TOOLS_OAI]
AGENT_SYS = "You are an operations agent. Use the tools to research the task, then write a short report."


def agents(rng, c, n, t0):
    """Tool-using agents: each task (a real question) runs a loop of 2-9 model calls with tool calls and
    tool results in a growing context, a few seconds apart (tools and the model take time), then a final
    report; tasks arrive at random from people, or from a scheduler at a fixed interval (a third of the
    agents: a cron job, exactly every 10-30 minutes). Half on OpenAI tool calling, half on Anthropic's."""
    out, fam = [], "agents"
    for i in range(n):
        key = new_key(rng, "agent")
        anthropic = i % 2 == 1
        cron = rng.random() < 1 / 3
        every = rng.choice([10, 15, 20, 30]) * MIN
        t = t0 + rng.uniform(0, 2) * HOUR if cron else day_start(rng, t0, 7, 12)
        end = t0 + HORIZON if cron else t + rng.uniform(3, 10) * HOUR
        task_no = 0
        while t < end and task_no < 150:
            task_no += 1
            task = pick(rng, c.nq + c.fiqa + c.health)
            msgs = [user(f"Task: {task}")]
            s = t
            for step in range(rng.randrange(2, 10)):
                final = step > 0 and rng.random() < 0.25
                words = lognormal(rng, 180, 0.5, 30, 900) if final else lognormal(rng, 28, 0.4, 8, 120)
                if anthropic:
                    body = {"model": "claude-sonnet-4-5", "max_tokens": 2048, "system": AGENT_SYS, "tools": TOOLS_ANT,
                            "messages": list(msgs)}
                    out.append(ev(s, fam, key, MESSAGES, body, words))
                    uid = f"toolu_{rng.getrandbits(40):010x}"
                    msgs.append({"role": "assistant", "content": [
                        {"type": "tool_use", "id": uid, "name": "web_search", "input": {"q": task[:80]}}]})
                    msgs.append({"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": uid, "content": pick(rng, c.boolq)["passage"][:900]}]})
                else:
                    body = {"model": "gpt-4.1", "messages": [system(AGENT_SYS)] + msgs, "tools": TOOLS_OAI,
                            "tool_choice": "auto", "parallel_tool_calls": False}
                    out.append(ev(s, fam, key, CHAT, body, words))
                    cid = f"call_{rng.getrandbits(40):010x}"
                    msgs.append({"role": "assistant", "content": None, "tool_calls": [
                        {"id": cid, "type": "function",
                         "function": {"name": "read_url", "arguments": '{"url": "https://example.org/%d"}' % step}}]})
                    msgs.append({"role": "tool", "tool_call_id": cid, "content": pick(rng, c.news)[:900]})
                if final:
                    break
                s += latency(rng, words) + rng.lognormvariate(math.log(1.5 * SEC), 0.9)
            t = (t + every) if cron else (t + rng.lognormvariate(math.log(25 * MIN), 1.1))
    return out


# ---- pipelines --------------------------------------------------------------------------------------

LOCALE = ["de-DE", "fr-FR", "ja-JP", "es-419", "pt-BR", "zh-CN", "ko-KR"]


def localisation_pipeline(rng, c, n, t0):
    """A localisation pipeline (one key per product team): a nightly job translates the new UI and help
    strings (real short sentences) into 3-7 locales, a few requests a second, answers as long as the
    source; plus a few manual re-runs during the day."""
    out, fam = [], "localisation_pipeline"
    for _ in range(n):
        key = new_key(rng, "l10n")
        locales = rng.sample(LOCALE, rng.randrange(3, 8))
        for run_at in [t0 + rng.uniform(1, 3) * HOUR] + [t0 + rng.uniform(9, 18) * HOUR for _ in range(rng.randrange(0, 3))]:
            t = run_at
            strings = [pick(rng, c.sentences) for _ in range(rng.randrange(20, 90))]
            for loc in locales:
                for s in strings:
                    body = {"model": "gpt-4o-mini", "temperature": 0, "messages": [
                        system(f"Translate the user's UI string into {loc}. Keep placeholders like {{name}} "
                               "unchanged. Output only the translation."), user(s)]}
                    out.append(ev(t, fam, key, CHAT, body, lognormal(rng, len(s.split()) * 1.3 + 1, 0.25, 1, 300)))
                    t += rng.uniform(0.15, 0.9) * SEC
    return out


def review_moderation(rng, c, n, t0):
    """Batch classification of user reviews (IMDB text) into labels, one-word answers, a few a second;
    one in three of these jobs asks for the logprobs of the label token to calibrate a threshold."""
    out, fam = [], "review_moderation"
    for i in range(n):
        key = new_key(rng, "mod")
        calibrate = i % 3 == 0
        t = t0 + rng.uniform(0, 20) * HOUR
        for k in range(rng.randrange(300, 700)):
            extra = {"logprobs": True, "top_logprobs": 3} if calibrate else {}
            body = {"model": "gpt-4o-mini", "temperature": 0, "max_tokens": 3, "messages": [
                system("Classify the review as POSITIVE, NEGATIVE or MIXED. Reply with the label only."),
                user(pick(rng, c.reviews))], **extra}
            out.append(ev(t, fam, key, CHAT, body, rng.randint(1, 2)))
            t += rng.lognormvariate(math.log(0.4 * SEC), 0.5)
            if k % 100 == 99:
                t += rng.uniform(1, 10) * MIN  # next batch from the queue
    return out


def news_digest(rng, c, n, t0):
    """A news-digest job (one key per publisher): every morning and evening it summarises the new
    articles (real BBC articles) in two or three sentences, a request every second or two."""
    out, fam = [], "news_digest"
    for _ in range(n):
        key = new_key(rng, "digest")
        for hour in (6, 18):
            t = t0 + (hour + rng.uniform(0, 0.5)) * HOUR
            for _ in range(rng.randrange(60, 200)):
                body = {"model": "claude-3-5-haiku-latest", "max_tokens": 300,
                        "system": "Summarise the article in 2-3 sentences for a newsletter. No preamble.",
                        "messages": [user(pick(rng, c.news))]}
                out.append(ev(t, fam, key, MESSAGES, body, lognormal(rng, 60, 0.25, 20, 200)))
                t += rng.uniform(0.8, 2.5) * SEC
    return out


def clinical_extraction(rng, c, n, t0):
    """A structured-data extraction pipeline (one key per clinic group): each doctor-patient transcript
    (real MTS-Dialog text) or news article becomes a JSON record with fixed fields (JSON mode), queued
    through the day, answers of ~60 tokens."""
    out, fam = [], "clinical_extraction"
    for i in range(n):
        key = new_key(rng, "extract")
        clinic = i % 2 == 0
        for start in arrivals(rng, t0, rng.uniform(20, 45), peak=12.0, width=4.0, night=0.01):
            if clinic:
                sys_text = ("Extract from the visit transcript a JSON object with keys chief_complaint, duration, "
                            "medications (list), allergies (list), plan. Use null when absent.")
                text = pick(rng, c.dialogues)
            else:
                sys_text = ("Return a JSON object with keys people (list), organisations (list), places (list), "
                            "date_mentioned, topic for the article.")
                text = pick(rng, c.news)
            body = {"model": "gpt-4o-mini", "temperature": 0, "response_format": {"type": "json_object"},
                    "messages": [system(sys_text), user(text)]}
            out.append(ev(start, fam, key, CHAT, body, lognormal(rng, 60, 0.35, 15, 300)))
    return out


def one_off_eval(rng, c, n, t0):
    """Someone runs a benchmark once on a new key: a few hundred items from one public set (yes/no
    reasoning, TruthfulQA, MMLU with the standard "Let's think step by step" prompt, Game of 24) in one
    burst with a small thread pool, then the key goes quiet."""
    out, fam = [], "one_off_eval"
    for i in range(n):
        key = new_key(rng, "bench")
        which = i % 4
        t = t0 + rng.uniform(9, 20) * HOUR
        if which == 0:
            items = [(f"Q: {q}\nA (yes or no):", 1) for q in rng.sample(c.strategy, 400)]
        elif which == 1:
            items = [(q, 60) for q in rng.sample(c.truthful, 300)]
        elif which == 2:
            items = [(f"{r['text']}\nAnswer: Let's think step by step.", 160) for r in c.mmlu] * 2
        else:
            items = [(q, 220) for q in rng.sample(c.game24, 250)]
        workers = [t + rng.uniform(0, 2) * SEC for _ in range(rng.choice([4, 8, 16]))]
        for text, med in items:
            w = min(range(len(workers)), key=lambda j: workers[j])
            words = lognormal(rng, med, 0.4, 1, 1500) if med > 1 else 1
            body = {"model": "gpt-4o-2024-08-06", "temperature": 0, "messages": [user(text)]}
            if med == 1:
                body["max_tokens"] = 2
            out.append(ev(workers[w], fam, key, CHAT, body, words))
            workers[w] += latency(rng, words) + rng.uniform(0.01, 0.2) * SEC
    return out


def model_comparison(rng, c, n, t0):
    """An internal evaluation harness that compares models before a release: each test question (real
    TruthfulQA questions) goes to three candidate models, then a judge model is asked which of two answers
    is better (LLM-as-judge; the answers are real reference answers of the set), over one afternoon;
    candidate answers ~150 words, judge answers ~40."""
    out, fam = [], "model_comparison"
    items = [r for r in rows(common.PROMPTS, "truthfulqa.jsonl") if len(r.get("answers") or []) >= 2]
    for _ in range(n):
        key = new_key(rng, "cmp")
        t = t0 + rng.uniform(12, 16) * HOUR
        for r in rng.sample(items, min(len(items), rng.randrange(120, 250))):
            q = r["text"]
            for m in ("gpt-4o", "gpt-4.1-mini", "gpt-4o-mini"):
                words = lognormal(rng, 150, 0.6, 5, 1200)
                out.append(ev(t, fam, key, CHAT, {"model": m, "messages": [user(q)]}, words))
                t += latency(rng, words) + rng.uniform(0.05, 0.3) * SEC
            a, b = rng.sample(r["answers"], 2)
            judge = (f"User question:\n{q}\n\nAnswer A:\n{a}\n\nAnswer B:\n{b}\n\n"
                     "Which answer is better for the user? Reply with A, B or TIE and one sentence why.")
            words = lognormal(rng, 40, 0.4, 3, 200)
            out.append(ev(t, fam, key, CHAT, {"model": "gpt-4o", "temperature": 0, "messages": [user(judge)]}, words))
            t += latency(rng, words) + rng.uniform(0.05, 0.3) * SEC
    return out
