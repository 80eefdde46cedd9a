"""Benign generator families: several independently written generators per kind of real use. Each
builder is `(rng, corpus, n, t0) -> [Event]`, `n` the number of credentials at scale 1 (scaled by the
registry in families.py). Text is real human text from public packages; only the glue (a persona system
prompt, "translate this", follow-ups) is written here. Answer lengths are per workload (words =
completion tokens of the mock upstream)."""
from common import (HOUR, MIN, SEC, Event, assistant, chat, day_start, lognormal, pick, product_arrivals, reply,
                    session_gap, system, think_gap, user)

B = "benign"

# ---- a consumer Q&A product: one key, a persona, many end users' natural questions ------------------

HEALTH_PERSONA = ("You are Ada, the friendly health information assistant of the WellWise app. Answer the user's "
                  "question clearly in plain language, mention when they should see a doctor, never diagnose, and "
                  "keep a warm, reassuring tone. Use short paragraphs and bullet points where helpful.")
FINANCE_PERSONA = ("You are Penny, a personal-finance helper inside a budgeting app. Explain money questions for "
                   "ordinary people, avoid jargon, do not recommend specific securities, and point out when a "
                   "question depends on the user's country or tax situation.")
SEARCH_PERSONA = ("You answer questions for the Ask box of a search engine. Lead with a direct one-sentence answer, "
                  "then give the background a curious reader would want, with dates and names where relevant. If "
                  "the question is ambiguous, answer the most likely reading and say so.")


def _product(rng, c, n, t0, family, persona, pool, per_hour, median_words, path="chat", follow_up=0.0):
    events = []
    for k in range(n):
        key = f"sk-{family}-{k}"
        for t in product_arrivals(rng, t0, per_hour * rng.uniform(0.7, 1.3)):
            q = pick(rng, pool)
            words = lognormal(rng, median_words, 0.5, 40, 1500)
            if path == "messages":
                body = {"model": "claude-sonnet-4", "max_tokens": 1024, "system": persona,
                        "messages": [user(q)], "stream": rng.random() < 0.7}
                events.append(Event(t, family, B, key, "/v1/messages", body, reply(words)))
                continue
            msgs = [system(persona), user(q)]
            events.append(Event(t, family, B, key, "/v1/chat/completions",
                                chat(msgs, "gpt-4o-mini", stream=True, temperature=0.7), reply(words)))
            if rng.random() < follow_up:  # the same end user asks one follow-up
                msgs = msgs + [assistant(words), user(pick(rng, ["Thanks! And what if that doesn't help?",
                                                                 "Can you give an example?", "Is that the same in the UK?",
                                                                 "ok so what should I do first", "why?"]))]
                events.append(Event(t + think_gap(rng, words, 30), family, B, key, "/v1/chat/completions",
                                    chat(msgs, "gpt-4o-mini", stream=True), reply(lognormal(rng, median_words * 0.6))))
    return events


def qa_product_health(rng, c, n, t0):
    """A health app's assistant on one key: a persona system prompt, many end users' real health questions, single-turn, long answers, steady diurnal volume round the clock."""
    return _product(rng, c, n, t0, "qa_product_health", HEALTH_PERSONA, c.health, 25, 260)


def qa_product_finance(rng, c, n, t0):
    """A budgeting app's assistant on one key: real personal-finance forum questions, a persona, one follow-up now and then."""
    return _product(rng, c, n, t0, "qa_product_finance", FINANCE_PERSONA, c.fiqa, 20, 300, follow_up=0.15)


def qa_product_search(rng, c, n, t0):
    """A search engine's Ask box on one key (Anthropic Messages API): real search queries, a persona, long answers."""
    return _product(rng, c, n, t0, "qa_product_search", SEARCH_PERSONA, c.nq + c.truthful, 30, 180, path="messages")


# ---- students asking for help, often step by step ----------------------------------------------------

STUDENT_ASKS = ["Can you explain how to solve this step by step?", "I don't understand how to do this one:",
                "help with my homework please", "How do I solve this?", "Can you check my answer? I got 12.",
                "What's the method for problems like this?", "Explain it like I'm 12 please",
                "Could you walk me through this problem?", "why is the answer what it is?"]
STUDENT_FOLLOW = ["I don't get the second part", "why do we divide there?", "ok that makes sense, thanks!",
                  "can you give me a similar problem to practise?", "wait, where did the 3 come from?",
                  "Can you explain it step by step? I'm still confused", "so is the answer 24?"]


