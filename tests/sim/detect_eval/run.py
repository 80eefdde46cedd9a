#!/usr/bin/env python3
"""Detection evaluation through the real Envoy, the filter and the shipped default policy (plus only
`detection.clock_header`, so that a simulated day runs in a minute or two).

    python3 tests/sim/detect_eval/run.py [--seeds 1 2 3] [--scale 1.0] [--families a,b] [--splits tune,heldout]
                                         [--json out.json] [--markdown out.md] [--strict]
    python3 tests/sim/detect_eval/run.py --dump target/intent-prompts.jsonl   # labelled prompts, tune families only

For every seed, two worlds each get their own Envoy: the "long" world runs the whole benign population
(per-workload answer lengths) and every attack family with realistic long answers; the "short" world
runs every attack family again with ~40-token answers. Requests are sent one at a time in simulated-time
order; each request's verdict is what the upstream received in `x-distill-verdict` (or 429 = throttle,
403 = block). A one-key attack stops 20 requests after its first throttle/block (the rest would only
repeat it); every other family runs to its end.
"""
import argparse
import json
import os
import random
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import HOUR, ROOT, T0, Corpus, simulate  # noqa: E402
from families import (FAMILIES, FRESH, FRESH2, FRESH2_FAMILIES, FRESH3, FRESH3_FAMILIES, FRESH_FAMILIES,  # noqa: E402
                      HELDOUT, INTENT_LABELS, TUNE, build, include_fresh, include_fresh2, include_fresh3)
from stats import clopper_pearson_upper  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from harness import Envoy  # noqa: E402

SEVERITY = simulate.SEVERITY
WORLDS = ("long", "short")
TAG_TARGET, ENFORCE_TARGET, FARM_TARGET = 200, 1000, 0.9
AFTER_ENFORCE = 20


def events_for(seed, world, names, scale, corpus):
    out = []
    for name in names:
        f = FAMILIES[name]
        if world == "short" and f.kind == "benign":
            continue
        # Each family draws from its own generator, so adding or removing a family changes no other's
        # traffic. Benign days start at simulated midnight; attacks begin while people are about.
        rng = random.Random(f"{seed}/{world}/{name}")
        t0 = T0 if f.kind == "benign" else T0 + rng.uniform(6, 14) * HOUR
        out.extend(build(f, rng, corpus, scale, t0, world))
    out.sort(key=lambda e: e.t)
    return out


def verdict_of(r, recorder, before):
    """(verdict, signals) of one exchange."""
    if r.status == 429 and r.header("retry-after"):
        return "throttle", ""
    if r.status == 403:
        return "block", ""
    if r.status != 200:  # counted apart, so a generator sending what the APIs reject shows in the report
        return f"error_{r.status}", ""
    if recorder.count > before:
        seen = dict(recorder.items[-1]["headers"])
        return seen.get("x-distill-verdict", "allow"), seen.get("x-distill-signals", "")
    return "allow", ""


def run_world(seed, world, names, scale, corpus, log):
    events = events_for(seed, world, names, scale, corpus)
    log(f"seed {seed}, {world}-answer world: {len(events)} requests from "
        f"{len({e.scenario for e in events})} families")
    fam = {}
    envoy = Envoy(simulate.sim_policy(), concurrency=2)
    try:
        recorder, sender = envoy.mock.recorder, simulate.Sender(envoy.port)
        started, sent = time.time(), 0
        for e in events:
            f = FAMILIES[e.scenario]
            s = fam.setdefault(e.scenario, {"requests": 0, "first_tag": None, "first_enforce": None, "creds": {},
                                            "verdicts": Counter(), "stopped_early": False})
            if f.kind == "attack" and f.keys == 1 and s["first_enforce"] is not None \
                    and s["requests"] >= s["first_enforce"] + AFTER_ENFORCE:
                s["stopped_early"] = True
                continue
            if e.path == "/v1/messages":
                headers = {"x-api-key": e.key, "anthropic-version": "2023-06-01"}
            else:
                headers = {"authorization": f"Bearer {e.key}"}
            headers[simulate.CLOCK_HEADER] = str(e.t)
            headers.update(e.headers)
            before = recorder.count
            verdict, signals = verdict_of(sender.send(e.path, e.body, headers), recorder, before)
            sent += 1
            sev = SEVERITY.get(verdict, 0)
            s["requests"] += 1
            s["verdicts"][verdict] += 1
            c = s["creds"].setdefault(e.key, {"requests": 0, "worst": 0, "first_tag": None, "tag_signals": ""})
            c["requests"] += 1
            c["worst"] = max(c["worst"], sev)
            if sev >= 1 and c["first_tag"] is None:
                c["first_tag"], c["tag_signals"] = c["requests"], signals
            if sev >= 1 and s["first_tag"] is None:
                s["first_tag"] = s["requests"]
            if sev >= 3 and s["first_enforce"] is None:
                s["first_enforce"] = s["requests"]
            if sent % 5000 == 0:
                log(f"  {sent} requests ({time.time() - started:.0f} s)")
        envoy.assert_no_trap()
        log(f"  {sent} requests in {time.time() - started:.0f} s")
    finally:
        envoy.close()
    return fam


