"""Third blind benign set (split `fresh3`), written blind on 2026-12-02 by someone who had read neither the
detector (src/), DETECTION.md, tools/intent/, any evaluation result (tests/data/detect-eval/) nor the bodies of
the other generators (attacks.py, benign.py, fresh_*.py, fresh2_*.py: only their docstrings and signatures).
Each builder is `(rng, corpus, n, t0) -> [Event]`, `n` the number of credentials at scale 1.

The population leans on the legitimate uses a harvest detector is most likely to confuse with harvesting:
products with one key and thousands of strangers (including a multi-tenant SaaS whose tenants each bring their
own system prompt), a tutoring product whose system prompt asks for every step, bounded jobs that legitimately
ask for logprobs or logit_bias (a moderation classifier, a search reranker, a constrained-choice add-on),
evaluation harnesses with chain-of-thought few-shot prompts, an LLM-as-judge stage in a product's QA pipeline,
a team generating a small set of test fixtures for its own app, and a translation-memory pipeline. Around them:
students, assistants, agents with tool calls (OpenAI and Anthropic shapes), RAG, coding, summarisation, people
on reasoning models, users of one open-source chat UI's default prompt, and occasional users.

Prompt text is real human text from the harness corpora (tests/data/human: NQ-open, FiQA, BoolQ, QuAC, XSum,
Tatoeba-style sentences, IMDB, MTS-Dialog, chatterbot in 17 languages; tests/data/prompts: HealthSearchQA and
friends, TruthfulQA, StrategyQA, ASDiv and evals math, Game of 24, HumanEval, MMLU dev CoT, chatterbot zh,
evals zh; licenses in those folders' READMEs). Only the glue (personas, instructions, follow-ups) is written
here. Answer lengths are per workload (mock upstream `x-mock-reply-words`, plus `x-mock-reasoning-tokens` for
reasoning models); pacing is model latency, reading and typing, log-normal thinking, Pareto breaks between
sessions, a diurnal product load, office-hours batch jobs.
"""
from common import HOUR, MIN, SEC, T0, day_start, product_arrivals, session_gap, think_gap
from fresh3_common import answer_text, body_for, event, latency, ln, make_key, pick

B = "benign"
LANGS = ("en", "pt", "fr", "it", "es", "id", "sv", "de", "ru", "hi", "he", "bn", "zh-Hant", "zh")


def chat_pool(c, lang):
    return c.chat_by_lang.get(lang) or c.chat_by_lang["en"]


def user_lang(rng, weights_en=0.55):
    if rng.random() < weights_en:
        return "en"
    return pick(rng, LANGS[1:])


def everyday_question(rng, c, lang="en"):
    if lang != "en":
        return pick(rng, chat_pool(c, lang))
    r = rng.random()
    if r < 0.3:
        return pick(rng, c.nq)
    if r < 0.5:
        return pick(rng, c.health)
    if r < 0.62:
        return pick(rng, c.fiqa)
    if r < 0.74:
        return pick(rng, c.truthful)
    return pick(rng, chat_pool(c, "en"))


def casualise(rng, text):
    """How people actually type a question into a box: sometimes lower case, no question mark, a greeting."""
    r = rng.random()
    if r < 0.2:
        text = text[:1].lower() + text[1:]
    elif r < 0.3:
        text = text.rstrip("?") + "??"
    elif r < 0.38:
        text = pick(rng, ("hi, ", "hey ", "quick question: ", "ok so ", "hello! ")) + text
    return text


FOLLOW_UPS = ("thanks! can you say that more simply?", "why?", "and what about for kids?", "is that always true?",
              "can you give me an example", "shorter please", "ok. what should I do next?", "are you sure?",
              "what's the source for that", "got it, and the second point?", "hmm that's not what I meant",
              "can you put it in a table", "what would you recommend", "ok thanks")


def converse(rng, fam, key, t, api, model, sys_text, first, follow, turns, words_med, lang="en",
             max_tokens=None, extra=None, words_sigma=0.6, reasoning_med=0, stop_at=None):
    """One conversation of `turns` user messages with the history resent each time; returns (events, t)."""
    out, hist = [], []
    for i in range(turns):
        text = first if i == 0 else follow()
        hist.append(("user", text))
        w = ln(rng, words_med, words_sigma, 3, 3000)
        rs = ln(rng, reasoning_med, 0.8, 50, 30000) if reasoning_med else 0
        b = body_for(api, model, sys_text, list(hist), max_tokens, **(extra or {}))
        out.append(event(t, fam, B, key, api, b, w, rs, lang))
        hist.append(("assistant", answer_text(w)))
        t += latency(rng, w, rs) + think_gap(rng, w, len(text))
        if stop_at and t > stop_at:
            break
    return out, t


