"""
Shared test plumbing: tier markers by folder, and loading the project's
custom Salt modules straight from ``_modules`` and ``_states``.
"""
import importlib.util
import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
RECORDED = pathlib.Path(__file__).resolve().parent / "recorded"


def pytest_collection_modifyitems(items):
    # The folder a test lives in is its tier.
    for item in items:
        tier = pathlib.Path(str(item.fspath)).relative_to(ROOT / "tests").parts[0]
        if tier in ("unit", "functional", "e2e"):
            item.add_marker(getattr(pytest.mark, tier))


def load_salt_module(kind, name):
    """
    Import ``<kind>/<name>.py`` (kind is ``_modules``, ``_states`` or
    ``_runners``) as a fresh module, for a test to set its dunders.
    """
    path = ROOT / kind / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"nfsha_{kind.strip('_')}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recorded(relpath):
    """The text of a recorded tool output under tests/recorded/."""
    return (RECORDED / relpath).read_text()


def timed_out(argv, timeout):
    """
    What cmd.run_all returns when it killed ``argv`` at ``timeout`` seconds:
    the answer recorded for ``sleep 30`` killed after 2 s, with this
    command and bound in its place.
    """
    ret = json.loads(recorded("salt/cmd-run-all-timeout.json"))
    ret["stdout"] = (
        ret["stdout"]
        .replace("['sleep', '30']", str(argv))
        .replace("after 2 seconds", f"after {timeout} seconds")
    )
    return ret


def pytest_unconfigure():
    # Salt queues early log records in a deferred stderr handler that it
    # flushes at exit, after pytest has closed its capture streams: hand them
    # to the remaining handlers now instead of printing "Logging error" noise.
    from salt._logging import impl

    impl.shutdown_temp_handler()
