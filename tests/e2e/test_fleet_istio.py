"""The Istio manifest of the fleet path (envoy/fleet/istio/ratelimit.yaml): current, its EnvoyFilter patches
accepted by Envoy when applied to a distill-guard config, and its ConfigMap loaded by the real service."""
import http.client
import json
import os
import subprocess
import sys

import yaml

import harness

sys.path.insert(0, os.path.join(harness.ROOT, "envoy", "fleet"))
import engine  # noqa: E402
import istio  # noqa: E402
import ratelimit_config  # noqa: E402
import render_fleet  # noqa: E402


def manifest():
    with open(istio.OUT) as f:
        return f.read()


def test_shipped_manifest_is_rendered_from_the_shipped_policy():
    assert manifest() == istio.render(harness.default_policy()), "envoy/fleet/istio/ratelimit.yaml is stale: make fleet-config"


def test_envoyfilter_patches_are_accepted_by_envoy_on_a_distill_guard_config(tmp_path):
    ef, _cm = yaml.safe_load_all(manifest())
    assert ef["kind"] == "EnvoyFilter" and ef["spec"]["priority"] > 0
    patches = {p["applyTo"]: p for p in ef["spec"]["configPatches"]}
    assert patches["HTTP_FILTER"]["patch"]["operation"] == "INSERT_BEFORE"
    assert patches["HTTP_FILTER"]["match"]["listener"]["filterChain"]["filter"]["subFilter"]["name"] == \
        "envoy.filters.http.router"
    assert patches["CLUSTER"]["patch"]["operation"] == "ADD"
    assert patches["VIRTUAL_HOST"]["patch"]["operation"] == "MERGE"
    hcm = patches["NETWORK_FILTER"]
    assert hcm["patch"]["operation"] == "MERGE"
    assert hcm["match"]["listener"]["filterChain"]["filter"]["name"] == "envoy.filters.network.http_connection_manager"
    local_reply = hcm["patch"]["value"]["typed_config"]["local_reply_config"]
    assert local_reply == yaml.safe_load(render_fleet.local_reply_yaml())["local_reply_config"]
    # Apply the patch values to a distill-guard config the way Istio would and let Envoy judge them.
    base = render_fleet.render.render(json.dumps(harness.default_policy()), 10000, 9901, 18080, harness.WASM)
    vhost = patches["VIRTUAL_HOST"]["patch"]["value"]
    base = render_fleet.insert_local_reply(base, "local_reply_config: " + json.dumps(local_reply))
    config = render_fleet.insert_blocks(
        base, "- " + json.dumps(patches["HTTP_FILTER"]["patch"]["value"]),
        "\n".join(f"{k}: {json.dumps(v)}" for k, v in vhost.items()),
        "- " + json.dumps(patches["CLUSTER"]["patch"]["value"]))
    path = tmp_path / "envoy.yaml"
    path.write_text(config)
    r = subprocess.run([harness.ENVOY, "--mode", "validate", "-c", str(path)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    limits = vhost["typed_per_filter_config"]["envoy.filters.http.ratelimit"]["rate_limits"]
    assert len(limits) == 1 + 2 + 2  # the default policy: one request budget, two token budgets


def test_configmap_is_what_the_real_service_loads():
    _ef, cm = yaml.safe_load_all(manifest())
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "ratelimit-config"
    with engine.Redis() as redis, engine.RateLimit(redis.port, cm["data"]) as rls:
        body = json.dumps({"domain": "distill_guard", "descriptors": [{"entries": [
            {"key": "budget", "value": "key_requests_per_minute.requests"}, {"key": "credential", "value": "c1"}]}]})
        c = http.client.HTTPConnection("127.0.0.1", rls.http_port, timeout=5)
        c.request("POST", "/json", body, {"content-type": "application/json"})
        r = c.getresponse()
        answer = json.loads(r.read())
        c.close()
    assert r.status == 200, answer
    [status] = answer["statuses"]
    assert status["code"] == "OK"
    assert status["currentLimit"]["requestsPerUnit"] == 600 and status["currentLimit"]["unit"] == "MINUTE"
    assert cm["data"][f"{ratelimit_config.FLEET_DOMAIN}.yaml"] == ratelimit_config.fleet_service_config()


def test_with_the_filter_enforcing_budgets_only_the_cluster_is_patched():
    policy = harness.default_policy()
    policy["fleet"] = {"enabled": True, "budgets": "filter"}
    ef, _cm = yaml.safe_load_all(istio.render(policy))
    assert [p["applyTo"] for p in ef["spec"]["configPatches"]] == ["CLUSTER"]
