"""
_utils/nfsha_calls.py, the one place that bounds the modules' program
calls: Salt's recorded answer to a program it killed at its timeout is
told from a program's own failure, and a bound that is no bound is refused.
The modules' own tests show each module's wording on top of it.
"""
import json

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.conftest import load_salt_module, recorded, timed_out

calls = load_salt_module("_utils", "nfsha_calls")

SLEEP = ["sleep", "30"]


def answering(ret):
    """A cmd.run_all that gives ``ret`` and records how it was called."""
    def run_all(argv, **kwargs):
        run_all.calls.append((argv, kwargs))
        return ret
    run_all.calls = []
    return run_all


def test_salts_recorded_answer_to_a_killed_program_is_a_timeout():
    ret = json.loads(recorded("salt/cmd-run-all-timeout.json"))
    assert calls.timed_out(ret, 2)
    # Killed at another bound: not this call's timeout.
    assert not calls.timed_out(ret, 20)


@pytest.mark.parametrize(
    "ret",
    [
        {"pid": 1, "retcode": 1, "stdout": "", "stderr": "umount: /data: target is busy."},
        # Exit 1 with the wording on stdout, and something on stderr.
        {"pid": 1, "retcode": 1, "stdout": "x : Timed out after 2 seconds", "stderr": "boom"},
        {"pid": 1, "retcode": 0, "stdout": "x : Timed out after 2 seconds", "stderr": ""},
    ],
)
def test_a_programs_own_failure_is_no_timeout(ret):
    assert not calls.timed_out(ret, 2)


def test_run_all_bounds_the_call_and_hands_back_the_answer():
    run_all = answering({"pid": 1, "retcode": 32, "stdout": "", "stderr": "not mounted"})
    ret = calls.run_all(run_all, ["umount", "/data"], 30, "umount /data", ignore_retcode=True)
    assert ret["retcode"] == 32
    assert run_all.calls == [(["umount", "/data"], {"python_shell": False, "timeout": 30, "ignore_retcode": True})]


def test_a_killed_call_raises_with_what_hung_and_for_how_long():
    run_all = answering(timed_out(["mount", "/data"], 150))
    with pytest.raises(CommandExecutionError) as error:
        calls.run_all(run_all, ["mount", "/data"], 150, "mount /data", "NFS server not answering?")
    assert str(error.value) == "mount /data did not answer within 150 s (NFS server not answering?)"
    run_all = answering(timed_out(["keepalived", "-t"], 30))
    with pytest.raises(CommandExecutionError, match=r"^keepalived -t did not answer within 30 s$"):
        calls.run_all(run_all, ["keepalived", "-t"], 30, "keepalived -t")


def test_seconds_takes_the_default_or_a_bound_above_0():
    assert calls.seconds(None, 60) == 60
    assert calls.seconds(2.5, 60) == 2.5


@pytest.mark.parametrize("value", [0, -1, "10", True, [10]])
def test_seconds_refuses_what_is_no_bound_naming_the_argument(value):
    with pytest.raises(SaltInvocationError, match=r"^mkfs_timeout: .* is not a number of seconds above 0$"):
        calls.seconds(value, 600, "mkfs_timeout")
