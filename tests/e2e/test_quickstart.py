"""The README quick start: the main job's script starts, answers, applies edits of the policy file
without a restart, and stops cleanly."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

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
        time.sleep(1.1)  # mtime granularity is one second
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
