"""A small run of the traffic simulator as a regression guard for detection quality: every attack is
tagged within 200 requests and throttled or blocked within 1,000, and no benign credential is ever
tagged. The full evaluation (`make detect-eval`) is reported in DETECTION.md."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sim"))

import simulate  # noqa: E402


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