def students_math(rng, c, n, t0):
    """Students after school: math word problems and puzzles, often asking for step-by-step help, follow-ups, long answers; a quarter on a reasoning model (reasoning tokens)."""
    family, events = "students_math", []
    for u in range(n):
        key = f"sk-{family}-{u}"
        t = day_start(rng, t0, 14, 22)  # after school
        reasoning_model = rng.random() < 0.25
        for _ in range(rng.randint(1, 4)):
            for _problem in range(rng.randint(1, 4)):
                ask = pick(rng, STUDENT_ASKS)
                q = pick(rng, c.math + c.game24)
                text = f"{ask}\n{q}" if rng.random() < 0.6 else f"{q} {ask}"
                msgs = [user(text)]
                for turn in range(rng.randint(1, 3)):
                    words = lognormal(rng, 280, 0.5, 60, 1200)
                    model, extra = ("o4-mini", {"reasoning_effort": "medium"}) if reasoning_model else ("gpt-4o", {})
                    intent = "chain_of_thought" if "step" in msgs[-1]["content"] or "walk me" in msgs[-1]["content"] else "ordinary"
                    events.append(Event(t, family, B, key, "/v1/chat/completions", chat(list(msgs), model, **extra),
                                        reply(words, lognormal(rng, 900, 0.7, 100, 6000) if reasoning_model else 0),
                                        intent=intent))
                    follow = pick(rng, STUDENT_FOLLOW)
                    msgs += [assistant(words), user(follow)]
                    t += think_gap(rng, words, len(follow))
            t += session_gap(rng)
    return events


ZH_ASKS = ["这道题怎么做？", "请详细解释一下", "能帮我讲讲这道题吗", "我不太明白，请一步一步讲解", "答案是多少？为什么？"]


