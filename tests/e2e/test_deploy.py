"""Deployment artefacts: the OCI image (read back and checked against Istio's rules), the Istio
manifests (CRD schema, the CEL rules by hand, the embedded policy accepted by the filter, the sha256
matching the image), and the docker compose files (compose spec, referenced files, the in-container
Envoy config validated by Envoy with paths mapped, images that fetch nothing at run time)."""
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse

import pytest
import yaml
import jsonschema

from harness import ENVOY, ROOT, WASM, render

sys.path.insert(0, os.path.join(ROOT, "envoy", "oci"))
sys.path.insert(0, os.path.join(ROOT, "envoy", "istio"))
import package  # noqa: E402
import manifests as istio_render  # noqa: E402

CRD = os.path.join(ROOT, "tests", "data", "schemas", "istio-wasmplugin-crd.yaml")
CHECKER = os.path.join(ROOT, "target", "release", "examples", "policy_check")
ISTIO = os.path.join(ROOT, "envoy", "istio")
COMPOSE = os.path.join(ROOT, "envoy", "compose")


def blob(layout, digest):
    with open(os.path.join(layout, "blobs", "sha256", digest.split(":", 1)[1]), "rb") as f:
        data = f.read()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest, "blob content matches its digest"
    return data


@pytest.fixture(scope="module")
def image():
    out = tempfile.mkdtemp(prefix="dg-oci-")
    with open(WASM, "rb") as f:
        wasm = f.read()
    layout = os.path.join(out, "distill-guard")
    digest, module = package.build(wasm, layout, "0.1.0")
    yield layout, digest, module, wasm
    shutil.rmtree(out, ignore_errors=True)


def test_oci_image_is_a_compat_wasm_image_holding_the_module(image):
    layout, digest, module, wasm = image
    assert json.load(open(os.path.join(layout, "oci-layout"))) == {"imageLayoutVersion": "1.0.0"}
    index = json.load(open(os.path.join(layout, "index.json")))
    [entry] = index["manifests"]
    assert entry["digest"] == digest and entry["annotations"]["org.opencontainers.image.ref.name"] == "0.1.0"
    manifest = json.loads(blob(layout, digest))
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    # Istio's compat variant: one tar+gzip layer with plugin.wasm (the last layer is what it reads).
    assert len(manifest["layers"]) == 1
    layer = manifest["layers"][0]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert manifest["annotations"]["module.wasm.image/variant"] == "compat"
    data = blob(layout, layer["digest"])
    assert len(data) == layer["size"]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        assert tar.getnames() == ["plugin.wasm"]
        assert tar.extractfile("plugin.wasm").read() == wasm
    config = json.loads(blob(layout, manifest["config"]["digest"]))
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest()]
    assert module == "sha256:" + hashlib.sha256(wasm).hexdigest()


def test_oci_image_is_reproducible(image):
    layout, digest, _module, wasm = image
    again = tempfile.mkdtemp(prefix="dg-oci2-")
    try:
        assert package.build(wasm, os.path.join(again, "x"), "0.1.0")[0] == digest
    finally:
        shutil.rmtree(again, ignore_errors=True)