def family_row(name, world, s):
    f = FAMILIES[name]
    creds = s["creds"]
    tagged = [k for k, c in creds.items() if c["worst"] >= 1]
    return {"family": name, "kind": f.kind, "style": f.style, "split": f.split, "world": world,
            "requests": s["requests"], "credentials": len(creds), "tagged": len(tagged),
            "enforced": sum(1 for c in creds.values() if c["worst"] >= 3),
            "first_tag": s["first_tag"], "first_enforce": s["first_enforce"], "stopped_early": s["stopped_early"],
            "verdicts": dict(s["verdicts"]),
            "tag_signals": dict(Counter(creds[k]["tag_signals"] for k in tagged).most_common(5)),
            "requests_to_tag_per_credential": sorted(creds[k]["first_tag"] for k in tagged)}


def evaluate(seeds, scale, names, log=print):
    corpus = Corpus()
    rows = []
    for seed in seeds:
        for world in WORLDS:
            world_names = [n for n in names if world == "long" or FAMILIES[n].kind == "attack"]
            if not world_names:
                continue
            fam = run_world(seed, world, world_names, scale, corpus, log)
            for name, s in fam.items():
                row = family_row(name, world, s)
                row["seed"] = seed
                rows.append(row)
    return rows


def summarise(rows):
    """Per-family aggregates over seeds, per-split benign totals with 95% bounds, and the targets."""
    benign, attacks = {}, {}
    for r in rows:
        if r["kind"] == "benign":
            b = benign.setdefault(r["family"], {"family": r["family"], "kind": r["style"], "split": r["split"],
                                                "credentials": 0, "requests": 0, "tagged": 0, "enforced": 0,
                                                "tag_signals": Counter()})
            for k in ("credentials", "requests", "tagged", "enforced"):
                b[k] += r[k]
            b["tag_signals"].update(r["tag_signals"])
        else:
            a = attacks.setdefault((r["family"], r["world"]), {
                "family": r["family"], "style": r["style"], "split": r["split"], "world": r["world"],
                "first_tag": [], "first_enforce": [], "keys": [], "keys_tagged": [], "requests": [], "worst": []})
            a["first_tag"].append(r["first_tag"])
            a["first_enforce"].append(r["first_enforce"])
            a["keys"].append(r["credentials"])
            a["keys_tagged"].append(r["tagged"])
            a["requests"].append(r["requests"])
            a["worst"].append(max(r["verdicts"], key=lambda v: SEVERITY.get(v, 0)) if r["verdicts"] else "-")
    for b in benign.values():
        b["tag_rate"] = b["tagged"] / b["credentials"] if b["credentials"] else 0.0
        b["tag_rate_upper95"] = clopper_pearson_upper(b["tagged"], b["credentials"])
        b["tag_signals"] = dict(b["tag_signals"].most_common(4))
    totals = {}
    # the blind splits (fresh, fresh2, fresh3) are reported apart, each only when it ran
    blind = tuple(x for x in (FRESH, FRESH2, FRESH3) if any(r["split"] == x for r in rows))
    for split in (TUNE, HELDOUT) + blind + ("all",):
        bs = [b for b in benign.values() if split == "all" or b["split"] == split]
        n, k = sum(b["credentials"] for b in bs), sum(b["tagged"] for b in bs)
        totals[split] = {"credentials": n, "tagged": k, "tag_rate": k / n if n else 0.0,
                         "tag_rate_upper95": clopper_pearson_upper(k, n), "enforced": sum(b["enforced"] for b in bs)}
    for a in attacks.values():
        multi = max(a["keys"]) > 1
        a["tag_ok"] = all(x is not None and x <= TAG_TARGET for x in a["first_tag"])
        a["enforce_ok"] = all(x is not None and x <= ENFORCE_TARGET for x in a["first_enforce"])
        a["keys_tagged_share"] = (min(t / k for t, k in zip(a["keys_tagged"], a["keys"])) if multi else None)
        a["farm_ok"] = (a["keys_tagged_share"] >= FARM_TARGET) if (multi and a["style"] == "key_farm") else True
        a["meets_target"] = a["tag_ok"] and a["enforce_ok"] and a["farm_ok"]
    held = totals[HELDOUT]
    targets = {
        "heldout_benign_tag_rate_at_most_1pct": held["credentials"] > 0 and held["tag_rate"] <= 0.01,
        "heldout_benign_upper95_under_2pct": held["credentials"] > 0 and held["tag_rate_upper95"] < 0.02,
        "heldout_benign_none_enforced": held["enforced"] == 0,
        "heldout_attacks_meet_targets": all(a["meets_target"] for a in attacks.values() if a["split"] == HELDOUT),
    }
    out = {"benign": sorted(benign.values(), key=lambda b: (b["split"], b["kind"], b["family"])),
           "attacks": sorted(attacks.values(), key=lambda a: (a["split"], a["style"], a["family"], a["world"])),
           "benign_totals": totals, "targets": targets}
    for x in blind:
        fr = totals[x]
        out[f"{x}_targets"] = {
            f"{x}_benign_tag_rate_at_most_1pct": fr["credentials"] > 0 and fr["tag_rate"] <= 0.01,
            f"{x}_benign_upper95_under_2pct": fr["credentials"] > 0 and fr["tag_rate_upper95"] < 0.02,
            f"{x}_benign_none_enforced": fr["enforced"] == 0,
            f"{x}_attacks_meet_targets": all(a["meets_target"] for a in attacks.values() if a["split"] == x),
        }
    return out


