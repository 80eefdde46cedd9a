"""Scores text with the shipped weights (src/intent/weights.bin), exactly as the filter does.

    python3 tools/intent/score.py "Think step by step: ..."       # one text: class probabilities
    python3 tools/intent/score.py --jsonl FILE [--limit N]         # labelled prompts: precision/recall

A labelled file has one JSON object a line with `text` and `label` (ordinary, chain_of_thought, rubric,
synthetic_data, probe) and optionally `family` and `lang`; e.g. `make detect-eval-dump` writes one
(target/intent-prompts.jsonl) from the evaluation harness's generators, written independently of the
templates this model was trained on.
"""

import argparse
import json
import struct
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import features as F  # noqa: E402
import templates as T  # noqa: E402
import train  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def load(path=ROOT / "src" / "intent" / "weights.bin"):
    data = path.read_bytes()
    if data[:4] != b"DGIN" or struct.unpack("<I", data[4:8])[0] != F.BITS:
        raise SystemExit(f"{path}: not a weights file for BITS={F.BITS}")
    bias = list(struct.unpack("<4f", data[8:24]))
    scale = struct.unpack("<f", data[24:28])[0]
    q = [b - 256 if b > 127 else b for b in data[28:]]
    return q, bias, scale


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("text", nargs="*")
    ap.add_argument("--jsonl")
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    model = load()
    if not args.jsonl:
        for text in args.text:
            p = train.probs(model, *train.evidence(model, F.mask(text)))
            print(" ".join(f"{c}={v:.3f}" for c, v in zip(T.CLASSES, p)), "|", text)
        return
    rows = [json.loads(line) for line in Path(args.jsonl).read_text(encoding="utf-8").split("\n") if line.strip()]
    if args.limit:
        rows = rows[:: max(1, len(rows) // args.limit)]
    pairs = []
    tops = []
    by_family = defaultdict(Counter)
    for r in rows:
        p = train.probs(model, *train.evidence(model, F.mask(r["text"])))
        pred = T.CLASSES[max(range(len(p)), key=lambda i: (p[i], -i))]
        tops.append((r["label"], max(p[1:])))
        pairs.append((r["label"], pred))
        by_family[(r["label"], r.get("family", "?"), r.get("lang", "?"))][pred] += 1
    print(f"{len(rows)} labelled prompts from {args.jsonl}\n")
    print("| class | examples | precision | recall |")
    print("|---|---:|---:|---:|")
    for c, n, p, rec in train.pr_table(pairs, T.CLASSES):
        print(f"| {c} | {n} | {p:.3f} | {rec:.3f} |")
    print("\n| threshold on the top attack probability | ordinary scored attack | attacks caught |")
    print("|---:|---:|---:|")
    ords = [t for label, t in tops if label == "ordinary"]
    atts = [t for label, t in tops if label != "ordinary"]
    for th in (0.5, 0.8, 0.9, 0.95):
        fp = sum(t >= th for t in ords) / max(1, len(ords))
        rec = sum(t >= th for t in atts) / max(1, len(atts))
        print(f"| {th} | {fp:.3f} | {rec:.3f} |")
    print("\n| label | family | lang | examples | scored as its label | scored ordinary |")
    print("|---|---|---|---:|---:|---:|")
    for (label, fam, lang), cnt in sorted(by_family.items()):
        n = sum(cnt.values())
        print(f"| {label} | {fam} | {lang} | {n} | {cnt[label] / n:.3f} | {cnt['ordinary'] / n:.3f} |")


if __name__ == "__main__":
    main()