def people(rng, c, n, t0, fam, make_session, sessions=(1, 4), start=(7, 22), vendor="openai"):
    """n people, each with their own key and a day of sessions built by make_session(rng, key, t) -> (events, t)."""
    out = []
    for i in range(n):
        key = make_key(rng, fam, i, vendor)
        t = day_start(rng, t0, *start)
        for _ in range(rng.randint(*sessions)):
            evs, t = make_session(rng, key, t)
            out.extend(evs)
            t += session_gap(rng)
            if t > t0 + 34 * HOUR:
                break
    return out


def product(rng, t0, n, fam, per_hour, serve, vendor="openai"):
    """n product keys, each serving many independent end users arriving with a diurnal Poisson rate;
    serve(rng, key, t) -> events of one end user's visit (one or a few turns)."""
    out = []
    for i in range(n):
        key = make_key(rng, fam, i, vendor)
        for t in product_arrivals(rng, t0, per_hour * rng.uniform(0.7, 1.3)):
            out.extend(serve(rng, key, t))
    return out


# ---- consumer products on one key ---------------------------------------------------------------------------

def kitchen_helper(rng, c, n, t0):
    """Consumer Q&A product (a cooking and home app's "ask" box): one key per deployment, a fixed persona,
    everyday questions from many end users (NQ-open, TruthfulQA, health, chatterbot en), mostly one turn,
    answers of a few hundred tokens, streamed, steady diurnal volume."""
    fam = "kitchen_helper"
    sys_text = ("You are Pip, the friendly assistant inside the HomeBasics app. Answer the user's question "
                "clearly and warmly. If it is about food safety or health, add a short caution. Keep answers "
                "under 250 words unless asked for more.")

    def serve(rng, key, t):
        q = casualise(rng, everyday_question(rng, c))
        turns = 1 if rng.random() < 0.82 else rng.randint(2, 3)
        evs, _ = converse(rng, fam, key, t, "chat", "gpt-4o-mini", sys_text, q, lambda: pick(rng, FOLLOW_UPS),
                          turns, 170, extra={"stream": True, "stream_options": {"include_usage": True},
                                             "temperature": 0.7, "user": "u%06d" % rng.randrange(10**6)})
        return evs
    return product(rng, t0, n, fam, 28, serve)


def money_faq_bot(rng, c, n, t0):
    """Consumer Q&A product of a personal-finance site on the Anthropic messages API: a persona system prompt,
    real personal-finance forum questions (FiQA) from its visitors, one or two turns, long careful answers."""
    fam = "money_faq_bot"
    sys_text = ("You are the help assistant of Ledgerly, a budgeting website. You explain personal-finance topics "
                "in plain language for a general audience. You never give individual investment advice; suggest "
                "a licensed adviser when the question needs one.")

    def serve(rng, key, t):
        q = pick(rng, c.fiqa)
        turns = 1 if rng.random() < 0.75 else 2
        evs, _ = converse(rng, fam, key, t, "messages", "claude-3-5-sonnet-latest", sys_text, q,
                          lambda: pick(rng, FOLLOW_UPS), turns, 230, max_tokens=1024)
        return evs
    return product(rng, t0, n, fam, 16, serve, vendor="anthropic")


TENANT_KINDS = (
    ("a dental clinic", "Answer patients' questions about appointments and general dental care. Do not diagnose."),
    ("a bike rental shop", "Help customers with rentals, routes and bike care."),
    ("a public library", "Help members find books, opening hours and services; answer general questions."),
    ("an online shoe store", "Help shoppers with sizes, returns and orders."),
    ("a city tourism office", "Suggest things to do and answer visitors' questions."),
    ("a language school", "Answer questions about courses and help learners with quick language questions."),
    ("a pharmacy chain", "Answer general questions about medicines and store services; refer to a pharmacist."),
    ("a university IT desk", "Help students with accounts, wifi, printing and general questions."),
    ("a hotel", "Answer guests' questions about the stay and the neighbourhood."),
    ("a home insurance company", "Explain policies and claims in plain words."),
)


def saas_widgets(rng, c, n, t0):
    """Multi-tenant SaaS on one key: a chat-widget vendor whose ~30 business customers per key each configure
    their own system prompt (name, business, language); the end users of every tenant ask everyday questions
    in that tenant's language. One key per region; one of them uses the Responses API."""
    fam = "saas_widgets"
    out = []
    for i in range(n):
        key = make_key(rng, fam, i)
        api = "responses" if i % 3 == 2 else "chat"
        tenants = []
        for j in range(30):
            what, rule = pick(rng, TENANT_KINDS)
            lang = user_lang(rng, 0.5)
            tenants.append((f"You are the assistant of {what} (tenant {j:03d}, widget v{rng.randint(2, 5)}). {rule} "
                            f"Reply in the user's language. Be concise.", lang, rng.paretovariate(1.2)))
        total = sum(w for _, _, w in tenants)
        for t in product_arrivals(rng, t0, 45 * rng.uniform(0.7, 1.3)):
            x, k = rng.uniform(0, total), 0
            while x > tenants[k][2] and k < len(tenants) - 1:
                x -= tenants[k][2]
                k += 1
            sys_text, lang, _ = tenants[k]
            q = everyday_question(rng, c, lang)
            turns = 1 if rng.random() < 0.7 else rng.randint(2, 4)
            evs, _ = converse(rng, fam, key, t, api, "gpt-4o-mini", sys_text, q, lambda: pick(rng, chat_pool(c, lang)),
                              turns, 90, lang=lang)
            out.extend(evs)
    return out


