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
    assert totals["benign_tagged"] == 0, report


BENIGN, ATTACK = "casual_multilingual", "logit_bias_completions"


def test_held_out_families_on_the_independent_evaluation():
    assert FAMILIES[BENIGN].split == HELDOUT and FAMILIES[ATTACK].split == HELDOUT
    rows = detect_eval.evaluate([7], 1.0, [BENIGN, ATTACK], log=lambda *_: None)
    summary = detect_eval.summarise(rows)
    report = detect_eval.markdown(summary, [7], 1.0)
    (benign,) = summary["benign"]
    assert benign["credentials"] == 150 and benign["requests"] >= 1200, report
    # 150 casual users of a dozen messages in many languages: at most 2 tagged (1.3%), none throttled or blocked
    assert benign["tagged"] <= 2 and benign["enforced"] == 0, report
    worlds = {a["world"]: a for a in summary["attacks"]}
    assert set(worlds) == {"long", "short"}, report
    for a in worlds.values():  # logit-bias extraction is caught in both worlds
        assert a["meets_target"], report
        assert a["first_enforce"][0] <= 50, report
