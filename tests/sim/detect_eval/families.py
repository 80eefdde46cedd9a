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


# ---- the `fresh` split (written blind, 2026-12-02) --------------------------------------------------------
# Families written by someone who had read neither the detector nor the other families' generators nor any
# earlier result: reported on only, never tuned on. They are kept out of FAMILIES (whose tune/heldout
# invariants the tests check) and added to it by `include_fresh()` when run.py is asked for them.
FRESH = "fresh"

import fresh_attacks as fa  # noqa: E402
import fresh_benign as fb  # noqa: E402

_FRESH_BENIGN = [
    # kind, builder, credentials
    ("consumer_qa_product", fb.support_bot, 6),
    ("consumer_qa_product", fb.answer_box, 4),
    ("tutoring_app", fb.tutoring_app, 3),
    ("writing_assistant", fb.writing_product, 3),
    ("rag", fb.rag_intranet, 9),
    ("students", fb.students_homework, 100),
    ("personal_assistant", fb.personal_assistant, 170),
    ("generic_system_prompt", fb.bring_your_own_key, 160),
    ("casual", fb.occasional, 320),
    ("reasoning_model", fb.reasoning_researchers, 40),
    ("translation", fb.translators, 50),
    ("translation", fb.localisation_pipeline, 4),
    ("coding", fb.developers_chat, 60),
    ("coding", fb.inline_completion, 25),
    ("agents_tools", fb.agents, 36),
    ("batch_classification", fb.review_moderation, 6),
    ("summarisation", fb.news_digest, 4),
    ("data_extraction", fb.clinical_extraction, 6),
    ("evaluation_run", fb.one_off_eval, 8),
    ("evaluation_run", fb.model_comparison, 3),
]
_FRESH_ATTACKS = [
    # style, builder, requests, keys
    ("chain_of_thought", fa.fresh_worked_solutions, 1000, 1),
    ("chain_of_thought", fa.fresh_zh_solver_system, 1000, 1),
    ("chain_of_thought", fa.fresh_reasoner_trace, 1000, 1),
    ("logprob", fa.fresh_soft_labels, 1000, 1),
    ("logprob", fa.fresh_echo_scoring, 1000, 1),
    ("rubric", fa.fresh_grade_rubric, 1000, 1),
    ("rubric", fa.fresh_pairwise_ja_zh_fr, 1000, 1),
    ("synthetic_data", fa.fresh_synth_finance, 1000, 1),
    ("synthetic_data", fa.fresh_synth_pt_de, 1000, 1),
    ("probe", fa.fresh_probe_identity, 1000, 1),
    ("key_farm", fa.fresh_farm_round_robin, 600, 60),
    ("key_farm", fa.fresh_farm_zh_random, 600, 60),
    ("low_and_slow", fa.fresh_slow_twelve_keys, 600, 12),
    ("low_and_slow", fa.fresh_slow_shift_rotation, 320, 8),
    ("reworded", fa.fresh_reworded_compose, 1000, 1),
    ("reworded", fa.fresh_disguised_user, 1000, 1),
]


def _blind_split(split, benign, attacks):
    """The families of a split written blind, by name (kept out of FAMILIES until asked for)."""
    out = {}
    for kind, fn, n in benign:
        out[fn.__name__] = Family(fn.__name__, "benign", kind, split, fn, n, None)
    for style, fn, n, keys in attacks:
        out[fn.__name__] = Family(fn.__name__, "attack", style, split, fn, n, keys)
    return out


FRESH_FAMILIES = _blind_split(FRESH, _FRESH_BENIGN, _FRESH_ATTACKS)


def include_fresh():
    """Adds the fresh families to FAMILIES (run.py does, for `--splits fresh` or a fresh family by name)."""
    FAMILIES.update(FRESH_FAMILIES)


# ---- the `fresh2` split (a second set written blind, 2026-12-02) ------------------------------------------------
# Written after the `fresh` results had been read by the people tuning the detector, by someone who had read
# neither the detector, DETECTION.md, tools/intent, any result nor the other generators' bodies. Reported on
# only, never tuned on; added to FAMILIES by `include_fresh2()` when run.py is asked for `--splits fresh2`.
FRESH2 = "fresh2"

import fresh2_attacks as f2a  # noqa: E402
import fresh2_benign as f2b  # noqa: E402

