"""`make report` and `make credential-id` on the log of the real Envoy driven by the traffic simulator:
every flagged request the simulator saw is in the report under its credential's id with the worst
verdict it got, benign credentials are not, a time range splits the log without losing a line, and
the credential id helper gives the id Envoy logged for a key without echoing the key."""
import datetime
import json
import os
import subprocess
import sys

import pytest

from harness import ROOT, credential_id

sys.path.insert(0, os.path.join(ROOT, "tests", "sim"))
import simulate  # noqa: E402

REPORT = os.path.join(ROOT, "target", "release", "examples", "report")
SCENARIOS = ["chat_users", "rag_app", "cot_harvest", "key_farm"]
VERDICTS = ["allow", "tag", "degrade", "throttle", "block"]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    if not os.path.exists(REPORT):
        subprocess.run(["make", "-s", "report-tool"], cwd=ROOT, check=True)
    d = tmp_path_factory.mktemp("report")
    log = str(d / "envoy.log")
    policy = simulate.sim_policy(0.1)
    keys = {}
    results = simulate.run(seed=5, scale=0.1, names=SCENARIOS, log=lambda *_: None, keep_log=log)
    for name, s in results.items():
        for key, worst in s["credentials"].items():
            keys[key] = (name, s["kind"], worst)
    return log, policy, keys, results, d


def report(*args, stdin=None, env=None):
    r = subprocess.run([REPORT, *args], capture_output=True, text=True, input=stdin, timeout=60,
                       env=dict(os.environ, **(env or {})))
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_report_lists_every_flagged_credential_with_its_worst_verdict(simulated):
    log, policy, keys, results, _d = simulated
    data = json.loads(report(log, "--json", "--top", "100000"))
    by_id = {c["credential"]: c for c in data["credentials"]}
    secret = policy["credential"]["hash_secret"]
    attacks = [k for k, (_, kind, _) in keys.items() if kind == "attack"]
    assert attacks
    flagged_seen = {}
    for key, (scenario, kind, worst) in keys.items():
        cid = credential_id(secret, key)
        if worst == 0:
            assert cid not in by_id, f"{scenario} key {key} was never flagged but is in the report"
            continue
        assert cid in by_id, f"{scenario} key {key} ({cid}) was flagged ({VERDICTS[worst]}) but is not in the report"
        assert by_id[cid]["tier"] == VERDICTS[worst], (key, by_id[cid])
        # The shipped policy runs detection in shadow: computed and reported, never carried out.
        assert by_id[cid]["enforcement"] == "shadow"
        flagged_seen[scenario] = flagged_seen.get(scenario, 0) + by_id[cid]["flagged_requests"]
    # Every non-allow verdict the simulator observed is one line in the report, no more.
    for scenario, s in results.items():
        observed = sum(n for v, n in s["verdicts"].items() if v != "allow")
        assert flagged_seen.get(scenario, 0) == observed, (scenario, s["verdicts"])
    assert data["flagged_requests"] == sum(flagged_seen.values())
    # The attack that got enforced is ranked above everything that only got tagged.
    top = data["credentials"][0]
    assert top["tier"] in ("throttle", "block") and top["max_score"] >= 0.7, top
    assert top["top_signals"], top
    cot = by_id[credential_id(secret, "sk-attack-cot")]
    assert cot["first_seen"] <= cot["last_seen"]
    assert data["policy"] == {"mode": "Enforce", "revision": str(policy["revision"])}


def test_token_totals_are_what_the_upstream_reported_for_the_flagged_requests(simulated):
    log, policy, _keys, results, _d = simulated
    data = json.loads(report(log, "--json", "--top", "100000"))
    by_id = {c["credential"]: c for c in data["credentials"]}
    secret = policy["credential"]["hash_secret"]
    want = {}
    for s in results.values():
        for key, (inp, out) in s["flagged_tokens"].items():
            w = want.setdefault(credential_id(secret, key), [0, 0])
            w[0] += inp
            w[1] += out
    assert want and sum(i for i, _ in want.values()) > 0, "no flagged request reached the upstream"
    for cid, (inp, out) in want.items():
        c = by_id[cid]
        assert (c["input_tokens"], c["output_tokens"]) == (inp, out), (cid, c)
        # Every response in the simulation reports usage: nothing is an estimate.
        assert c["estimated_requests"] == 0 and c["settled_requests"] >= 1, c
    # Credentials flagged only by refusals settled nothing; the totals are the sums.
    for cid, c in by_id.items():
        if cid not in want:
            assert (c["input_tokens"], c["output_tokens"]) == (0, 0), c
    assert data["input_tokens"] == sum(i for i, _ in want.values())
    assert data["output_tokens"] == sum(o for _, o in want.values())
    with open(log) as f:
        settled = [line for line in f if 'distill-guard {"settled"' in line]
    assert settled and not any("sk-" in line for line in settled), "no key in the log"