# ---- students and tutoring ------------------------------------------------------------------------------------

STUDENT_ASKS = ("{p}", "can you explain step by step how to do this? {p}", "I don't get this one: {p}",
                "{p}\nplease show the working, my teacher wants the steps", "help with hw: {p}",
                "how do I even start this\n\n{p}", "{p} (I got a different answer, can you walk me through it)")
STUDENT_FOLLOW = ("why did you divide there?", "wait how did you get that number", "can you check my answer? I got 14",
                  "ok and if it was double?", "I still don't understand step 2", "thanks!! next one:",
                  "is there a faster way", "can you explain it like I'm 12")


def homework_students(rng, c, n, t0):
    """Students doing homework in the afternoon and evening: a real word problem (ASDiv, evals math, StrategyQA)
    in their own words, often asking for the steps, then follow-ups; long answers; a few sessions a day."""
    fam = "homework_students"

    def session(rng, key, t):
        p = pick(rng, c.math) if rng.random() < 0.8 else pick(rng, c.strategy)
        first = pick(rng, STUDENT_ASKS).format(p=p)
        follow = lambda: pick(rng, STUDENT_FOLLOW) + ("\n" + pick(rng, c.math) if rng.random() < 0.3 else "")
        return converse(rng, fam, key, t, "chat", "gpt-4o-mini", None, first, follow, rng.randint(1, 7), 240)
    return people(rng, c, n, t0, fam, session, sessions=(1, 3), start=(14, 22))


def tutor_product(rng, c, n, t0):
    """Tutoring product on one key per school district: its system prompt tells the model to show every step
    and check understanding; pupils ask math, exam (MMLU) and reasoning questions after school, often with a
    follow-up; long step-by-step answers."""
    fam = "tutor_product"
    sys_text = ("You are Sparky, a patient tutor for pupils aged 11-16. Always explain your reasoning step by step, "
                "number the steps, and end by asking the pupil a short question to check they understood. Never "
                "just give the final answer.")

    def serve(rng, key, t):
        r = rng.random()
        if r < 0.6:
            q = pick(rng, c.math)
        elif r < 0.8:
            q = pick(rng, c.mmlu)["text"]
        else:
            q = pick(rng, c.strategy)
        if rng.random() < 0.4:
            q = pick(rng, ("my homework says: ", "help? ", "", "how do you do ")) + q
        evs, _ = converse(rng, fam, key, t, "chat", "gpt-4o", sys_text, q, lambda: pick(rng, STUDENT_FOLLOW),
                          1 if rng.random() < 0.55 else rng.randint(2, 5), 300)
        return evs
    out = []
    for i in range(n):
        key = make_key(rng, fam, i)
        for t in product_arrivals(rng, t0, 20 * rng.uniform(0.7, 1.3)):
            hour = ((t - T0) / HOUR) % 24
            if 8 <= hour < 14 and rng.random() < 0.6:  # school hours are quieter than after school
                continue
            out.extend(serve(rng, key, t))
    return out


# ---- assistants, agents ------------------------------------------------------------------------------------

def life_assistant(rng, c, n, t0):
    """People using a general assistant through their own key (chat completions or Responses API) in their own
    language: questions, health and money worries, small talk, with follow-ups; a few sessions a day."""
    fam = "life_assistant"
    out = []
    for i in range(n):
        key = make_key(rng, fam, i)
        lang = user_lang(rng, 0.5)
        api = "responses" if rng.random() < 0.35 else "chat"
        sys_text = None if rng.random() < 0.6 else "You are a helpful assistant. Answer briefly unless asked."
        t = day_start(rng, t0)
        for _ in range(rng.randint(1, 4)):
            first = casualise(rng, everyday_question(rng, c, lang))
            evs, t = converse(rng, fam, key, t, api, "gpt-4o", sys_text, first,
                              lambda: (pick(rng, FOLLOW_UPS) if lang == "en" else pick(rng, chat_pool(c, lang))),
                              rng.randint(1, 5), 110, lang=lang)
            out.extend(evs)
            t += session_gap(rng)
    return out


