import copy

import pytest

from harness import Envoy, default_policy


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(autouse=True)
def _dump_envoy_log_on_failure(request):
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for name in request.fixturenames:
            value = request.getfixturevalue(name) if name.startswith("envoy") else None
            if isinstance(value, Envoy):
                print(f"\n----- Envoy log ({name}) -----\n" + value.log()[-20000:])


def make_policy(**changes):
    p = default_policy()
    for k, v in changes.items():
        p[k] = v
    return p


@pytest.fixture(scope="module")
def envoy_default():
    e = Envoy()
    yield e
    e.close()


@pytest.fixture
def policy():
    return copy.deepcopy(default_policy())