def test_a_time_range_splits_the_log_without_losing_a_line(simulated):
    log, *_ = simulated
    whole = json.loads(report(log, "--json"))
    cot = max(whole["credentials"], key=lambda c: c["flagged_requests"])
    # Split at a moment inside the busiest credential's activity.
    middle = cot["first_seen"]
    before = json.loads(report(log, "--json", "--until", middle))
    next_ms = datetime.datetime.strptime(middle, "%Y-%m-%d %H:%M:%S.%f") + datetime.timedelta(milliseconds=1)
    after = json.loads(report(log, "--json", "--since", next_ms.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]))
    assert before["flagged_requests"] + after["flagged_requests"] == whole["flagged_requests"]
    assert before["flagged_requests"] >= 1 and after["to"] == whole["to"]
    # A relative range ending at the last line, and stdin instead of a file, read the same lines.
    with open(log) as f:
        text = f.read()
    assert json.loads(report("-", "--json", "--since", "1d", stdin=text))["flagged_requests"] == whole["flagged_requests"]


def test_text_and_html_outputs(simulated):
    log, policy, _keys, _results, d = simulated
    out = report(log, "--top", "3", "--html", str(d / "r.html"))
    cid = credential_id(policy["credential"]["hash_secret"], "sk-attack-cot")
    assert "Credentials (by highest score" in out and cid in out
    html = (d / "r.html").read_text()
    assert cid in html and "<svg" in html and "<script" not in html and "http" not in html.replace("http-equiv", "")


def test_bad_arguments_are_named():
    r = subprocess.run([REPORT, "--since", "last tuesday", "/dev/null"], capture_output=True, text=True)
    assert r.returncode == 2 and "--since" in r.stderr
    r = subprocess.run([REPORT, "/no/such/log"], capture_output=True, text=True)
    assert r.returncode == 2 and "/no/such/log" in r.stderr


def test_credential_id_matches_the_id_envoy_logged_without_echoing_the_key(simulated):
    log, policy, _keys, _results, d = simulated
    with open(log) as f:
        logged = {json.loads(line.split("distill-guard ", 1)[1])["credential"]
                  for line in f if "distill-guard {" in line and '"credential"' in line}
    path = d / "policy.json"
    path.write_text(json.dumps(policy))
    key = "sk-attack-cot"
    # Through the make target with KEY in the environment, and the tool itself with the key on stdin.
    for cmd, how in ((["make", "-s", "credential-id", f"POLICY={path}"], "env"),
                     ([REPORT, "credential-id", "--policy", str(path)], "stdin")):
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                           input=key + "\n" if how == "stdin" else None,
                           env=dict({k: v for k, v in os.environ.items() if k != "KEY"},
                                    **({"KEY": key} if how == "env" else {})), timeout=300)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() in logged, (how, r.stdout)
        assert key not in r.stdout + r.stderr
    # With the secret in the environment (hash_secret_env), as in production: the same id.
    env_policy = json.loads(json.dumps(policy))
    secret = env_policy["credential"].pop("hash_secret")
    env_policy["credential"]["hash_secret_env"] = "DG_REPORT_TEST_SECRET"
    path.write_text(json.dumps(env_policy))
    out = report("credential-id", "--policy", str(path), env={"KEY": key, "DG_REPORT_TEST_SECRET": secret})
    assert out.strip() in logged
    r = subprocess.run([REPORT, "credential-id", "--policy", str(path)], capture_output=True, text=True,
                       input=key, env={k: v for k, v in os.environ.items() if k != "KEY"})
    assert r.returncode != 0 and "hash_secret_env" in r.stderr and key not in r.stderr