TOOLS = [{"type": "function", "function": {"name": "web_search", "description": "Search the web",
                                           "parameters": {"type": "object", "properties": {"q": {"type": "string"}},
                                                          "required": ["q"]}}},
         {"type": "function", "function": {"name": "read_url", "description": "Fetch a page as text",
                                           "parameters": {"type": "object", "properties": {"url": {"type": "string"}},
                                                          "required": ["url"]}}},
         {"type": "function", "function": {"name": "calendar_add", "description": "Add an event",
                                           "parameters": {"type": "object",
                                                          "properties": {"title": {"type": "string"},
                                                                         "when": {"type": "string"}}}}}]


def research_agents(rng, c, n, t0):
    """Agents with tool calls (OpenAI chat shape): each agent takes a task (a real question), loops on
    web_search / read_url within seconds, feeds the tool results (real passages) back, then answers; a few
    to a dozen tasks a day."""
    fam = "research_agents"
    out = []
    for i in range(n):
        key = make_key(rng, fam, i)
        t = day_start(rng, t0, 6, 20)
        for _ in range(rng.randint(2, 10)):
            goal = pick(rng, c.nq + c.fiqa)
            msgs = [{"role": "system", "content": "You are a research agent. Use tools, cite sources, be brief."},
                    {"role": "user", "content": goal}]
            steps = rng.randint(1, 6)
            for s in range(steps + 1):
                final = s == steps
                w = ln(rng, 160, 0.5) if final else ln(rng, 25, 0.4, 8, 80)
                out.append(event(t, fam, B, key, "chat", {"model": "gpt-4o", "messages": list(msgs), "tools": TOOLS,
                                                          "tool_choice": "auto", "parallel_tool_calls": False}, w))
                t += latency(rng, w)
                if final:
                    break
                cid = "call_%012x" % rng.getrandbits(48)
                name = pick(rng, ("web_search", "read_url"))
                msgs.append({"role": "assistant", "content": None, "tool_calls": [
                    {"id": cid, "type": "function", "function": {"name": name, "arguments": '{"q": "%s"}' % goal[:60].replace('"', "")}}]})
                passage = pick(rng, c.boolq)["passage"] if rng.random() < 0.6 else pick(rng, c.news)[:1500]
                msgs.append({"role": "tool", "tool_call_id": cid, "content": passage})
                t += rng.uniform(0.4, 9) * SEC
            t += session_gap(rng) * rng.uniform(0.2, 1.0)
    return out


def claude_ops_agents(rng, c, n, t0):
    """Agents on the Anthropic messages API with tool_use / tool_result blocks: a support-operations agent that
    looks up an order, reads a policy page and drafts a reply for a real customer message (FiQA, chatterbot)."""
    fam = "claude_ops_agents"
    tools = [{"name": "lookup_order", "description": "Find an order by id or email",
              "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}},
             {"name": "search_policy", "description": "Search the policy wiki",
              "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}]
    out = []
    for i in range(n):
        key = make_key(rng, fam, i, "anthropic")
        t = day_start(rng, t0, 8, 12)
        for _ in range(rng.randint(3, 14)):
            msg = pick(rng, c.fiqa) if rng.random() < 0.5 else pick(rng, chat_pool(c, "en"))
            msgs = [{"role": "user", "content": "Customer message:\n" + msg + "\n\nDraft a reply."}]
            steps = rng.randint(1, 4)
            for s in range(steps + 1):
                final = s == steps
                w = ln(rng, 140, 0.5) if final else ln(rng, 30, 0.4, 8, 90)
                out.append(event(t, fam, B, key, "messages", {
                    "model": "claude-3-5-sonnet-latest", "max_tokens": 1024, "tools": tools,
                    "system": "You are an operations agent for an online shop. Be accurate; use tools.",
                    "messages": [dict(m) for m in msgs]}, w))
                t += latency(rng, w)
                if final:
                    break
                tid = "toolu_%016x" % rng.getrandbits(64)
                name = pick(rng, ("lookup_order", "search_policy"))
                msgs.append({"role": "assistant", "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": tid, "name": name, "input": {"q": msg[:40]}}]})
                msgs.append({"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": tid, "content": pick(rng, c.boolq)["passage"][:900]}]})
                t += rng.uniform(0.3, 4) * SEC
            t += rng.lognormvariate(2.5, 1.0) * MIN
            if t > t0 + 20 * HOUR:
                break
    return out


# ---- RAG ------------------------------------------------------------------------------------------------------

