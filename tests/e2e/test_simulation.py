"""Small runs of the traffic simulators as regression guards for detection quality.

1. The original simulator (tests/sim/simulate.py, written with the detector): every attack is tagged
   within 200 requests and throttled or blocked within 1,000, and no benign credential is ever tagged.
2. The independent evaluation (tests/sim/detect_eval, `make detect-eval`), reduced to one held-out
   benign family and one held-out attack family, both worlds. Held-out families are never used to tune
   the detector, so this keeps CI honest about traffic the detector was not shaped on.
The full evaluation is reported in DETECTION.md."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sim"))
sys.path.insert(0, os.path.join(HERE, "..", "sim", "detect_eval"))

import simulate  # noqa: E402
import run as detect_eval  # noqa: E402
from families import FAMILIES, HELDOUT  # noqa: E402


def test_small_simulation_meets_the_detection_targets():
    results = simulate.run(seed=11, scale=0.25, log=lambda *_: None)
    rows, totals = simulate.summarise(results)
    report = simulate.markdown(rows, totals, 11, 0.25)
    for r in rows:
        if r["kind"] == "attack":
            assert r["first_tag"] is not None and r["first_tag"] <= 200, report
            assert r["first_enforce"] is not None and r["first_enforce"] <= 1000, report
        else:
            assert r["enforced"] == 0, report
            # Known false positive (DETECTION.md, Known limits): the intent model reads some few-shot MMLU
            # prompts of the one-off evaluation run as synthetic data, so that run may be tagged or
            # degraded (never throttled or blocked). Every other benign workload stays untagged.
            if r["scenario"] != "eval_harness":
                assert r["tagged"] == 0, report
    assert totals["benign_tagged"] <= 1, report


BENIGN = ("casual_multilingual", "casual_steady")
ATTACKS = ("logit_bias_completions", "synth_fr")


def test_held_out_families_on_the_independent_evaluation():
    """Two held-out benign families (one is the dozen-messages-at-a-steady-pace case that used to be
    tagged on a cadence from ten gaps) and two held-out attacks: logit-bias extraction (a request
    parameter) and French synthetic-data requests with no listed phrase (only the intent model sees
    what they ask for)."""
    assert all(FAMILIES[f].split == HELDOUT for f in BENIGN + ATTACKS)
    rows = detect_eval.evaluate([7], 1.0, list(BENIGN + ATTACKS), log=lambda *_: None)
    summary = detect_eval.summarise(rows)
    report = detect_eval.markdown(summary, [7], 1.0)
    benign = {b["family"]: b for b in summary["benign"]}
    assert set(benign) == set(BENIGN), report
    assert benign["casual_multilingual"]["credentials"] == 150 and benign["casual_multilingual"]["requests"] >= 1200
    assert benign["casual_steady"]["credentials"] == 100, report
    for b in benign.values():  # 250 people: at most 2 tagged (0.8%), none throttled or blocked
        assert b["enforced"] == 0, report
    assert sum(b["tagged"] for b in benign.values()) <= 2, report
    worlds = {(a["family"], a["world"]): a for a in summary["attacks"]}
    assert set(worlds) == {(f, w) for f in ATTACKS for w in ("long", "short")}, report
    for (family, _world), a in worlds.items():  # both caught in both worlds
        assert a["meets_target"], report
        # Extraction parameters on most requests are sustained evidence at once; text intent is enforced
        # once sustained over `detection.sustained_intent_requests` (350) requests.
        assert a["first_enforce"][0] <= (50 if family == "logit_bias_completions" else 600), report


# ---- the evaluation's own invariants (no Envoy) --------------------------------------------------

import glob  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402

import attacks  # noqa: E402
import families  # noqa: E402
from stats import clopper_pearson_upper  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def test_every_kind_and_style_has_tune_and_held_out_families_and_the_population_is_large_enough():
    by = {}
    for f in FAMILIES.values():
        by.setdefault((f.kind, f.style), set()).add(f.split)
    for (kind, style), splits in by.items():
        assert splits == {families.TUNE, HELDOUT}, f"{kind} {style}: {splits}"
    benign = [f for f in FAMILIES.values() if f.kind == "benign"]
    assert len({f.style for f in benign}) >= 10
    assert sum(families.scaled(f, 1.0) for f in benign) >= 1000
    assert len({f.style for f in FAMILIES.values() if f.kind == "attack"}) == 8


def test_clopper_pearson_upper_bound_matches_known_values():
    assert abs(clopper_pearson_upper(0, 1000) - 0.003682) < 1e-5
    assert abs(clopper_pearson_upper(10, 1000) - 0.018313) < 1e-5
    assert clopper_pearson_upper(5, 5) == 1.0
    assert clopper_pearson_upper(3, 100) > 0.03


def test_the_labelled_dump_holds_tune_families_only(tmp_path):
    path = tmp_path / "dump.jsonl"
    counts = detect_eval.dump(str(path), [1], 0.05)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]
    assert len(rows) == sum(counts.values()) > 500
    assert {r["label"] for r in rows} == set(families.INTENT_LABELS)
    assert all(FAMILIES[r["family"]].split == families.TUNE and r["split"] == "tune" for r in rows)
    assert len({r["lang"] for r in rows}) >= 5


def _shipped_phrases():
    """Every string literal of the detector's shipped phrase lists (`fn default_phrases` in src/)."""
    for path in glob.glob(os.path.join(ROOT, "src", "**", "*.rs"), recursive=True):
        text = open(path, encoding="utf-8").read()
        m = re.search(r"fn default_phrases\(\)[^{]*\{(.*?)\n\}", text, re.S)
        if m:
            return re.findall(r'"([^"\\]+)"', m.group(1))
    return []


def _masked(text):
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def test_reworded_families_use_none_of_the_shipped_phrases():
    """The reworded and held-out 'no listed phrase' generators must stay outside the phrase lists. If
    this fails after a phrase was added, either the lists were tuned on held-out families (not allowed)
    or the family must be rewritten and DETECTION.md must say so."""
    phrases = _shipped_phrases()
    assert len(phrases) >= 50, "the shipped phrase lists were not found in src/ (fn default_phrases)"
    instructions = (attacks.REWORD_EN + [t for _, t in attacks.REWORD_MULTI] + attacks.OPENERS + attacks.CLOSERS
                    + ["Before answering, write down each deduction you make, one per line, numbered, and then state "
                       "the conclusion after 'So:'.", "请把你得出结论的每一个环节都写清楚，编号列出，然后给出结论。",
                       "Which reply would the user find more useful, 1 or 2? Start with the number, then give your "
                       "reasons.", "Write 12 realistic, varied conversations between a user and an assistant about"])
    for text in instructions:
        hits = [p for p in phrases if p in _masked(text)]
        assert not hits, f"{text!r} contains listed phrases {hits}"
