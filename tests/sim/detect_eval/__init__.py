"""An evaluation of distill-guard's detection that is independent of the detector: many independently
written generator families per benign kind and attack style, split into `tune` and `heldout`, real human
text from public packages, per-workload answer lengths and heavy-tailed human pacing, run through the real
Envoy with the shipped default policy. Entry point: `run.py` (`make detect-eval`)."""
