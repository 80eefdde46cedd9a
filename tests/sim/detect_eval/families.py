"""The registry: every generator family with its kind or style, its split and its size at scale 1.

Split rule: `tune` families may be looked at while changing the detector (thresholds, weights, features,
the intent model's training data); `heldout` families may not: they exist to report on. Each benign kind
and each attack style has at least one family of each split. Changing a family's split, or its generator
after results were reported, must be said in DETECTION.md."""
from collections import namedtuple

import attacks as a
import benign as b

Family = namedtuple("Family", "name kind style split build size keys")
# size: benign = credentials at scale 1; attack = requests at scale 1. keys: attack keys (1 = one key).

TUNE, HELDOUT = "tune", "heldout"

_BENIGN = [
    # kind, split, builder, credentials
    ("consumer_qa_product", TUNE, b.qa_product_health, 4),
    ("consumer_qa_product", HELDOUT, b.qa_product_finance, 4),
    ("consumer_qa_product", HELDOUT, b.qa_product_search, 4),
    ("consumer_qa_product", TUNE, b.tutor_app, 4),
    ("students", TUNE, b.students_math, 60),
    ("students", HELDOUT, b.students_bilingual, 60),
    ("personal_assistant", TUNE, b.assistant_en, 70),
    ("personal_assistant", HELDOUT, b.assistant_multilingual, 70),
    ("personal_assistant", TUNE, b.assistant_world, 60),
    ("agents_tools", TUNE, b.agent_tools_openai, 25),
    ("agents_tools", HELDOUT, b.agent_tools_anthropic, 25),
    ("rag", TUNE, b.rag_wiki, 8),
    ("rag", HELDOUT, b.rag_support, 8),
    ("coding", TUNE, b.coding_chat, 40),
    ("coding", HELDOUT, b.coding_ide, 40),
    ("coding", HELDOUT, b.coding_agent, 20),
    ("translation", TUNE, b.translate_app, 4),
    ("translation", HELDOUT, b.translate_people, 60),
    ("batch_classification", TUNE, b.batch_sentiment, 4),
    ("batch_classification", HELDOUT, b.batch_tagging, 4),
    ("summarisation", TUNE, b.summarise_news, 30),
    ("summarisation", HELDOUT, b.summarise_clinical, 24),
    ("evaluation_run", TUNE, b.eval_run_mmlu, 2),
    ("evaluation_run", TUNE, b.eval_run_cot, 2),
    ("evaluation_run", HELDOUT, b.eval_run_truthful, 3),
    ("generic_system_prompt", TUNE, b.generic_users, 100),
    ("generic_system_prompt", HELDOUT, b.generic_users_zh, 100),
    ("casual", TUNE, b.casual_en, 150),
    ("casual", HELDOUT, b.casual_multilingual, 150),
    ("casual", HELDOUT, b.casual_steady, 100),
]

_ATTACKS = [
    # style, split, builder, requests, keys
    ("chain_of_thought", TUNE, a.cot_template_en, 1000, 1),
    ("chain_of_thought", TUNE, a.cot_template_zh, 1000, 1),
    ("chain_of_thought", TUNE, a.cot_template_multi, 1000, 1),
    ("chain_of_thought", HELDOUT, a.cot_system_prompt, 1000, 1),
    ("chain_of_thought", HELDOUT, a.cot_reasoning_model, 1000, 1),
    ("logprob", TUNE, a.logprob_chat, 1000, 1),
    ("logprob", HELDOUT, a.logit_bias_completions, 1000, 1),
    ("logprob", HELDOUT, a.logprob_responses, 1000, 1),
    ("rubric", TUNE, a.judge_en, 1000, 1),
    ("rubric", TUNE, a.judge_zh, 1000, 1),
    ("rubric", TUNE, a.judge_multi, 1000, 1),
    ("rubric", HELDOUT, a.preference_pairs, 1000, 1),
    ("rubric", HELDOUT, a.judge_de, 1000, 1),
    ("synthetic_data", TUNE, a.synth_jsonl_en, 1000, 1),
    ("synthetic_data", TUNE, a.synth_zh, 1000, 1),
    ("synthetic_data", TUNE, a.synth_multi, 1000, 1),
    ("synthetic_data", HELDOUT, a.synth_dialogues, 1000, 1),
    ("synthetic_data", HELDOUT, a.synth_fr, 1000, 1),
    ("probe", TUNE, a.probe_en, 1000, 1),
    ("probe", TUNE, a.probe_tune_multi, 1000, 1),
    ("probe", HELDOUT, a.probe_multilingual, 1000, 1),
    ("key_farm", TUNE, a.farm_cot_en, 600, 60),
    ("key_farm", TUNE, a.farm_notes_en, 600, 60),
    ("key_farm", HELDOUT, a.farm_reworded, 600, 60),
    ("key_farm", HELDOUT, a.farm_jittered, 600, 60),
    ("key_farm", TUNE, a.farm_tail_en, 600, 60),
    ("low_and_slow", TUNE, a.slow_en, 600, 10),
    ("low_and_slow", TUNE, a.slow_trio_en, 320, 8),
    ("low_and_slow", HELDOUT, a.slow_reworded_zh, 600, 12),
    ("low_and_slow", HELDOUT, a.slow_rotating, 320, 8),
    ("low_and_slow", TUNE, a.slow_tail_en, 320, 8),
    ("reworded", TUNE, a.reworded_en, 1000, 1),
    ("reworded", TUNE, a.natural_en, 1000, 1),
    ("reworded", HELDOUT, a.reworded_multilingual, 1000, 1),
    ("reworded", HELDOUT, a.reworded_natural, 1000, 1),
]

FAMILIES = {}
for _kind, _split, _fn, _n in _BENIGN:
    FAMILIES[_fn.__name__] = Family(_fn.__name__, "benign", _kind, _split, _fn, _n, None)
for _style, _split, _fn, _n, _keys in _ATTACKS:
    FAMILIES[_fn.__name__] = Family(_fn.__name__, "attack", _style, _split, _fn, _n, _keys)

# The intent label a family's prompts train the text classifier on (attack styles whose prompts carry
# no textual intent, like logprob harvesting, are left out of the dump).
INTENT_LABELS = ("chain_of_thought", "rubric", "synthetic_data", "probe", "ordinary")


def scaled(f, scale):
    """A family's size at `scale`: credentials (benign) or requests (attacks; multi-key families keep
    enough requests for every key to be seen a few times)."""
    if f.kind == "benign":
        return max(1, round(f.size * scale))
    floor = 100 if f.keys == 1 else 6 * f.keys
    return max(floor, round(f.size * scale))


def build(f, rng, corpus, scale, t0, world):
    if f.kind == "benign":
        return f.build(rng, corpus, scaled(f, scale), t0)
    return f.build(rng, corpus, scaled(f, scale), t0, world)
