"""
Shared test plumbing: tier markers by folder, and loading the project's
custom Salt modules straight from ``_modules`` and ``_states``.
"""
import functools
import importlib.util
import inspect
import json
import pathlib

import pytest
from saltfactories.utils.loader import LoaderModuleMock

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
    Import ``<kind>/<name>.py`` (kind is ``_modules``, ``_states``,
    ``_runners`` or ``_utils``) as a fresh module, for a test to set its
    dunders; ``__utils__`` holds the formula's own utils, as on a minion.
    """
    path = ROOT / kind / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"nfsha_{kind.strip('_')}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if kind != "_utils":
        module.__utils__ = salt_utils()
    return module


def salt_utils():
    """The formula's ``_utils`` as Salt's loader offers them: ``{"<module>.<function>": function}``."""
    return dict(_salt_utils())


@functools.cache
def _salt_utils():
    found = {}
    for path in sorted((ROOT / "_utils").glob("*.py")):
        module = load_salt_module("_utils", path.stem)
        found.update(
            (f"{path.stem}.{name}", value)
            for name, value in vars(module).items()
            if not name.startswith("_") and inspect.isfunction(value) and value.__module__ == module.__name__
        )
    return found


@pytest.fixture(autouse=True)
def setup_loader_mock(request):
    """
    salt-factories' fixture of the same name, which sets the dunders a test
    module's ``configure_loader_modules`` gives (and an empty dict for every
    other one), with the formula's ``__utils__`` where none is given.
    """
    if not hasattr(request.node.module, "configure_loader_modules"):
        yield
        return
    modules = request.getfixturevalue("configure_loader_modules")
    with LoaderModuleMock({m: {"__utils__": salt_utils(), **d} for m, d in modules.items()}) as mock:
        yield mock


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
