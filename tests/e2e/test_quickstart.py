"""The README quick start: the main job's script starts, answers, and stops by itself in smoke mode."""
import os
import subprocess

from harness import ENVOY, ROOT, free_port


def test_demo_script_serves_the_default_policy():
    env = dict(os.environ, DEMO_SMOKE="1", ENVOY=ENVOY, LISTEN=str(free_port()), ADMIN=str(free_port()),
               UPSTREAM=str(free_port()))
    out = subprocess.run(["bash", os.path.join(ROOT, "envoy", "run-demo.sh")], env=env, capture_output=True,
                         text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "distill-guard is running." in out.stdout
    assert "status 200" in out.stdout
    assert "upstream saw x-distill-verdict: allow" in out.stdout
    assert "status 401" in out.stdout
