"""The README quick start: the main job's script starts, answers, applies edits of the policy file
without a restart, and stops cleanly."""
import json
import re
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from harness import ENVOY, ROOT, credential_id, default_policy, free_port


def demo_env(**extra):
    return dict(os.environ, ENVOY=ENVOY, LISTEN=str(free_port()), ADMIN=str(free_port()),
                UPSTREAM=str(free_port()), **extra)


def test_demo_script_serves_the_default_policy():
    out = subprocess.run(["bash", os.path.join(ROOT, "envoy", "run-demo.sh")], env=demo_env(DEMO_SMOKE="1"),
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "distill-guard is running." in out.stdout
    assert "status 200" in out.stdout
    assert "upstream saw x-distill-verdict: allow" in out.stdout
    assert "status 401" in out.stdout
    # Shadow first: the shipped policy forwards the harvesting requests and reports what it would do...
    shadow = out.stdout.split("--- smoke: detection in shadow")[1].split("--- smoke: detection enforced")[0]
    assert "(detection.shadow=true)" in shadow and "status 200 x12" in shadow, shadow
    assert re.search(r"upstream saw x-distill-verdict: (throttle|block)", shadow), shadow
    assert "upstream saw x-distill-shadow: true" in shadow, shadow
    # ...and enforced (hot-reloaded), refuses them with a generic error naming no signal.
    enforced = out.stdout.split("--- smoke: detection enforced")[1]
    assert re.search(r"status (403|429) x\d+", enforced), enforced
    body = json.loads(enforced.split("refusal body: ")[1].splitlines()[0])
    assert body["error"]["type"] in ("permission_error", "requests"), body
    assert not any(n in json.dumps(body) for n in ("logit_bias", "logprobs", "cadence", "single_turn", "distill"))
    # The banner names the Envoy version (it was blank once) and says how often metrics publish.
    assert "1.40.0" in out.stdout and "published every 100 ms" in out.stdout


@pytest.mark.parametrize("taken", ["LISTEN", "ADMIN", "UPSTREAM"])
def test_demo_refuses_a_port_in_use_before_printing_the_banner(taken):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        env = demo_env(DEMO_SMOKE="1")
        env[taken] = str(s.getsockname()[1])
        out = subprocess.run(["bash", os.path.join(ROOT, "envoy", "run-demo.sh")], env=env,
                             capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode != 0
    assert f"port {env[taken]} ({taken}) is not free" in out.stderr, out.stderr
    assert "distill-guard is running." not in out.stdout


def start_demo(policy_path):
    env = demo_env(POLICY=policy_path)
    proc = subprocess.Popen(["bash", os.path.join(ROOT, "envoy", "run-demo.sh")], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    for line in proc.stdout:
        if "Ctrl-C stops everything." in line:
            break
    return proc, int(env["LISTEN"])


def save(path, policy, mtime_ns=None):
    with open(path + ".tmp", "w") as f:
        json.dump(policy, f)
    os.replace(path + ".tmp", path)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return os.stat(path).st_mtime_ns


def wait_status(port, key, want, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline and status(port, key) != want:
        time.sleep(0.2)
    return status(port, key)


def status(port, key):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions",
                                 data=b'{"model":"m","messages":[]}', headers={"authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_editing_the_policy_file_applies_without_restart():
    d = tempfile.mkdtemp(prefix="dg-demo-")
    policy_path = os.path.join(d, "policy.json")
    policy = default_policy()
    with open(policy_path, "w") as f:
        json.dump(policy, f)
    env = demo_env(POLICY=policy_path)
    proc = subprocess.Popen(["bash", os.path.join(ROOT, "envoy", "run-demo.sh")], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        for line in proc.stdout:
            if "Ctrl-C stops everything." in line:
                break
        port = int(env["LISTEN"])
        assert status(port, "sk-demo-edit") == 200
        policy["lists"]["block_credentials"] = [credential_id(policy["credential"]["hash_secret"], "sk-demo-edit")]
        policy["revision"] = "2"
        with open(policy_path + ".tmp", "w") as f:
            json.dump(policy, f)
        os.replace(policy_path + ".tmp", policy_path)
        deadline = time.time() + 8
        while time.time() < deadline and status(port, "sk-demo-edit") != 403:
            time.sleep(0.2)
        assert status(port, "sk-demo-edit") == 403
        assert status(port, "sk-someone-else") == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
        shutil.rmtree(d, ignore_errors=True)


def test_two_saves_within_one_second_both_apply():
    """The watcher compares content: a second save with the same modification time (as two saves in
    one second have, to the second) still applies."""
    d = tempfile.mkdtemp(prefix="dg-demo-")
    policy_path = os.path.join(d, "policy.json")
    policy = default_policy()
    secret = policy["credential"]["hash_secret"]
    save(policy_path, policy)
    proc, port = start_demo(policy_path)
    ok = False
    try:
        assert status(port, "sk-first") == 200 and status(port, "sk-second") == 200
        policy["lists"]["block_credentials"] = [credential_id(secret, "sk-first")]
        first = save(policy_path, policy)
        assert wait_status(port, "sk-first", 403) == 403
        policy["lists"]["block_credentials"] = [credential_id(secret, "sk-second")]
        save(policy_path, policy, mtime_ns=first)  # same size, same modification time, new content
        assert os.stat(policy_path).st_mtime_ns == first
        assert wait_status(port, "sk-second", 403) == 403
        assert status(port, "sk-first") == 200
        ok = True
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
        if not ok:
            print("demo output after the banner:\n" + proc.stdout.read())  # shown with the failure
        shutil.rmtree(d, ignore_errors=True)