_FRESH2_BENIGN = [
    # kind, builder, credentials
    ("consumer_qa_product", f2b.museum_guide, 5),
    ("consumer_qa_product", f2b.pharmacy_helpline, 3),
    ("students", f2b.students_steps, 150),
    ("reasoning_model", f2b.reasoning_study_group, 60),
    ("personal_assistant", f2b.household_assistant, 130),
    ("personal_assistant", f2b.voice_assistant, 80),
    ("agents_tools", f2b.ops_agent, 20),
    ("agents_tools", f2b.browser_agent, 30),
    ("rag", f2b.docs_rag_service, 6),
    ("rag", f2b.chat_with_pdf, 60),
    ("coding", f2b.pr_review_bot, 10),
    ("coding", f2b.notebook_copilot, 60),
    ("translation", f2b.subtitle_pipeline, 5),
    ("translation", f2b.phrasebook_travellers, 80),
    ("batch_classification", f2b.ticket_triage, 5),
    ("spreadsheet_batch", f2b.spreadsheet_addon, 20),
    ("summarisation", f2b.clinic_notes, 20),
    ("summarisation", f2b.newsletter_digest, 4),
    ("evaluation_run", f2b.benchmark_sweep, 5),
    ("evaluation_run", f2b.prompt_ab_test, 10),
    ("generic_system_prompt", f2b.byok_wrapper, 200),
    ("creative_writing", f2b.fiction_writers, 40),
    ("casual", f2b.occasional_users, 200),
]
_FRESH2_ATTACKS = [
    # style, builder, requests, keys
    ("chain_of_thought", f2a.f2_tutor_persona, 1000, 1),
    ("chain_of_thought", f2a.f2_prefill_reasoning, 1000, 1),
    ("chain_of_thought", f2a.f2_reasoning_summary, 1000, 1),
    ("logprob", f2a.f2_answer_distribution, 1000, 1),
    ("logprob", f2a.f2_responses_logprobs, 1000, 1),
    ("rubric", f2a.f2_reward_labels_it, 1000, 1),
    ("rubric", f2a.f2_arena_judge_ko_zh, 1000, 1),
    ("synthetic_data", f2a.f2_evol_instruct, 1000, 1),
    ("synthetic_data", f2a.f2_persona_corpus_id_sv, 1000, 1),
    ("probe", f2a.f2_identity_sweep, 1000, 1),
    ("key_farm", f2a.f2_farm_staggered, 600, 60),
    ("key_farm", f2a.f2_farm_fewshot_ru, 600, 60),
    ("low_and_slow", f2a.f2_slow_office_hours, 600, 6),
    ("low_and_slow", f2a.f2_slow_relay, 600, 10),
    ("reworded", f2a.f2_paraphrase_mill, 1000, 1),
    ("reworded", f2a.f2_fake_conversations, 1000, 1),
]
FRESH2_FAMILIES = _blind_split(FRESH2, _FRESH2_BENIGN, _FRESH2_ATTACKS)


def include_fresh2():
    """Adds the fresh2 families to FAMILIES (run.py does, for `--splits fresh2` or a fresh2 family by name)."""
    FAMILIES.update(FRESH2_FAMILIES)


# ---- the `fresh3` split (a third set written blind, 2026-12-02) ------------------------------------------------
# Written after fresh and fresh2 had both been used for tuning, by someone who had read neither the detector,
# DETECTION.md, tools/intent, any result nor the other generators' bodies. Reported on only, never tuned on;
# added to FAMILIES by `include_fresh3()` when run.py is asked for `--splits fresh3` or a fresh3 family by name.
FRESH3 = "fresh3"

import fresh3_attacks as f3a  # noqa: E402
import fresh3_benign as f3b  # noqa: E402

_FRESH3_BENIGN = [
    # kind, builder, credentials
    ("consumer_qa_product", f3b.kitchen_helper, 4),
    ("consumer_qa_product", f3b.money_faq_bot, 3),
    ("multi_tenant_saas", f3b.saas_widgets, 3),
    ("students", f3b.homework_students, 150),
    ("tutoring_app", f3b.tutor_product, 3),
    ("personal_assistant", f3b.life_assistant, 160),
    ("agents_tools", f3b.research_agents, 30),
    ("agents_tools", f3b.claude_ops_agents, 20),
    ("rag", f3b.rag_helpdesk, 8),
    ("coding", f3b.dev_chat, 70),
    ("coding", f3b.pr_review_bot, 6),
    ("translation", f3b.tm_pipeline, 5),
    ("translation", f3b.travellers, 60),
    ("batch_classification", f3b.moderation_logprobs, 4),
    ("reranker", f3b.search_reranker, 3),
    ("constrained_choice", f3b.expense_categoriser, 20),
    ("summarisation", f3b.news_digest, 4),
    ("summarisation", f3b.clinic_scribe, 30),
    ("evaluation_run", f3b.eval_cot_harness, 5),
    ("llm_as_judge", f3b.qa_judge_pipeline, 4),
    ("synthetic_test_data", f3b.test_fixtures, 5),
    ("generic_system_prompt", f3b.chat_ui_users, 200),
    ("casual", f3b.occasional, 220),
    ("reasoning_model", f3b.reasoning_users, 40),
]
_FRESH3_ATTACKS = [
    # style, builder, requests, keys
    ("chain_of_thought", f3a.f3_cot_exam_coach, 1000, 1),
    ("chain_of_thought", f3a.f3_cot_thinking_trace, 1000, 1),
    ("chain_of_thought", f3a.f3_cot_tutor_front, 1000, 1),
    ("logprob", f3a.f3_lp_topk_sequences, 1000, 1),
    ("logprob", f3a.f3_lp_responses_labels, 1000, 1),
    ("logprob", f3a.f3_lp_bias_sweep, 1000, 1),
    ("rubric", f3a.f3_judge_scores_de_ja, 1000, 1),
    ("rubric", f3a.f3_judge_pairwise_responses, 1000, 1),
    ("synthetic_data", f3a.f3_synth_self_instruct, 1000, 1),
    ("synthetic_data", f3a.f3_synth_lessons_it_pt, 1000, 1),
    ("probe", f3a.f3_probe_sysprompt_leak, 1000, 1),
    ("probe", f3a.f3_probe_behaviour_map, 1000, 1),
    ("key_farm", f3a.f3_farm_proxy_cot_fr, 600, 60),
    ("key_farm", f3a.f3_farm_byok_drip, 600, 60),
    ("low_and_slow", f3a.f3_slow_pt_drip, 600, 8),
    ("low_and_slow", f3a.f3_slow_judge_office, 320, 8),
    ("reworded", f3a.f3_reword_grammar, 1000, 1),
    ("reworded", f3a.f3_reword_fake_history, 1000, 1),
]
FRESH3_FAMILIES = _blind_split(FRESH3, _FRESH3_BENIGN, _FRESH3_ATTACKS)


def include_fresh3():
    """Adds the fresh3 families to FAMILIES (run.py does, for `--splits fresh3` or a fresh3 family by name)."""
    FAMILIES.update(FRESH3_FAMILIES)