def rag_helpdesk(rng, c, n, t0):
    """RAG products (an intranet help desk, a docs search): every request carries 2-4 retrieved passages
    (BoolQ, QuAC) and the end user's question; answers are short and grounded; steady product volume."""
    fam = "rag_helpdesk"
    sys_text = ("Answer the question using only the context. If the context does not contain the answer, say you "
                "don't know. Cite passages as [1], [2].")

    def serve(rng, key, t):
        if rng.random() < 0.5:
            row = pick(rng, c.boolq)
            q, ctx = row["text"], [row["passage"]] + [pick(rng, c.boolq)["passage"] for _ in range(rng.randint(1, 3))]
        else:
            row = pick(rng, c.quac)
            q, ctx = pick(rng, row["questions"]), [row["text"][:1200]] + [pick(rng, c.boolq)["passage"]]
        rng.shuffle(ctx)
        prompt = "\n\n".join(f"[{k + 1}] {p}" for k, p in enumerate(ctx)) + f"\n\nQuestion: {q}"
        w = ln(rng, 80, 0.5)
        return [event(t, fam, B, key, "chat", body_for("chat", "gpt-4o-mini", sys_text, [("user", prompt)],
                                                       temperature=0), w)]
    return product(rng, t0, n, fam, 14, serve)


# ---- coding ---------------------------------------------------------------------------------------------------

DEV_ASKS = ("implement this:\n{p}", "{p}\n\nwhy does my version fail the doctest?", "can you write tests for\n{p}",
            "{p}\nrefactor to be faster", "what's the complexity of the obvious solution to this?\n{p}",
            "```python\n{p}\n    pass\n```\nfill this in")


def dev_chat(rng, c, n, t0):
    """Developers chatting about code: a real HumanEval stub pasted with a request, follow-ups with error
    messages; long code answers; working hours in several time zones."""
    fam = "dev_chat"

    def session(rng, key, t):
        first = pick(rng, DEV_ASKS).format(p=pick(rng, c.code))
        follow = lambda: pick(rng, ("that throws IndexError on empty input", "use a generator instead", "thanks",
                                     "can you add type hints", "now in rust", "explain line 3"))
        return converse(rng, fam, key, t, "chat", "gpt-4o", None, first, follow, rng.randint(1, 6), 260)
    return people(rng, c, n, t0, fam, session, sessions=(1, 4), start=(6, 18))


def pr_review_bot(rng, c, n, t0):
    """Code-review bots in CI (one key per company): on each pull request, one request per changed file (a real
    HumanEval function as the diff), temperature 0, short review comments; pull requests arrive in working
    hours."""
    fam = "pr_review_bot"
    sys_text = "You review pull requests. Point out bugs and risky changes in at most 5 bullets. Say LGTM if none."
    out = []
    for i in range(n):
        key = make_key(rng, fam, i)
        t = t0 + rng.uniform(7, 10) * HOUR
        end = t0 + rng.uniform(17, 20) * HOUR
        while t < end:
            for f in range(rng.randint(1, 6)):
                diff = "diff --git a/src/util_%d.py b/src/util_%d.py\n+" % (f, f) + pick(rng, c.code).replace("\n", "\n+")
                w = ln(rng, 70, 0.6)
                out.append(event(t, fam, B, key, "chat", body_for("chat", "gpt-4o-mini", sys_text, [("user", diff)],
                                                                  temperature=0), w))
                t += latency(rng, w) + rng.uniform(0.1, 2) * SEC
            t += rng.expovariate(4 / HOUR)
    return out


# ---- translation ---------------------------------------------------------------------------------------------

TARGETS = ("German", "French", "Spanish", "Japanese", "Brazilian Portuguese", "Italian", "Dutch", "Polish")


def tm_pipeline(rng, c, n, t0):
    """Translation-memory pipeline of a localisation team: a few batches a day, each 20-120 segments (real
    sentences) sent back to back, with the glossary and the closest translation-memory match in the prompt;
    answers about as long as the segment."""
    fam = "tm_pipeline"
    out = []
    for i in range(n):
        key = make_key(rng, fam, i)
        t = t0 + rng.uniform(7, 11) * HOUR
        for _ in range(rng.randint(2, 5)):
            target = pick(rng, TARGETS)
            sys_text = (f"Translate the segment into {target}. Keep placeholders like {{0}} and glossary terms "
                        f"unchanged. Output only the translation.")
            for _ in range(rng.randint(20, 120)):
                seg = pick(rng, c.sentences)
                fuzzy = pick(rng, c.sentences)
                prompt = f"Glossary: HomeBasics=HomeBasics; cart={pick(rng, ('Warenkorb', 'panier', 'carrito', 'carrello'))}\n" \
                         f"TM match (71%): {fuzzy}\nSegment: {seg}"
                w = max(2, int(len(seg.split()) * rng.uniform(0.9, 1.5)))
                out.append(event(t, fam, B, key, "chat", body_for("chat", "gpt-4o-mini", sys_text, [("user", prompt)],
                                                                  temperature=0), w))
                t += latency(rng, w) + rng.uniform(0.05, 1.5) * SEC
            t += rng.uniform(1, 5) * HOUR
    return out


