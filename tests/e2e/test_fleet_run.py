"""`make run-fleet` (envoy/fleet/run_fleet.py): prints exactly one `fleet:` line with two URLs, both Envoys
answer through the filter, and Ctrl-C stops everything it started."""
import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

import harness

RUN_FLEET = os.path.join(harness.ROOT, "envoy", "fleet", "run_fleet.py")


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_run_fleet_prints_the_fleet_line_serves_on_both_and_stops_on_ctrl_c():
    env = dict(os.environ, WASM=harness.WASM)
    proc = subprocess.Popen([sys.executable, RUN_FLEET], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 90)
        assert ready, "no fleet line within 90 s"
        line = proc.stdout.readline()
        m = re.fullmatch(r"fleet: http://127\.0\.0\.1:(\d+) http://127\.0\.0\.1:(\d+)\n", line)
        assert m, repr(line)
        ports = [int(m.group(1)), int(m.group(2))]
        assert ports[0] != ports[1]
        for port in ports:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]})
            c.request("POST", "/v1/chat/completions", body, {"authorization": "Bearer sk-demo",
                                                             "content-type": "application/json"})
            r = c.getresponse()
            payload = r.read()
            assert r.status == 200, payload
            assert json.loads(payload)["usage"]["completion_tokens"] > 0
            c.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
            r = c.getresponse()
            assert r.status == 401, r.read()  # the filter is in the chain: no key, no answer
            r.read()
            c.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        assert proc.stdout.read() == ""  # the fleet line was the only stdout
        engine = re.search(r"redis 127\.0\.0\.1:(\d+), ratelimit gRPC 127\.0\.0\.1:(\d+)", proc.stderr.read())
        assert engine, "the engine's ports are on stderr"
        ports += [int(engine.group(1)), int(engine.group(2))]
        deadline = time.time() + 5
        while any(port_open(p) for p in ports) and time.time() < deadline:
            time.sleep(0.1)
        assert not any(port_open(p) for p in ports)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
