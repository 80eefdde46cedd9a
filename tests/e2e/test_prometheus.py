"""The shipped Prometheus rules against the real thing: Debian's Prometheus (unpacked into .tools by
`make prometheus-tools`, on loopback, 1 s scrape and evaluation) scrapes a hot-reloadable Envoy with
the filter (the demo's configuration), the recording rules follow the traffic, and a rejected policy
push fires DistillGuardPolicyRejected, read back from Prometheus's HTTP API; the Grafana dashboard's
queries all answer; a filter VM that failed makes DistillGuardNotCounting pending."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import pytest

from harness import ROOT, Envoy, default_policy, free_port, stop_process
from test_failure_policy import trap_wasm  # noqa: F401  (the fixture)

PROMETHEUS = os.path.join(ROOT, ".tools", "prometheus", "usr", "bin", "prometheus")
RULES = os.path.join(ROOT, "envoy", "prometheus", "distill-guard.rules.yaml")


class Prometheus:
    def __init__(self, admin_port):
        self.dir = tempfile.mkdtemp(prefix="dg-prom-")
        self.port = free_port()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            json.dump({
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [RULES],
                "scrape_configs": [{"job_name": "envoy", "metrics_path": "/stats/prometheus",
                                    "static_configs": [{"targets": [f"127.0.0.1:{admin_port}"]}]}],
            }, f)
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}"], stdout=self.log, stderr=subprocess.STDOUT)

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr):
        return self.api("query", query=expr)["result"]

    def wait(self, what, check, timeout=40):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                last = check()
                if last:
                    return last
            except OSError as e:
                last = e
            time.sleep(0.5)
        raise AssertionError(f"{what} not seen in {timeout}s (last: {last})\n{self.output()[-3000:]}")

    def output(self):
        with open(os.path.join(self.dir, "prometheus.log"), errors="replace") as f:
            return f.read()

    def close(self):
        stop_process(self.proc)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def need_prometheus():
    if not os.path.exists(PROMETHEUS):
        pytest.fail("Prometheus missing: run `make prometheus-tools` (make e2e does)")


@pytest.fixture
def stack():
    need_prometheus()
    policy = default_policy()
    # Every request after the first in a minute is tagged, so the tag rate follows the traffic.
    policy["budgets"].append({"name": "soft", "scope": "credential", "window": "minute", "max_requests": 1,
                              "action": "tag"})
    envoy = Envoy(policy, dynamic=True)
    prom = Prometheus(envoy.admin)
    try:
        yield envoy, prom, policy
    finally:
        prom.close()
        envoy.close()


def firing(prom, name):
    return [a for a in prom.api("alerts")["alerts"] if a["labels"]["alertname"] == name and a["state"] == "firing"]


def test_prometheus_scrapes_envoy_records_the_tag_rate_and_fires_on_a_rejected_policy(stack):
    envoy, prom, policy = stack
    prom.wait("the Envoy target up", lambda: prom.query('up{job="envoy"} == 1'))
    prom.wait("the rules loaded", lambda: len(prom.api("rules")["groups"]) == 2)
    for _ in range(20):
        assert envoy.chat(key="sk-prom").status == 200
    tagged = prom.wait("a tag rate", lambda: [float(r["value"][1]) for r in
                                              prom.query("distill_guard:tagged_requests:per_minute") if float(r["value"][1]) > 0])
    assert tagged[0] > 0
    enforced = prom.wait("the enforcement ratio", lambda: prom.query("distill_guard:enforced:ratio"))
    assert float(enforced[0]["value"][1]) == 1.0, enforced  # nothing shadowed
    assert not firing(prom, "DistillGuardPolicyRejected")

    broken = json.loads(json.dumps(policy))
    broken["budgets"][0]["window"] = "fortnight"
    code, out, outcome = envoy.apply_policy(broken, check=False)
    assert code == 0 and outcome == "rejected", out
    alerts = prom.wait("DistillGuardPolicyRejected firing", lambda: firing(prom, "DistillGuardPolicyRejected"))
    assert alerts[0]["labels"]["instance"] == f"127.0.0.1:{envoy.admin}"
    assert alerts[0]["labels"]["severity"] == "warning"
    # The running policy still serves (tagging), and nothing else fired.
    assert envoy.chat(key="sk-prom").status == 200
    others = [a["labels"]["alertname"] for a in prom.api("alerts")["alerts"]
              if a["labels"]["alertname"] != "DistillGuardPolicyRejected"]
    assert others == [], "nothing else is firing or pending"

    # Every query of the shipped Grafana dashboard is valid PromQL here and finds data.
    with open(os.path.join(ROOT, "envoy", "prometheus", "grafana-dashboard.json")) as f:
        dashboard = json.load(f)
    exprs = [t["expr"].replace("$instance", ".*") for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 15
    empty = [e for e in exprs if not prom.query(e)]
    assert empty == [], empty


def test_a_failed_filter_vm_makes_not_counting_pending(trap_wasm):
    """A module whose VM traps (tests/e2e/trap-filter, as test_failure_policy uses) serves the listener but
    counts nothing: DistillGuardNotCounting goes pending at once (it fires after its 2 minutes)."""
    need_prometheus()
    envoy = Envoy(wasm=trap_wasm)
    prom = Prometheus(envoy.admin)
    try:
        prom.wait("the Envoy target up", lambda: prom.query('up{job="envoy"} == 1'))
        assert envoy.chat().status == 200
        assert envoy.chat(extra_headers={"x-trap": "1"}).status >= 500
        deadline = time.time() + 30
        alerts = []
        while time.time() < deadline and not alerts:
            envoy.chat()
            alerts = [a for a in prom.api("alerts")["alerts"] if a["labels"]["alertname"] == "DistillGuardNotCounting"]
            time.sleep(0.5)
        assert alerts and alerts[0]["state"] in ("pending", "firing"), prom.api("alerts")
        assert alerts[0]["labels"]["instance"] == f"127.0.0.1:{envoy.admin}"
    finally:
        prom.close()
        envoy.close()