def travellers(rng, c, n, t0):
    """People translating a phrase now and then while travelling or writing to someone: a real sentence and
    "how do I say this in ...", sometimes a follow-up; short answers."""
    fam = "travellers"

    def session(rng, key, t):
        target = pick(rng, TARGETS)
        first = pick(rng, ("how do I say \"{s}\" in {l}", "{s} -> {l}", "translate to {l}: {s}",
                           "what's the {l} for: {s}")).format(s=pick(rng, c.sentences), l=target)
        follow = lambda: pick(rng, ("more polite?", "how do I pronounce it", "and informally?",
                                    "translate to %s: %s" % (target, pick(rng, c.sentences))))
        return converse(rng, fam, key, t, "chat", "gpt-4o-mini", None, first, follow, rng.randint(1, 4), 25)
    return people(rng, c, n, t0, fam, session, sessions=(1, 3))


# ---- bounded jobs that legitimately use logprobs / logit_bias ------------------------------------------------

def moderation_logprobs(rng, c, n, t0):
    """A moderation classifier built on the chat API: one token out (max_tokens 1), logprobs with top 5 for a
    confidence score, logit_bias pinning the four label tokens; every key runs one bounded backlog job of a
    few hundred real reviews and chat lines and then a steady trickle of new posts."""
    fam = "moderation_logprobs"
    sys_text = ("Classify the user post under the community policy. Reply with exactly one letter: A = fine, "
                "B = spam, C = harassment, D = needs human review.")
    out = []
    for i in range(n):
        key = make_key(rng, fam, i)
        bias = {str(x): 100 for x in (32, 33, 34, 35)}
        t = t0 + rng.uniform(9, 15) * HOUR
        for _ in range(rng.randint(200, 700)):
            post = pick(rng, c.reviews) if rng.random() < 0.6 else pick(rng, chat_pool(c, pick(rng, LANGS)))
            out.append(event(t, fam, B, key, "chat", body_for("chat", "gpt-4o-mini", sys_text, [("user", post)], 1,
                                                              logprobs=True, top_logprobs=5, logit_bias=bias,
                                                              temperature=0), 1))
            t += rng.uniform(0.2, 1.8) * SEC
        for t2 in product_arrivals(rng, t0, 10):
            if t2 < t:
                continue
            post = pick(rng, c.reviews) if rng.random() < 0.5 else pick(rng, chat_pool(c, pick(rng, LANGS)))
            out.append(event(t2, fam, B, key, "chat", body_for("chat", "gpt-4o-mini", sys_text, [("user", post)], 1,
                                                               logprobs=True, top_logprobs=5, logit_bias=bias,
                                                               temperature=0), 1))
    return out


def search_reranker(rng, c, n, t0):
    """A site-search reranker: for every end-user query (NQ-open) the top 4-8 candidate passages (BoolQ) are each
    scored Yes/No with logprobs (top 2) and max_tokens 1, in a quick burst; product volume over the day."""
    fam = "search_reranker"
    out = []
    for i in range(n):
        key = make_key(rng, fam, i)
        for t in product_arrivals(rng, t0, 7 * rng.uniform(0.7, 1.3)):
            q = pick(rng, c.nq)
            for _ in range(rng.randint(4, 8)):
                p = pick(rng, c.boolq)["passage"][:1000]
                out.append(event(t, fam, B, key, "chat", body_for(
                    "chat", "gpt-4o-mini", "Does the passage answer the query? Answer Yes or No.",
                    [("user", f"Query: {q}\nPassage: {p}")], 1, logprobs=True, top_logprobs=2, temperature=0), 1))
                t += rng.uniform(0.05, 0.4) * SEC
    return out


CATEGORIES = ("groceries", "rent", "travel", "software", "insurance", "taxes", "salary", "other")


def expense_categoriser(rng, c, n, t0):
    """A spreadsheet add-on used by small businesses: select some rows, pick "categorise", and every row (a real
    FiQA question standing in for a free-text memo) gets one category token via logit_bias over the allowed
    labels, logprobs on to flag low-confidence rows; one or two small jobs a day per user."""
    fam = "expense_categoriser"
    out = []
    for i in range(n):
        key = make_key(rng, fam, i)
        t = day_start(rng, t0, 8, 17)
        for _ in range(rng.randint(1, 2)):
            bias = {str(1000 + k * 37): 50 for k in range(len(CATEGORIES))}
            for _ in range(rng.randint(10, 80)):
                memo = pick(rng, c.fiqa)[:300]
                out.append(event(t, fam, B, key, "chat", body_for(
                    "chat", "gpt-4o-mini", None,
                    [("user", f"Categories: {', '.join(CATEGORIES)}\nMemo: {memo}\nCategory:")], 2,
                    logprobs=True, top_logprobs=3, logit_bias=bias), 1))
                t += rng.uniform(0.3, 2.5) * SEC
            t += rng.uniform(2, 6) * HOUR
    return out