def _seeds(xs):
    return " / ".join("-" if x is None else str(x) for x in xs)


def _pct(x):
    return f"{100 * x:.2f}%"


def markdown(summary, seeds, scale):
    out = [f"Seeds {', '.join(map(str, seeds))}; scale {scale}. Benign rates pool the seeds' credentials; attack "
           "columns list one value per seed (`-` = never reached).", "",
           "**Benign credentials, by split** (95% upper bound: exact Clopper-Pearson, two-sided)", "",
           "| split | credentials | tagged | tag rate | 95% upper | throttled/blocked |", "|---|---|---|---|---|---|"]
    for split, t in summary["benign_totals"].items():
        out.append(f"| {split} | {t['credentials']} | {t['tagged']} | {_pct(t['tag_rate'])} | "
                   f"{_pct(t['tag_rate_upper95'])} | {t['enforced']} |")
    blind = tuple(x for x in (FRESH, FRESH2, FRESH3) if f"{x}_targets" in summary)
    splits = blind + (HELDOUT, TUNE)
    if blind:  # a run with a blind split shows only the splits it ran
        ran = {x["split"] for x in summary["benign"] + summary["attacks"]}
        splits = tuple(x for x in splits if x in ran)
    for split in splits:
        out += ["", f"**Benign families, {split}**", "",
                "| family | kind | credentials | requests | tagged | tag rate | 95% upper | throttled/blocked | signals at first tag |",
                "|---|---|---|---|---|---|---|---|---|"]
        for b in summary["benign"]:
            if b["split"] != split:
                continue
            sig = "; ".join(f"{k} ×{v}" for k, v in b["tag_signals"].items()) or "-"
            out.append(f"| {b['family']} | {b['kind']} | {b['credentials']} | {b['requests']} | {b['tagged']} | "
                       f"{_pct(b['tag_rate'])} | {_pct(b['tag_rate_upper95'])} | {b['enforced']} | {sig} |")
    for split in splits:
        out += ["", f"**Attack families, {split}** (targets: tag within {TAG_TARGET} requests, throttle/block within "
                f"{ENFORCE_TARGET}, key farms ≥ {int(FARM_TARGET * 100)}% of keys tagged)", "",
                "| family | style | world | requests to first tag | requests to first throttle/block | worst verdict | keys tagged | target met |",
                "|---|---|---|---|---|---|---|---|"]
        for a in summary["attacks"]:
            if a["split"] != split:
                continue
            keys = (" / ".join(f"{t}/{k}" for t, k in zip(a["keys_tagged"], a["keys"]))
                    if max(a["keys"]) > 1 else "-")
            out.append(f"| {a['family']} | {a['style']} | {a['world']} | {_seeds(a['first_tag'])} | "
                       f"{_seeds(a['first_enforce'])} | {_seeds(a['worst'])} | {keys} | {'yes' if a['meets_target'] else 'NO'} |")
    if HELDOUT in splits:
        out += ["", "**Targets (held-out families)**: " + "; ".join(
            f"{k.replace('_', ' ')}: {'yes' if v else 'NO'}" for k, v in summary["targets"].items())]
    for x in blind:
        out += ["", f"**Targets ({x} families, written blind)**: " + "; ".join(
            f"{k.replace('_', ' ')}: {'yes' if v else 'NO'}" for k, v in summary[f"{x}_targets"].items())]
    return "\n".join(out)


