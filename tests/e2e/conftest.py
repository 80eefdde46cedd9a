import copy

import pytest

import harness
from harness import Envoy, enforcing_policy


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report includes the log tail of every Envoy still running (before teardown)."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        for i, e in enumerate(harness.LIVE):
            rep.sections.append((f"Envoy log #{i} (admin port {e.admin})", e.log()[-15000:]))
        hint = harness.policy_edits_hint()
        if hint:
            rep.sections.append(("envoy/policy.json", hint))


def pytest_report_header(config):
    return harness.policy_edits_hint() or None


def make_policy(**changes):
    """The shipped policy with detection enforced (tests of enforcement say so), plus `changes`."""
    p = enforcing_policy()
    for k, v in changes.items():
        p[k] = v
    return p


def env_secret_policy(**changes):
    """The enforcing policy with the hashing secret read from the VM's environment."""
    p = make_policy(**changes)
    p["credential"].pop("hash_secret")
    p["credential"]["hash_secret_env"] = "DISTILL_GUARD_HASH_SECRET"
    return p


@pytest.fixture(scope="module")
def envoy_default():
    e = Envoy()
    yield e
    e.close()


@pytest.fixture
def policy():
    return copy.deepcopy(enforcing_policy())