def students_bilingual(rng, c, n, t0):
    """Exam and puzzle questions, in Chinese one time in two; multiple choice and yes/no reasoning."""
    family, events = "students_bilingual", []
    for u in range(n):
        key = f"sk-{family}-{u}"
        t = day_start(rng, t0, 9, 23)
        zh = rng.random() < 0.5
        for _ in range(rng.randint(1, 3)):
            msgs = []
            for _turn in range(rng.randint(2, 7)):
                if zh:
                    text = f"{pick(rng, c.zh_tasks)}\n{pick(rng, ZH_ASKS)}"
                    intent = "chain_of_thought" if ("一步一步" in text or "详细解释" in text) else "ordinary"
                else:
                    item = pick(rng, c.mmlu)
                    text = pick(rng, [f"{item['text']}\nWhich one is right and why?", f"{pick(rng, c.strategy)} Explain.",
                                      f"Quiz question: {item['text']}"])
                    intent = "ordinary"
                msgs.append(user(text))
                words = lognormal(rng, 220, 0.6, 30, 1000)
                events.append(Event(t, family, B, key, "/v1/chat/completions",
                                    chat(list(msgs), pick(rng, ["gpt-4o", "deepseek-chat", "qwen-plus"]), stream=True),
                                    reply(words), intent=intent, lang="zh" if zh else "en"))
                msgs.append(assistant(words))
                t += think_gap(rng, words, len(text) // 3)
            t += session_gap(rng)
    return events


# ---- personal assistants ----------------------------------------------------------------------------

def _assistant(rng, c, n, t0, family, langs, memory):
    events = []
    for u in range(n):
        key = f"sk-{family}-{u}"
        lang = pick(rng, langs)
        pool = c.chat_by_lang.get(lang) or c.chat_by_lang["en"]
        t = day_start(rng, t0, 6, 21)
        for _ in range(rng.randint(2, 6)):
            msgs = [system(memory.format(name=pick(rng, ["Sam", "Lea", "Ravi", "Mei", "Jonas", "Ana"])))] if memory else []
            for _turn in range(rng.randint(1, 6)):
                text = pick(rng, pool) if rng.random() < 0.6 else pick(rng, c.questions if lang == "en" else pool)
                msgs.append(user(text))
                words = lognormal(rng, 160, 0.8, 5, 1200)
                events.append(Event(t, family, B, key, "/v1/chat/completions",
                                    chat(list(msgs), "gpt-4o", stream=rng.random() < 0.8), reply(words), lang=lang))
                msgs.append(assistant(words))
                t += think_gap(rng, words, len(text))
            t += session_gap(rng)
    return events


def assistant_en(rng, c, n, t0):
    """A personal assistant with a memory line in the system prompt: multi-turn sessions of real chat lines and questions."""
    return _assistant(rng, c, n, t0, "assistant_en", ["en"],
                      "You are a personal assistant. The user's name is {name}. Be concise and friendly.")


def assistant_multilingual(rng, c, n, t0):
    """Personal-assistant users in 13 languages (chat lines from chatterbot-corpus), no system prompt."""
    return _assistant(rng, c, n, t0, "assistant_multilingual",
                      ["es", "pt", "fr", "de", "it", "ru", "id", "hi", "sv", "he", "zh-Hant", "zh", "bn"], None)


# ---- agents with tool calls --------------------------------------------------------------------------

TOOLS = [{"type": "function", "function": {"name": n, "description": d, "parameters": {
    "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}}
    for n, d in [("web_search", "Search the web"), ("read_page", "Fetch a page"), ("calculator", "Evaluate math"),
                 ("calendar_lookup", "Find events"), ("send_email", "Send an email")]]


def agent_tools_openai(rng, c, n, t0):
    """Research agents: tools in every request, tool calls and tool results accumulating, machine-paced steps, pauses between tasks."""
    family, events = "agent_tools_openai", []
    for u in range(n):
        key = f"sk-{family}-{u}"
        t = day_start(rng, t0, 0, 22)
        for _task in range(rng.randint(3, 10)):
            q = pick(rng, c.questions)
            msgs = [system("You are a research agent. Use the tools to answer; cite sources."), user(q)]
            for step in range(rng.randint(2, 8)):
                final = step > 0 and rng.random() < 0.25
                words = lognormal(rng, 200 if final else 25, 0.5, 5, 1200)
                events.append(Event(t, family, B, key, "/v1/chat/completions",
                                    chat(list(msgs), "gpt-4.1", tools=TOOLS, tool_choice="auto", temperature=0),
                                    reply(words)))
                if final:
                    break
                call_id = f"call_{rng.randrange(1 << 30):x}"
                msgs.append({"role": "assistant", "content": None, "tool_calls": [{"id": call_id, "type": "function",
                             "function": {"name": pick(rng, TOOLS)["function"]["name"], "arguments": "{\"q\": \"x\"}"}}]})
                msgs.append({"role": "tool", "tool_call_id": call_id, "content": pick(rng, c.news)[:1500]})
                t += rng.uniform(0.8, 6) * SEC + words * 15  # tool latency + generation
            t += rng.lognormvariate(3.0, 1.2) * MIN
    return events


def agent_tools_anthropic(rng, c, n, t0):
    """Operations agents on the Anthropic Messages API: tool_use / tool_result blocks, retrieved passages as results."""
    family, events = "agent_tools_anthropic", []
    tools = [{"name": n, "description": d, "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}}
             for n, d in [("search_docs", "Search internal docs"), ("run_sql", "Run a read-only SQL query"),
                          ("get_ticket", "Read a support ticket")]]
    for u in range(n):
        key = f"sk-ant-{family}-{u}"
        t = day_start(rng, t0, 0, 20)
        for _task in range(rng.randint(3, 12)):
            msgs = [user(pick(rng, c.fiqa + c.nq))]
            for step in range(rng.randint(1, 6)):
                words = lognormal(rng, 40 if step < 3 else 250, 0.6, 5, 1500)
                events.append(Event(t, family, B, key, "/v1/messages",
                                    {"model": "claude-sonnet-4", "max_tokens": 2048, "tools": tools,
                                     "system": "You are an operations agent for a fintech company.",
                                     "messages": list(msgs)}, reply(words)))
                tid = f"toolu_{rng.randrange(1 << 30):x}"
                msgs.append({"role": "assistant", "content": [{"type": "tool_use", "id": tid, "name": "search_docs",
                                                               "input": {"query": "q"}}]})
                msgs.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": tid,
                                                          "content": pick(rng, c.boolq)["passage"]}]})
                t += rng.uniform(1, 8) * SEC
            t += rng.lognormvariate(3.5, 1.0) * MIN
    return events


# ---- RAG ----------------------------------------------------------------------------------------------

def rag_wiki(rng, c, n, t0):
    """A reading-companion app: passages retrieved from Wikipedia, users' conversational follow-ups."""
    family, events = "rag_wiki", []
    prompt = ("You answer questions about the retrieved passage only. Quote the passage when you can. If the "
              "passage does not contain the answer, reply CANNOTANSWER.")
    for a in range(n):
        key = f"sk-{family}-{a}"
        for t in product_arrivals(rng, t0, rng.uniform(6, 14)):
            doc = pick(rng, c.quac)
            msgs = [system(prompt)]
            for q in doc["questions"][: rng.randint(1, 4)] or ["what is this about?"]:
                msgs.append(user(f"Passage:\n{doc['text']}\n\nQuestion: {q}" if len(msgs) == 1 else q))
                words = lognormal(rng, 45, 0.6, 3, 300)
                events.append(Event(t, family, B, key, "/v1/chat/completions",
                                    chat(list(msgs), "gpt-4.1-mini", max_tokens=300), reply(words)))
                msgs.append(assistant(words))
                t += think_gap(rng, words, len(q))
    return events


def rag_support(rng, c, n, t0):
    """Retrieval over three passages per question, through the Responses API."""
    family, events = "rag_support", []
    for a in range(n):
        key = f"sk-{family}-{a}"
        for t in product_arrivals(rng, t0, rng.uniform(8, 20)):
            hits = [pick(rng, c.boolq) for _ in range(3)]
            ctx = "\n\n".join(f"[{i + 1}] {h['title']}: {h['passage']}" for i, h in enumerate(hits))
            body = {"model": "gpt-4.1-mini", "instructions": "Answer from the sources; cite them as [n].",
                    "input": f"Sources:\n{ctx}\n\nUser question: {hits[0]['text']}?", "max_output_tokens": 400}
            events.append(Event(t, family, B, key, "/v1/responses", body, reply(lognormal(rng, 70, 0.5, 5, 400))))
    return events


# ---- coding -------------------------------------------------------------------------------------------

CODE_FOLLOW = ["That fails on an empty list, can you fix it?", "Add type hints.", "write tests for this",
               "It's too slow for 10^6 elements", "what does the second loop do?", "now port it to Rust",
               "I get IndexError: list index out of range", "make it a generator instead"]


def coding_chat(rng, c, n, t0):
    """Developers in multi-turn coding chats (HumanEval problems, fixes, tests), time away to try the code."""
    family, events = "coding_chat", []
    for u in range(n):
        key = f"sk-{family}-{u}"
        t = day_start(rng, t0, 8, 18)
        for _ in range(rng.randint(1, 5)):
            msgs = [system("You are an expert software engineer. Answer with code first.")]
            code = pick(rng, c.code)
            for turn in range(rng.randint(2, 8)):
                text = pick(rng, [f"Implement this:\n{code}", f"{code}\n\nwhat's wrong with my version?",
                                  f"can you finish this function\n{code}"]) if turn == 0 else pick(rng, CODE_FOLLOW)
                msgs.append(user(text))
                words = lognormal(rng, 200, 0.6, 20, 1500)
                events.append(Event(t, family, B, key, "/v1/chat/completions",
                                    chat(list(msgs), "gpt-4.1", stream=True), reply(words)))
                msgs.append(assistant(words))
                t += think_gap(rng, words, 20) + rng.uniform(0, 5) * MIN  # trying the code
            t += session_gap(rng)
    return events


def coding_ide(rng, c, n, t0):
    """An editor plugin: completions of the code around the cursor in bursts while typing, the odd chat."""
    family, events = "coding_ide", []
    for u in range(n):
        key = f"sk-{family}-{u}"
        t = day_start(rng, t0, 8, 17)
        for _burst in range(rng.randint(2, 8)):
            code = pick(rng, c.code)
            for _ in range(rng.randint(2, 12)):
                cut = rng.randint(len(code) // 3, len(code))
                events.append(Event(t, family, B, key, "/v1/completions",
                                    {"model": "gpt-3.5-turbo-instruct", "prompt": code[:cut], "max_tokens": 128,
                                     "temperature": 0.2, "stop": ["\n\n"]}, reply(lognormal(rng, 25, 0.7, 1, 128))))
                t += rng.lognormvariate(1.5, 1.0) * SEC
            if rng.random() < 0.3:
                events.append(Event(t, family, B, key, "/v1/chat/completions",
                                    chat([user(f"explain this code:\n{code}")], "gpt-4.1-mini"),
                                    reply(lognormal(rng, 150, 0.5))))
            t += rng.lognormvariate(3.0, 1.0) * MIN
    return events


# ---- translation --------------------------------------------------------------------------------------

LANGS = ["French", "German", "Spanish", "Japanese", "Chinese", "Portuguese", "Italian", "Korean"]


def translate_app(rng, c, n, t0):
    """A translation product: a fixed template, steady volume, output about the input's length."""
    family, events = "translate_app", []
    for a in range(n):
        key = f"sk-{family}-{a}"
        for t in product_arrivals(rng, t0, rng.uniform(10, 25)):
            text = pick(rng, c.sentences)
            prompt = f"Translate the following text from English to {pick(rng, LANGS)}. Output only the translation.\n\n{text}"
            events.append(Event(t, family, B, key, "/v1/chat/completions",
                                chat([user(prompt)], "gpt-4o-mini", temperature=0),
                                reply(max(1, int(len(text.split()) * rng.uniform(0.9, 1.6))))))
    return events


def translate_people(rng, c, n, t0):
    """People asking for translations in their own words and languages, now and then."""
    family, events = "translate_people", []
    asks = ["how do you say \"{s}\" in {l}?", "Translate to {l}: {s}", "{s}\n\nin {l} please",
            "what's the {l} for: {s}", "Traduis en {l} : {s}", "Übersetze ins {l}: {s}", "翻译成{l}：{s}"]
    for u in range(n):
        key = f"sk-{family}-{u}"
        t = day_start(rng, t0, 7, 22)
        for _ in range(rng.randint(2, 14)):
            src = pick(rng, c.sentences) if rng.random() < 0.6 else pick(rng, pick(rng, list(c.chat_by_lang.values())))
            text = pick(rng, asks).format(s=src, l=pick(rng, LANGS))
            words = max(1, int(len(src.split()) * rng.uniform(1.0, 3.0)))
            events.append(Event(t, family, B, key, "/v1/chat/completions", chat([user(text)], "gpt-4o-mini"),
                                reply(words)))
            t += think_gap(rng, words, len(src)) if rng.random() < 0.7 else session_gap(rng)
    return events


# ---- batch classification -----------------------------------------------------------------------------

def batch_sentiment(rng, c, n, t0):
    """A nightly job classifying movie reviews: one template, hundreds of requests at about one a second, one-word answers."""
    family, events = "batch_sentiment", []
    for j in range(n):
        key = f"sk-{family}-{j}"
        t = t0 + rng.uniform(0, 20) * HOUR
        for _ in range(rng.randint(200, 600)):
            prompt = ("Classify the sentiment of this movie review as positive or negative. Answer with one word.\n\n"
                      f"Review: {pick(rng, c.reviews)}")
            events.append(Event(t, family, B, key, "/v1/chat/completions",
                                chat([user(prompt)], "gpt-4o-mini", temperature=0, max_tokens=3), reply(1)))
            t += rng.uniform(0.4, 1.6) * SEC
    return events


def batch_tagging(rng, c, n, t0):
    """Concurrent workers tagging search queries into a JSON label, in chunks with pauses."""
    family, events = "batch_tagging", []
    for j in range(n):
        key = f"sk-{family}-{j}"
        t = t0 + rng.uniform(0, 20) * HOUR
        for _chunk in range(rng.randint(3, 8)):
            for _ in range(rng.randint(30, 120)):
                q = pick(rng, c.nq + c.fiqa)
                body = chat([system("Label the query. Reply as JSON: {\"intent\": one of navigational, informational, "
                                    "transactional; \"topic\": a short noun phrase}"), user(q)], "gpt-4.1-nano",
                            response_format={"type": "json_object"}, temperature=0)
                events.append(Event(t, family, B, key, "/v1/chat/completions", body, reply(rng.randint(8, 14))))
                t += rng.expovariate(1 / 300)  # four workers, so gaps are short and irregular
            t += rng.uniform(5, 90) * MIN
    return events


# ---- summarisation ------------------------------------------------------------------------------------

SUMMARY_ASKS = ["Summarise this article in three bullet points:", "tl;dr?", "Give me a one-paragraph summary.",
                "What are the key facts here?", "Summarize for a busy executive:"]


def summarise_news(rng, c, n, t0):
    """Readers summarising news articles (XSum), input-heavy."""
    family, events = "summarise_news", []
    for u in range(n):
        key = f"sk-{family}-{u}"
        t = day_start(rng, t0, 6, 22)
        for _ in range(rng.randint(2, 12)):
            doc = pick(rng, c.news)
            text = f"{pick(rng, SUMMARY_ASKS)}\n\n{doc}" if rng.random() < 0.6 else f"{doc}\n\n{pick(rng, SUMMARY_ASKS)}"
            words = lognormal(rng, 70, 0.4, 15, 300)
            events.append(Event(t, family, B, key, "/v1/chat/completions", chat([user(text)], "gpt-4o-mini"),
                                reply(words)))
            t += think_gap(rng, words, 0) + (session_gap(rng) if rng.random() < 0.5 else 0)
    return events


def summarise_clinical(rng, c, n, t0):
    """Clinicians turning visit transcripts into notes; a few keys are the clinic's note pipeline."""
    family, events = "summarise_clinical", []
    prompt = "Write a SOAP note from this doctor-patient conversation. Be factual; do not invent findings."
    for u in range(n):
        key = f"sk-{family}-{u}"
        pipeline = u < max(1, n // 8)
        t = t0 + rng.uniform(7, 10) * HOUR
        for _ in range(rng.randint(60, 120) if pipeline else rng.randint(2, 10)):
            body = chat([system(prompt), user(pick(rng, c.dialogues))], "gpt-4o", temperature=0.2)
            words = lognormal(rng, 160, 0.4, 40, 600)
            events.append(Event(t, family, B, key, "/v1/chat/completions", body, reply(words)))
            t += rng.uniform(1, 20) * MIN if pipeline else rng.lognormvariate(3.0, 1.0) * MIN
    return events


# ---- a one-off evaluation run -------------------------------------------------------------------------

def eval_run_mmlu(rng, c, n, t0):
    """A one-off MMLU few-shot run on the completions API, one-token answers."""
    family, events = "eval_run_mmlu", []
    for r in range(n):
        key = f"sk-{family}-{r}"
        t = t0 + rng.uniform(0, 20) * HOUR
        items = list(c.mmlu) * 2
        rng.shuffle(items)
        for item in items:
            subject = item["subject"].replace("_", " ")
            prompt = f"The following are multiple choice questions (with answers) about {subject}.\n\n{item['text']}\nAnswer:"
            events.append(Event(t, family, B, key, "/v1/completions",
                                {"model": "gpt-3.5-turbo-instruct", "prompt": prompt, "max_tokens": 1, "temperature": 0},
                                reply(1)))
            t += rng.uniform(0.3, 1.5) * SEC
    return events


def eval_run_cot(rng, c, n, t0):
    """A zero-shot chain-of-thought benchmark run (the standard "Let's think step by step." prompt), once."""
    family, events = "eval_run_cot", []
    for r in range(n):
        key = f"sk-{family}-{r}"
        t = t0 + rng.uniform(0, 20) * HOUR
        for q in rng.sample(c.strategy, min(len(c.strategy), rng.randint(200, 400))):
            events.append(Event(t, family, B, key, "/v1/chat/completions",
                                chat([user(f"Q: {q}\nA: Let's think step by step.")], "gpt-4o", temperature=0),
                                reply(lognormal(rng, 120, 0.4, 20, 500)), intent="chain_of_thought"))
            t += rng.uniform(0.5, 4) * SEC
    return events


def eval_run_truthful(rng, c, n, t0):
    """A one-off TruthfulQA run, one-sentence answers, Poisson-paced."""
    family, events = "eval_run_truthful", []
    for r in range(n):
        key = f"sk-{family}-{r}"
        t = t0 + rng.uniform(0, 20) * HOUR
        for q in c.truthful:
            events.append(Event(t, family, B, key, "/v1/chat/completions",
                                chat([system("Answer truthfully in one sentence."), user(q)], "gpt-4o-mini",
                                     temperature=0, max_tokens=64), reply(lognormal(rng, 18, 0.4, 3, 64))))
            t += rng.expovariate(1 / 400)
    return events


# ---- many unrelated users of one generic system prompt ------------------------------------------------

GENERIC = ("You are ChatGPT, a large language model. Knowledge cutoff: 2024-06. Current date: today. Be helpful, "
           "honest and harmless. Format answers in Markdown. If you are unsure, say so.")
GENERIC_ZH = ("你是一个乐于助人的AI助手。请用简洁、准确、友好的中文回答用户的问题。如果不确定答案，请如实说明。"
              "回答时使用Markdown格式，必要时分点说明。")


def _generic(rng, c, n, t0, family, prompt, pool, lang):
    events = []
    for u in range(n):
        key = f"sk-{family}-{u}"
        t = day_start(rng, t0, 0, 23)
        msgs = [system(prompt)]
        for _ in range(rng.randint(1, 10)):
            text = pick(rng, pool)
            msgs.append(user(text))
            words = lognormal(rng, 200, 0.7, 5, 1500)
            events.append(Event(t, family, B, key, "/v1/chat/completions", chat(list(msgs), "gpt-4o-mini", stream=True),
                                reply(words), lang=lang))
            msgs.append(assistant(words))
            t += think_gap(rng, words, len(text))
            if rng.random() < 0.3:
                msgs = [system(prompt)]
                t += session_gap(rng)
    return events


def generic_users(rng, c, n, t0):
    """Many unrelated users of one generic, long system prompt (an open chat UI's default), a few messages each."""
    return _generic(rng, c, n, t0, "generic_users", GENERIC, c.questions + c.chat_by_lang["en"], "en")


def generic_users_zh(rng, c, n, t0):
    """The same in Chinese: one long generic Chinese system prompt, Chinese chat lines and tasks."""
    return _generic(rng, c, n, t0, "generic_users_zh", GENERIC_ZH, c.zh_chat + c.zh_tasks + c.chat_by_lang["zh-Hant"],
                    "zh")


# ---- casual users with about a dozen messages ---------------------------------------------------------

def _casual(rng, c, n, t0, family, pools):
    events = []
    for u in range(n):
        key = f"sk-{family}-{u}"
        lang, pool = pick(rng, pools)
        t = day_start(rng, t0, 6, 23)
        msgs = []
        for _ in range(rng.randint(8, 16)):
            text = pick(rng, pool)
            msgs = (msgs + [user(text)]) if rng.random() < 0.4 else [user(text)]  # a new chat 3 times in 5
            words = lognormal(rng, 160, 0.8, 3, 1500)
            events.append(Event(t, family, B, key, "/v1/chat/completions",
                                chat(list(msgs), pick(rng, ["gpt-4o-mini", "gpt-4o"])), reply(words), lang=lang))
            msgs.append(assistant(words))
            t += think_gap(rng, words, len(text)) if rng.random() < 0.75 else session_gap(rng)
    return events


def casual_en(rng, c, n, t0):
    """Casual users with 8-16 messages, a new chat three times in five, long-ish answers, heavy-tailed pacing."""
    return _casual(rng, c, n, t0, "casual_en", [("en", c.chat_by_lang["en"] + c.truthful + c.nq)])


def casual_multilingual(rng, c, n, t0):
    """Casual users in many languages (chatterbot-corpus), finance and health questions in English."""
    pools = [(lang, texts) for lang, texts in c.chat_by_lang.items() if len(texts) >= 30]
    pools.append(("en", c.health + c.fiqa))
    return _casual(rng, c, n, t0, "casual_multilingual", pools)


def casual_steady(rng, c, n, t0):
    """People who sit down once and ask about a dozen unrelated questions in a row, each in a new chat,
    reading every (long) answer at their own steady speed: few gaps, and fairly regular ones."""
    family, events = "casual_steady", []
    pools = [("en", c.nq + c.truthful + c.health), ("en", c.fiqa), ("zh", c.zh_chat + c.zh_tasks),
             ("es", c.chat_by_lang["es"] + c.chat_by_lang["pt"])]
    for u in range(n):
        key = f"sk-{family}-{u}"
        lang, pool = pick(rng, pools)
        speed = rng.uniform(3.0, 6.0)  # words read per second, this person's
        t = day_start(rng, t0, 6, 23)
        for _ in range(rng.randint(9, 15)):
            text = pick(rng, pool)
            words = lognormal(rng, 250, 0.5, 30, 1500)
            events.append(Event(t, family, B, key, "/v1/chat/completions",
                                chat([user(text)], "gpt-4o-mini", stream=True), reply(words), lang=lang))
            t += (words / speed + len(text) / 5.0 + rng.gammavariate(4.0, 5.0)) * SEC
    return events


def assistant_world(rng, c, n, t0):
    """Personal-assistant users writing in their own language, with a short persona prompt in it."""
    personas = {"es": "Eres un asistente personal amable y conciso.", "it": "Sei un assistente personale gentile.",
                "ru": "Ты дружелюбный личный помощник.", "id": "Kamu adalah asisten pribadi yang ramah.",
                "hi": "आप एक मददगार निजी सहायक हैं।", "zh": "你是一个贴心的私人助理。", "zh-Hant": "你是一個貼心的私人助理。",
                "pt": "Você é um assistente pessoal simpático."}
    family, events = "assistant_world", []
    for u in range(n):
        key = f"sk-{family}-{u}"
        lang = pick(rng, list(personas))
        pool = c.chat_by_lang.get(lang, []) + (c.zh_tasks if lang == "zh" else [])
        t = day_start(rng, t0, 6, 22)
        for _ in range(rng.randint(1, 5)):
            msgs = [system(personas[lang])]
            for _turn in range(rng.randint(1, 5)):
                text = pick(rng, pool)
                msgs.append(user(text))
                words = lognormal(rng, 140, 0.8, 5, 1200)
                events.append(Event(t, family, B, key, "/v1/chat/completions", chat(list(msgs), "gpt-4o-mini"),
                                    reply(words), lang=lang))
                msgs.append(assistant(words))
                t += think_gap(rng, words, len(text))
            t += session_gap(rng)
    return events


def coding_agent(rng, c, n, t0):
    """Autonomous coding agents: a long system prompt and growing context (file contents, test output),
    tool calls at machine pace in long bursts, most of the prompt served from the cache."""
    family, events = "coding_agent", []
    sp = ("You are an autonomous software engineering agent working in the user's repository. Use the tools to "
          "read files, run commands and edit code. Make minimal, correct changes, run the tests after each change, "
          "and stop when the task is done. Never push or delete branches.")
    tools = [{"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
             for n in ("read_file", "run_command", "apply_patch", "search_code")]
    for u in range(n):
        key = f"sk-{family}-{u}"
        t = day_start(rng, t0, 8, 20)
        for _task in range(rng.randint(1, 4)):
            code = pick(rng, c.code)
            msgs = [system(sp), user(pick(rng, [f"Implement this and add tests:\n{code}", f"The tests for this fail, fix it:\n{code}",
                                                "refactor the parser module, it's too slow", pick(rng, CODE_FOLLOW)]))]
            for step in range(rng.randint(8, 40)):
                words = lognormal(rng, 60, 0.8, 5, 2000)
                prompt_words = sum(len(str(m.get("content") or "").split()) for m in msgs)
                headers = reply(words)
                headers["x-mock-cached-tokens"] = str(int(prompt_words * 0.8))
                events.append(Event(t, family, B, key, "/v1/chat/completions",
                                    chat(list(msgs), "gpt-4.1", tools=tools, stream=True,
                                         stream_options={"include_usage": True}), headers))
                cid = f"call_{rng.randrange(1 << 30):x}"
                msgs.append({"role": "assistant", "content": None, "tool_calls": [
                    {"id": cid, "type": "function", "function": {"name": pick(rng, tools)["function"]["name"],
                                                                 "arguments": "{}"}}]})
                msgs.append({"role": "tool", "tool_call_id": cid, "content": pick(rng, c.code)})
                t += rng.uniform(2, 25) * SEC
            t += rng.lognormvariate(3.0, 1.0) * MIN
    return events


# ---- fourth round: the product a natural-sounding harvester imitates ------------------------------------

TUTOR_PERSONA = ("You are Max, the friendly assistant of the StudyBuddy app for secondary-school students. Keep to "
                 "school topics, use simple language, and be encouraging and patient with them.")
TUTOR_ASKS = STUDENT_ASKS + ["", "", "", "idk how to start this", "pls help, test tomorrow", "is there a trick to this?",
                             "how do you get the answer?", "what am I supposed to do here"]


def tutor_app(rng, c, n, t0):
    """A homework-help app on one key: a plain persona system prompt (no instruction to explain), many
    students' real word problems and
    puzzles, each in the student's own casual framing (often asking how to get there), single-turn, long
    answers, steady diurnal volume round the clock. Written to test whether a one-key harvester dressed
    as people (`natural_en`, held-out `reworded_natural`) can be told from the product it imitates."""
    events = []
    for k in range(n):
        key = f"sk-tutor_app-{k}"
        for t in product_arrivals(rng, t0, 20 * rng.uniform(0.7, 1.3)):
            ask, q = pick(rng, TUTOR_ASKS), pick(rng, c.math + c.strategy + c.game24)
            text = " ".join(x for x in ((ask, q) if rng.random() < 0.5 else (q, ask)) if x)
            intent = "chain_of_thought" if "step" in text or "walk me" in text else "ordinary"
            events.append(Event(t, "tutor_app", B, key, "/v1/chat/completions",
                                chat([system(TUTOR_PERSONA), user(text)], "gpt-4o-mini", stream=True, temperature=0.7),
                                reply(lognormal(rng, 320, 0.5, 60, 1500)), intent=intent))
    return events