# skopeo is not installed by the suite (Debian's package pulls in iptables, nftables and netavark); the
# tests above read the layout themselves. Where skopeo is present, it must read the layout too.
@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed (optional; never installed by make)")
def test_skopeo_reads_the_layout(image):
    layout, digest, _module, _wasm = image
    out = subprocess.run(["skopeo", "inspect", "--raw", f"oci:{layout}:0.1.0"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "sha256:" + hashlib.sha256(out.stdout.encode()).hexdigest() == digest


def load_yaml(path):
    with open(path) as f:
        return list(yaml.safe_load_all(f))


def crd_schema():
    [crd] = load_yaml(CRD)
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema = version["schema"]["openAPIV3Schema"]
    return crd, schema


def test_wasmplugin_matches_the_crd_schema_and_its_cel_rules():
    crd, schema = crd_schema()
    [plugin] = load_yaml(os.path.join(ISTIO, "wasmplugin.yaml"))
    assert plugin["apiVersion"] == f"{crd['spec']['group']}/v1alpha1" and plugin["kind"] == crd["spec"]["names"]["kind"]
    jsonschema.validate(plugin, schema)
    spec = plugin["spec"]
    # CEL rules the JSON schema cannot express.
    scheme = urllib.parse.urlparse(spec["url"]).scheme
    assert scheme in ("", "http", "https", "oci", "file")
    assert sum(k in spec for k in ("selector", "targetRef", "targetRefs")) <= 1
    for env in spec.get("vmConfig", {}).get("env", []):
        assert env.get("valueFrom", "INLINE") != "HOST" or "value" not in env
    assert spec["failStrategy"] == "FAIL_CLOSE" and spec["phase"] == "AUTHZ" and spec["type"] == "HTTP"


def test_a_broken_wasmplugin_is_caught_by_the_same_checks():
    _crd, schema = crd_schema()
    [plugin] = load_yaml(os.path.join(ISTIO, "wasmplugin.yaml"))
    bad = json.loads(json.dumps(plugin))
    bad["spec"]["sha256"] = "not-a-digest"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    bad = json.loads(json.dumps(plugin))
    bad["spec"]["failStrategy"] = "FAIL_SOMETIMES"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def check_policy(policy):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(policy, f)
    env = dict(os.environ, DISTILL_GUARD_HASH_SECRET="a-secret-from-a-kubernetes-secret")
    r = subprocess.run([CHECKER, f.name], capture_output=True, text=True, env=env)
    os.unlink(f.name)
    return r


def test_shipped_manifests_carry_policies_the_filter_accepts():
    [plugin] = load_yaml(os.path.join(ISTIO, "wasmplugin.yaml"))
    r = check_policy(plugin["spec"]["pluginConfig"])
    assert r.returncode == 0, r.stderr
    assert plugin["spec"]["pluginConfig"]["inspection"]["hold_headers"] is False
    [ef] = load_yaml(os.path.join(ISTIO, "envoyfilter.yaml"))
    wasm_config = ef["spec"]["configPatches"][0]["patch"]["value"]["typed_config"]["config"]
    assert wasm_config["allow_on_headers_stop_iteration"] is True
    policy = json.loads(wasm_config["configuration"]["value"])
    r = check_policy(policy)
    assert r.returncode == 0, r.stderr
    # And a policy the filter would reject is caught by the same check.
    broken = json.loads(json.dumps(plugin["spec"]["pluginConfig"]))
    broken["budgets"][0]["window"] = "fortnight"
    assert check_policy(broken).returncode != 0


def test_manifests_name_the_digest_of_the_image_built_from_this_source(image):
    _layout, digest, _module, _wasm = image
    hexdigest = digest.split(":", 1)[1]
    with open(os.path.join(ISTIO, "wasmplugin.yaml")) as f:
        text = f.read()
    rendered = istio_render.wasmplugin(istio_render.DEFAULT_IMAGE, digest,
                                       istio_render.istio_policy(json.load(open(os.path.join(ROOT, "envoy", "policy.json"))), False))
    assert yaml.safe_load(rendered)["spec"]["sha256"] == hexdigest
    # The committed manifest matches this build when the compiler is the one that produced it (the
    # module is reproducible: the same rustc and Cargo.lock give the same bytes in any directory).
    built_with = text.splitlines()[0].removeprefix("# built with: ")
    if built_with != istio_render.rustc_version():
        pytest.skip(f"manifest built with {built_with}, this machine has {istio_render.rustc_version()}: "
                    "`make istio` regenerates it; the rendered manifest above does match this build")
    assert text == rendered, "run `make istio` after changing the filter or envoy/policy.json"
    [ef] = load_yaml(os.path.join(ISTIO, "envoyfilter.yaml"))
    remote = ef["spec"]["configPatches"][0]["patch"]["value"]["typed_config"]["config"]["vm_config"]["code"]["remote"]
    assert remote["sha256"] == hexdigest and remote["http_uri"]["uri"].startswith("oci://")


def test_envoyfilter_wasm_config_is_accepted_by_envoy():
    [ef] = load_yaml(os.path.join(ISTIO, "envoyfilter.yaml"))
    config = ef["spec"]["configPatches"][0]["patch"]["value"]["typed_config"]["config"]
    policy = config["configuration"]["value"]
    d = tempfile.mkdtemp(prefix="dg-istio-")
    try:
        path = os.path.join(d, "envoy.yaml")
        with open(path, "w") as f:
            f.write(render.render(policy, 10000, 9901, 18080, WASM))
        env = dict(os.environ, DISTILL_GUARD_HASH_SECRET="a-secret-from-a-kubernetes-secret")
        r = subprocess.run([ENVOY, "--mode", "validate", "-c", path], capture_output=True, text=True, timeout=120, env=env)
        assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_compose_file_is_valid_and_references_existing_files():
    path = os.path.join(COMPOSE, "docker-compose.yml")
    check = os.path.join(os.path.dirname(ENVOY), "check-jsonschema")
    r = subprocess.run([check, "--builtin-schema", "vendor.compose-spec", path], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    [compose] = load_yaml(path)
    mock = compose["services"]["mock-llm"]["build"]
    context = os.path.normpath(os.path.join(COMPOSE, mock["context"]))
    assert os.path.isfile(os.path.join(context, mock["dockerfile"]))
    envoy = compose["services"]["envoy"]
    assert envoy["image"] == "envoyproxy/envoy:v1.40.0"
    for volume in envoy["volumes"]:
        host = volume.split(":", 1)[0]
        target = os.path.normpath(os.path.join(COMPOSE, host))
        if host.endswith("state"):
            continue  # created by `make compose-up`
        assert os.path.exists(target), host


def test_compose_images_fetch_nothing_at_run_time():
    with open(os.path.join(COMPOSE, "mock-llm.Dockerfile")) as f:
        dockerfile = f.read()
    assert not re.search(r"^\s*RUN\b", dockerfile, re.M), "no build steps that download"
    assert not re.search(r"pip|apt|curl|wget", dockerfile.split("CMD")[1])
    with open(os.path.join(ROOT, "tests", "mock_llm.py")) as f:
        imports = set(re.findall(r"^(?:from|import) ([a-zA-Z_]+)", f.read(), re.M))
    assert imports <= set(sys.stdlib_module_names), imports - set(sys.stdlib_module_names)


def test_compose_envoy_config_is_current_and_valid_with_paths_mapped():
    path = os.path.join(COMPOSE, "envoy.yaml")
    with open(path) as f:
        text = f.read()
    assert text == render.render_dynamic("/etc/distill-guard/state", 10000, 9901, 18080, None, "0.0.0.0", "mock-llm"), \
        "run `make compose-config`"
    d = tempfile.mkdtemp(prefix="dg-compose-")
    try:
        os.makedirs(os.path.join(d, "state"))
        shutil.copy(WASM, os.path.join(d, "distill_guard.wasm"))
        with open(os.path.join(ROOT, "envoy", "policy.json")) as f:
            policy_text = f.read()
        # What `make compose-up` writes into the watched directory.
        with open(os.path.join(d, "state", "policy-ecds.yaml"), "w") as f:
            f.write(render.render_ecds(policy_text, os.path.join(d, "distill_guard.wasm")))
        mapped = text.replace("/etc/distill-guard", d)
        with open(os.path.join(d, "envoy.yaml"), "w") as f:
            f.write(mapped)
        r = subprocess.run([ENVOY, "--mode", "validate", "-c", os.path.join(d, "envoy.yaml")], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
        # validate mode does not read the ECDS file: check its content through a static copy with the
        # container's wasm path mapped.
        static = render.render(policy_text, 10000, 9901, 18080, os.path.join(d, "distill_guard.wasm"))
        with open(os.path.join(d, "static.yaml"), "w") as f:
            f.write(static)
        r = subprocess.run([ENVOY, "--mode", "validate", "-c", os.path.join(d, "static.yaml")], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- TrafficExtension (Istio >= 1.30) -------------------------------------------------------------
TE_CRD = os.path.join(ROOT, "tests", "data", "schemas", "istio-trafficextension-crd.yaml")


def te_schema():
    [crd] = load_yaml(TE_CRD)
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    return crd, version["schema"]["openAPIV3Schema"]


def te_cel_violations(te):
    """The CRD's x-kubernetes-validations (CEL), which a JSON-schema validator does not run, by hand."""
    spec, bad = te["spec"], []
    if ("selector" in spec) + ("targetRefs" in spec) > 1:
        bad.append("only one of targetRefs or selector can be set")
    if ("wasm" in spec) == ("lua" in spec):
        bad.append("exactly one of wasm or lua must be set")
    labels = spec.get("selector", {}).get("matchLabels", {})
    if any("*" in k for k in labels) or any("*" in v for v in labels.values()):
        bad.append("wildcard not allowed in label key/value match")
    if any(len(k) == 0 for k in labels):
        bad.append("key must not be empty")
    if any(ref.get("namespace") for ref in spec.get("targetRefs", [])):
        bad.append("cross namespace referencing is not currently supported")
    wasm = spec.get("wasm", {})
    if "url" in wasm:
        url = wasm["url"]
        parsed = urllib.parse.urlparse(url if "://" in url else "http://" + url)
        if parsed.scheme not in ("", "http", "https", "file", "oci"):
            bad.append("url must have schema one of [http, https, file, oci]")
    for env in wasm.get("vmConfig", {}).get("env", []):
        if env.get("valueFrom", "") == "HOST" and "value" in env:
            bad.append("value may only be set when valueFrom is INLINE")
    return bad


def test_trafficextension_matches_the_crd_schema_and_its_cel_rules():
    crd, schema = te_schema()
    [te] = load_yaml(os.path.join(ISTIO, "trafficextension.yaml"))
    assert te["apiVersion"] == f"{crd['spec']['group']}/v1alpha1" and te["kind"] == crd["spec"]["names"]["kind"]
    jsonschema.validate(te, schema)
    assert te_cel_violations(te) == []
    wasm = te["spec"]["wasm"]
    assert wasm["failStrategy"] == "FAIL_CLOSE" and wasm["type"] == "HTTP" and te["spec"]["phase"] == "AUTHZ"
    assert wasm["vmConfig"]["env"] == [{"name": istio_render.SECRET_ENV, "valueFrom": "HOST"}]


def test_a_broken_trafficextension_is_caught_by_the_same_checks():
    _crd, schema = te_schema()
    [te] = load_yaml(os.path.join(ISTIO, "trafficextension.yaml"))

    def variant(change):
        bad = json.loads(json.dumps(te))
        change(bad["spec"])
        return bad

    for change in (lambda s: s["wasm"].update(sha256="not-a-digest"),
                   lambda s: s["wasm"].update(failStrategy="FAIL_SOMETIMES"),
                   lambda s: s.update(lua={"inlineCode": "function envoy_on_request(h) end"}),
                   lambda s: s["wasm"].pop("url")):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(variant(change), schema)
    for change, message in (
            (lambda s: s.update(targetRefs=[{"kind": "Gateway", "name": "gw"}]), "only one of targetRefs"),
            (lambda s: s["wasm"]["vmConfig"]["env"][0].update(value="inline-secret"), "valueFrom is INLINE"),
            (lambda s: s["wasm"].update(url="ftp://example.com/x.wasm"), "url must have schema"),
            (lambda s: s["selector"]["matchLabels"].update({"app": "gate*"}), "wildcard"),
            (lambda s: s.pop("wasm"), "exactly one of wasm or lua")):
        assert any(message in v for v in te_cel_violations(variant(change))), message


def test_trafficextension_carries_the_wasmplugins_module_and_policy():
    [te] = load_yaml(os.path.join(ISTIO, "trafficextension.yaml"))
    [plugin] = load_yaml(os.path.join(ISTIO, "wasmplugin.yaml"))
    wasm, spec = te["spec"]["wasm"], plugin["spec"]
    assert (wasm["url"], wasm["sha256"]) == (spec["url"], spec["sha256"])
    assert wasm["pluginConfig"] == spec["pluginConfig"]
    r = check_policy(wasm["pluginConfig"])
    assert r.returncode == 0, r.stderr
    assert wasm["pluginConfig"]["inspection"]["hold_headers"] is False
    # The committed file is what `make istio` renders from envoy/policy.json and the same digest.
    with open(os.path.join(ISTIO, "trafficextension.yaml")) as f:
        text = f.read()
    policy = istio_render.istio_policy(json.load(open(os.path.join(ROOT, "envoy", "policy.json"))), False)
    rendered = istio_render.trafficextension(spec["url"], "sha256:" + spec["sha256"], policy,
                                             rustc=text.splitlines()[0].removeprefix("# built with: "))
    assert text == rendered, "run `make istio` after changing the filter or envoy/policy.json"