# ---- summarisation ----------------------------------------------------------------------------------------

def news_digest(rng, c, n, t0):
    """A news-digest service: every few hours a batch of 20-50 real BBC articles (XSum) is summarised into three
    bullet points, sent one after another."""
    fam = "news_digest"
    out = []
    for i in range(n):
        key = make_key(rng, fam, i)
        for h in (5, 11, 16, 21):
            t = t0 + (h + rng.uniform(0, 0.5)) * HOUR
            for _ in range(rng.randint(20, 50)):
                a = pick(rng, c.news)
                w = ln(rng, 70, 0.35)
                out.append(event(t, fam, B, key, "chat", body_for(
                    "chat", "gpt-4o-mini", "Summarise the article in three short bullet points.", [("user", a)]), w))
                t += latency(rng, w) + rng.uniform(0.1, 1) * SEC
    return out


def clinic_scribe(rng, c, n, t0):
    """Clinicians turning a consultation transcript (MTS-Dialog) into a SOAP note between patients, half on the
    Anthropic API; 5-20 notes per working day, sometimes a correction."""
    fam = "clinic_scribe"
    out = []
    for i in range(n):
        api = "messages" if i % 2 else "chat"
        key = make_key(rng, fam, i, "anthropic" if api == "messages" else "openai")
        t = t0 + rng.uniform(7.5, 9.5) * HOUR
        for _ in range(rng.randint(5, 20)):
            d = pick(rng, c.dialogues)
            evs, _ = converse(rng, fam, key, t, api, "claude-3-5-sonnet-latest" if api == "messages" else "gpt-4o",
                              "Write a concise SOAP note from the transcript. Do not invent findings.", d,
                              lambda: pick(rng, ("the patient is 34 not 26, fix", "add the plan for follow-up",
                                                 "shorter assessment please")),
                              1 if rng.random() < 0.8 else 2, 200, max_tokens=1200)
            out.extend(evs)
            t += rng.lognormvariate(3.0, 0.5) * MIN
    return out


# ---- evaluation, judging, test data -------------------------------------------------------------------------

def eval_cot_harness(rng, c, n, t0):
    """One-off evaluation runs by researchers comparing models: an MMLU run with three chain-of-thought
    exemplars (the lm-eval flan CoT answers) before each question, a math run with "Let's think step by step",
    a Game of 24 run; 4-8 concurrent workers, then nothing."""
    fam = "eval_cot_harness"
    out = []
    for i in range(n):
        key = make_key(rng, fam, i)
        t = t0 + rng.uniform(9, 20) * HOUR
        for bench in rng.sample(("mmlu", "math", "game24"), rng.randint(1, 2)):
            items = {"mmlu": c.mmlu, "math": c.math, "game24": c.game24}[bench]
            k = min(len(items), rng.randint(120, 400))
            shots = rng.sample(c.mmlu, 3)
            workers = rng.randint(4, 8)
            for j in range(k):
                if bench == "mmlu":
                    row = items[j]
                    prompt = "".join(f"Q: {s['text']}\nA: {s['cot_answer']}\n\n" for s in shots) + f"Q: {row['text']}\nA:"
                    w = ln(rng, 90, 0.4)
                else:
                    prompt = f"{items[j]}\nLet's think step by step, then give the final answer after 'Answer:'."
                    w = ln(rng, 180, 0.5)
                out.append(event(t, fam, B, key, "chat", body_for("chat", pick(rng, ("gpt-4o", "gpt-4o-mini")), None,
                                                                  [("user", prompt)], 512, temperature=0), w))
                t += latency(rng, w) / workers
            t += rng.uniform(0.5, 3) * HOUR
    return out


def qa_judge_pipeline(rng, c, n, t0):
    """LLM-as-judge in a product's QA pipeline: every hour the team samples 10-30 of its support bot's
    conversations (real customer questions and the passage the bot answered from) and asks a judge model to
    rate groundedness and helpfulness 1-5 as JSON."""
    fam = "qa_judge_pipeline"
    sys_text = ("You are a QA reviewer for a support bot. Rate the bot answer for groundedness and helpfulness "
                "from 1 to 5 and give a one-sentence reason. Return JSON {\"grounded\": n, \"helpful\": n, "
                "\"reason\": \"...\"}.")
    out = []
    for i in range(n):
        key = make_key(rng, fam, i)
        for h in range(24):
            t = t0 + (h + rng.uniform(0, 0.2)) * HOUR
            for _ in range(rng.randint(10, 30) if 7 <= h <= 22 else rng.randint(2, 6)):
                row = pick(rng, c.boolq)
                prompt = f"Customer: {row['text']}\nBot answer: {row['passage'][:700]}"
                w = ln(rng, 45, 0.3)
                out.append(event(t, fam, B, key, "chat", body_for("chat", "gpt-4o", sys_text, [("user", prompt)],
                                                                  response_format={"type": "json_object"},
                                                                  temperature=0), w))
                t += latency(rng, w) + rng.uniform(0.1, 0.8) * SEC
    return out