def family_table():
    out = ["| family | benign kind / attack style | split | size at scale 1 | what it is |", "|---|---|---|---|---|"]
    for f in sorted(FAMILIES.values(), key=lambda f: (f.kind != "benign", f.style, f.split, f.name)):
        size = f"{f.size} credentials" if f.kind == "benign" else f"{f.size} requests" + (f", {f.keys} keys" if f.keys > 1 else "")
        doc = (f.build.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        doc = " ".join(doc.split())
        out.append(f"| {f.name} | {f.kind}: {f.style} | {f.split} | {size} | {doc or '-'} |")
    return "\n".join(out)


def dump(path, seeds, scale):
    """Labelled prompts of the tune families (never the held-out ones), deduplicated."""
    corpus = Corpus()
    names = [n for n, f in FAMILIES.items() if f.split == TUNE]
    seen, n = set(), Counter()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for seed in seeds:
            for world in WORLDS:
                for e in events_for(seed, world, names, scale, corpus):
                    if e.intent not in INTENT_LABELS:
                        continue
                    text, sys_text = prompt_of(e.body)
                    if not text or (text, sys_text) in seen:
                        continue
                    seen.add((text, sys_text))
                    n[e.intent] += 1
                    rec = {"text": text[:2000], "label": e.intent, "family": e.scenario, "split": TUNE,
                           "lang": e.lang, "kind": e.kind}
                    if sys_text:
                        rec["system"] = sys_text[:2000]
                    out.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return n


def _text(v):
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return " ".join(_text(x.get("text") or x.get("content") or "") if isinstance(x, dict) else _text(x) for x in v)
    return ""


def prompt_of(body):
    """(last user message, system prompt) of a request body, for the dump."""
    if "messages" in body:
        users = [m for m in body["messages"] if m.get("role") == "user"]
        sys_text = body.get("system") or " ".join(_text(m["content"]) for m in body["messages"] if m.get("role") == "system")
        return (_text(users[-1]["content"]) if users else ""), _text(sys_text)
    if "prompt" in body:
        return _text(body["prompt"]), ""
    return _text(body.get("input")), _text(body.get("instructions") or "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every family's size")
    ap.add_argument("--families", default="", help="comma list (default: all)")
    ap.add_argument("--splits", default="tune,heldout", help="tune, heldout, fresh, fresh2 and/or fresh3 (written blind; "
                    "each reported in its own section, never part of `make detect-eval`)")
    ap.add_argument("--json", default="", help="write rows and summary here")
    ap.add_argument("--markdown", default="", help="write the readable report here too")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a held-out target is missed")
    ap.add_argument("--dump", default="", help="write the tune families' labelled prompts (JSONL) here and exit")
    ap.add_argument("--list", action="store_true", help="print the families (markdown) and exit")
    a = ap.parse_args()
    if FRESH in a.splits.split(",") or any(n in FRESH_FAMILIES for n in a.families.split(",")):
        include_fresh()
    if FRESH2 in a.splits.split(",") or any(n in FRESH2_FAMILIES for n in a.families.split(",")):
        include_fresh2()
    if FRESH3 in a.splits.split(",") or any(n in FRESH3_FAMILIES for n in a.families.split(",")):
        include_fresh3()
    if a.list:
        print(family_table())
        return 0
    if a.dump:
        counts = dump(a.dump, a.seeds, a.scale)
        print(f"{sum(counts.values())} labelled prompts -> {a.dump}: {dict(counts)}")
        return 0
    splits = set(a.splits.split(","))
    names = [n for n in a.families.split(",") if n] or [n for n, f in FAMILIES.items() if f.split in splits]
    for n in names:
        if n not in FAMILIES:
            ap.error(f"unknown family {n}; known: {', '.join(FAMILIES)}")
    started = time.time()
    rows = evaluate(a.seeds, a.scale, names)
    summary = summarise(rows)
    report = markdown(summary, a.seeds, a.scale)
    print(report)
    print(f"\n({time.time() - started:.0f} s)")
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({"seeds": a.seeds, "scale": a.scale, "rows": rows, "summary": summary}, f, indent=1)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(report + "\n")
    return 1 if a.strict and not all(summary["targets"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
