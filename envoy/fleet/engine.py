#!/usr/bin/env python3
"""The fleet engine on loopback: Redis and envoyproxy/ratelimit, started on free ports with readiness
checks, stopped by `stop()` (or the `with` block, or process exit). Used by the tests and `make run-fleet`.

    with Redis() as redis, RateLimit(redis.port, configs) as rls:
        rls.grpc_port  # the gRPC port Envoy's rate limit filter (and the filter's own calls) talk to

`configs` is {file name: YAML text} for the service's config directory (see ratelimit_config.py).
Nothing here touches host networking: both bind 127.0.0.1 only. Binaries: redis-server from Debian's
package, the ratelimit service from `make fleet-tools` (.tools/bin/ratelimit).
"""
import atexit
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RATELIMIT_BIN = os.environ.get("RATELIMIT_BIN") or os.path.join(ROOT, ".tools", "bin", "ratelimit")
REDIS_BIN = os.environ.get("REDIS_BIN") or shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_clear_of_window_edge(window_seconds=86400, margin=30):
    """Sleeps past the next edge of the service's fixed windows if it is less than `margin` s away, so a
    short test's counts all land in one window (the service counts in clock-aligned windows)."""
    left = window_seconds - time.time() % window_seconds
    if left < margin:
        time.sleep(left + 1)


def stop_process(proc, grace=10):
    """SIGTERM, then SIGKILL if `proc` has not exited after `grace` seconds; waits for it either way."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def read_log(path):
    """A child's log file as text ("" if it cannot be read)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class _Process:
    """A child process with a log file, stopped by stop() or at interpreter exit."""

    name = "process"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix=f"dg-{self.name}-")
        self.log_path = os.path.join(self.dir, f"{self.name}.log")
        self.proc = None

    def _spawn(self, argv, env=None):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.dir)
        log.close()
        atexit.register(self.stop)

    def _wait(self, ready, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
            if ready():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.log()}")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Stops the process (SIGTERM, then SIGKILL); keeps its directory so it can start again."""
        if self.running():
            stop_process(self.proc)

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        return read_log(self.log_path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Redis(_Process):
    """redis-server on 127.0.0.1, in memory only (no RDB/AOF files), no protected-mode surprises."""

    name = "redis"

    def __init__(self, port=None, start=True):
        super().__init__()
        self.port = port or free_port()
        if start:
            self.start()

    def start(self, timeout=15):
        self._spawn([REDIS_BIN, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                     "--appendonly", "no", "--dir", self.dir, "--daemonize", "no", "--loglevel", "warning"])
        self._wait(lambda: self.command("PING") == "PONG", timeout)
        return self

    def command(self, *args):
        """One RESP command; returns the reply as str/int/list/None, or None if Redis cannot be reached."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                payload = f"*{len(args)}\r\n" + "".join(f"${len(str(a).encode())}\r\n{a}\r\n" for a in args)
                s.sendall(payload.encode())
                return _read_resp(s.makefile("rb"))
        except OSError:
            return None


def _read_resp(f):
    line = f.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:].decode()
    if kind == b"+":
        return rest
    if kind == b"-":
        raise RuntimeError(f"redis error: {rest}")
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:n]
        return data.decode("utf-8", "replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_resp(f) for _ in range(n)]
    raise RuntimeError(f"unexpected redis reply {line!r}")


class RateLimit(_Process):
    """envoyproxy/ratelimit on 127.0.0.1 (gRPC, HTTP /json + /healthcheck, debug), backed by Redis over TCP."""

    name = "ratelimit"

    def __init__(self, redis_port, configs, start=True, extra_env=None):
        super().__init__()
        self.redis_port = redis_port
        self.grpc_port, self.http_port, self.debug_port = free_port(), free_port(), free_port()
        self.extra_env = extra_env or {}
        self.config_dir = os.path.join(self.dir, "runtime", "ratelimit", "config")
        os.makedirs(self.config_dir)
        for name, text in configs.items():
            with open(os.path.join(self.config_dir, name), "w") as f:
                f.write(text)
        if start:
            self.start()

    def env(self):
        env = dict(os.environ)
        env.update({
            "HOST": "127.0.0.1", "PORT": str(self.http_port),
            "GRPC_HOST": "127.0.0.1", "GRPC_PORT": str(self.grpc_port),
            "DEBUG_HOST": "127.0.0.1", "DEBUG_PORT": str(self.debug_port),
            "REDIS_SOCKET_TYPE": "tcp", "REDIS_URL": f"127.0.0.1:{self.redis_port}",
            "RUNTIME_ROOT": os.path.join(self.dir, "runtime"), "RUNTIME_SUBDIRECTORY": "ratelimit",
            "RUNTIME_WATCH_ROOT": "false", "RUNTIME_IGNOREDOTFILES": "true",
            "USE_STATSD": "false", "LOG_LEVEL": "info", "LOG_FORMAT": "text",
        })
        env.update(self.extra_env)
        return env

    def start(self, timeout=30):
        if not os.path.exists(RATELIMIT_BIN):
            raise RuntimeError(f"{RATELIMIT_BIN} missing: run `make fleet-tools`")
        self._spawn([RATELIMIT_BIN], env=self.env())
        self._wait(self.healthy, timeout)
        return self

    def healthy(self):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=1)
            c.request("GET", "/healthcheck")
            r = c.getresponse()
            r.read()
            c.close()
            return r.status == 200
        except OSError:
            return False


if __name__ == "__main__":
    # Smoke run: start both, print the ports, stop.
    with Redis() as r, RateLimit(r.port, {}) as rl:
        print(f"redis 127.0.0.1:{r.port} ratelimit grpc 127.0.0.1:{rl.grpc_port} http 127.0.0.1:{rl.http_port}")