FIXTURES = ("customer support tickets for a bike-rental app", "user profiles (name, email, city, signup date)",
            "product reviews for a kitchen appliance shop", "addresses in Germany with postcodes",
            "invoices with line items", "chat messages between a courier and a customer",
            "error logs from a Node.js web server", "restaurant menu items with allergens")


def test_fixtures(rng, c, n, t0):
    """Developers generating a small, bounded set of synthetic test data for their own app (support tickets,
    profiles, invoices as JSON): 8-40 requests in one sitting, each asking for 10-30 records; long answers."""
    fam = "test_fixtures"

    def session(rng, key, t):
        what = pick(rng, FIXTURES)
        first = (f"Generate {rng.choice((10, 20, 25, 30))} realistic fake {what} as a JSON array for our test "
                 f"suite. Vary the edge cases (empty fields, unicode, very long values).")
        follow = lambda: pick(rng, ("more, different ones", "now 20 in Spanish", "add 5 malformed ones",
                                    "same but as CSV", "include some with missing ids", "ok another batch"))
        return converse(rng, fam, key, t, "chat", "gpt-4o", None, first, follow, rng.randint(8, 40), 600,
                        words_sigma=0.4)
    return people(rng, c, n, t0, fam, session, sessions=(1, 1), start=(9, 17))


# ---- generic prompt, casual, reasoning --------------------------------------------------------------------------

UI_PROMPT = ("You are a helpful, harmless and honest assistant. Current date: 2026-12-02. Use markdown. If you "
             "don't know, say so.")


def chat_ui_users(rng, c, n, t0):
    """Many unrelated people running one open-source chat UI with its default system prompt, each with their own
    key: whatever they ask (questions, chat lines in their language, code, math), in sessions over the day."""
    fam = "chat_ui_users"

    def session(rng, key, t):
        lang = user_lang(rng, 0.6)
        r = rng.random()
        if lang != "en" or r < 0.6:
            first = everyday_question(rng, c, lang)
        elif r < 0.8:
            first = pick(rng, c.code)
        else:
            first = pick(rng, c.math)
        follow = lambda: pick(rng, FOLLOW_UPS) if lang == "en" else pick(rng, chat_pool(c, lang))
        return converse(rng, fam, key, t, "chat", pick(rng, ("gpt-4o", "gpt-4o-mini")), UI_PROMPT, first, follow,
                        rng.randint(1, 6), 150, lang=lang,
                        extra={"stream": True, "stream_options": {"include_usage": True}})
    return people(rng, c, n, t0, fam, session, sessions=(1, 3))


def occasional(rng, c, n, t0):
    """Occasional users: one to a dozen messages in the day, often a single question, in any of the corpus'
    languages, on any of the three OpenAI-style shapes or the Anthropic API."""
    fam = "occasional"
    out = []
    for i in range(n):
        api = pick(rng, ("chat", "chat", "responses", "messages"))
        key = make_key(rng, fam, i, "anthropic" if api == "messages" else "openai")
        lang = user_lang(rng, 0.5)
        t = day_start(rng, t0, 6, 23)
        left = rng.choice((1, 1, 1, 2, 2, 3, 4, 6, 8, 12))
        while left > 0:
            k = min(left, rng.randint(1, 3))
            first = casualise(rng, everyday_question(rng, c, lang)) if lang == "en" else everyday_question(rng, c, lang)
            evs, t = converse(rng, fam, key, t, api, "claude-3-5-haiku-latest" if api == "messages" else "gpt-4o-mini",
                              None, first, lambda: pick(rng, FOLLOW_UPS), k, 120, lang=lang, max_tokens=800)
            out.extend(evs)
            left -= k
            t += session_gap(rng) * rng.uniform(1, 3)
    return out


def reasoning_users(rng, c, n, t0):
    """People on a reasoning model: puzzles (Game of 24, StrategyQA), competition math and code, a few per day,
    with hidden reasoning of hundreds to thousands of tokens and moderate visible answers."""
    fam = "reasoning_users"

    def session(rng, key, t):
        first = pick(rng, (pick(rng, c.game24), pick(rng, c.strategy), pick(rng, c.math), pick(rng, c.code)))
        return converse(rng, fam, key, t, "responses", "o3-mini", None, first,
                        lambda: pick(rng, ("are you sure? check again", "explain the key idea", "thanks")),
                        rng.randint(1, 3), 160, reasoning_med=1500, extra={"reasoning": {"effort": "medium"}})
    return people(rng, c, n, t0, fam, session, sessions=(1, 4), start=(8, 23))
