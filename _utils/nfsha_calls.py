"""
Bounded program calls: how the nfsha execution modules run a program
through Salt's ``cmd.run_all`` with a timeout, and how they tell Salt's
answer to a program it killed at that timeout from the program's own
failure (docs/design.md, "Every program call is bounded").

Execution modules reach these as ``__utils__["nfsha_calls.<function>"]``
and hand ``run_all`` their own ``__salt__["cmd.run_all"]`` (Salt gives
utils no ``__salt__``).
"""
from salt.exceptions import CommandExecutionError, SaltInvocationError


def seconds(value, default, argument="call_timeout"):
    """
    The bound a caller gave (``value`` seconds), or ``default`` when it gave
    none; SaltInvocationError, naming ``argument``, for anything but a
    number above 0 (0 would mean no limit to ``cmd.run_all``).
    """
    if value is None:
        return default
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or value <= 0:
        raise SaltInvocationError(f"{argument}: {value!r} is not a number of seconds above 0")
    return value


def timed_out(ret, timeout):
    """
    Whether ``ret`` is what ``cmd.run_all`` answers when it killed the
    program at ``timeout`` seconds (salt.utils.timed_subprocess): retcode 1
    and, on stdout, the whole command line, secrets included, with this
    suffix.
    """
    return (
        ret["retcode"] == 1
        and not ret["stderr"]
        and ret["stdout"].endswith(f" : Timed out after {timeout} seconds")
    )


def run_all(cmd_run_all, argv, timeout, what, hint=None, **kwargs):
    """
    ``cmd_run_all`` (Salt's ``cmd.run_all``) on ``argv`` within ``timeout``
    seconds, with ``kwargs``: its answer, or, when the program outlasted
    the bound, CommandExecutionError ``<what> did not answer within N s
    (<hint>)``. ``what`` names the call (never with an argument that may be
    a secret: the answer Salt gives on a timeout repeats them all).
    """
    ret = cmd_run_all(argv, python_shell=False, timeout=timeout, **kwargs)
    if timed_out(ret, timeout):
        suffix = f" ({hint})" if hint else ""
        raise CommandExecutionError(f"{what} did not answer within {timeout} s{suffix}")
    return ret
