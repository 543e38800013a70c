"""
Keep an open-iscsi node configured and logged in (or logged out).

The state decides; the iscsiadm execution module reads and changes the node
records and sessions. CHAP passwords never appear in changes or comments:
changed ones are reported as ``"updated"``.

.. code-block:: yaml

    nfsha-iscsi-lun1:
      iscsiadm.node_logged_in:
        - name: iqn.2018-08.es.raulpedroche:lun1
        - portal: 192.168.56.20
        - chap: {username: nfs-iscsi-user, password: {{ secret }}}
        - mutual_chap: {username: debian-iscsi-target, password: {{ target_secret }}}

:depends: the iscsiadm execution module (open-iscsi)
"""
import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "iscsiadm"

STARTUP_MODES = ("automatic", "manual", "onboot")
_POLL_INTERVAL = 1


def __virtual__():
    # Load even without open-iscsi: the formula installs it earlier in the
    # same run, and test=True runs happen where nothing is installed yet.
    return __virtualname__


def node_logged_in(
    name,
    portal,
    chap=None,
    mutual_chap=None,
    startup="automatic",
    lun=1,
    timeout=30,
    call_timeout=None,
    login_timeout=None,
):
    """
    The node record of target ``name`` at ``portal`` exists with these
    settings, a session is logged in, and the LUN's /dev/disk/by-path device
    exists (waiting up to ``timeout`` seconds for it).

    name
        The target's IQN.
    portal
        ``address[:port]`` (port 3260 by default).
    chap
        ``{"username": ..., "password": ...}``: the initiator authenticates to
        the target with CHAP. None: no authentication (authmethod None).
    mutual_chap
        The same for the target's outgoing account (the target authenticates
        to the initiator); needs ``chap``. None: no mutual CHAP.
    startup
        node.startup: ``automatic`` (log in at boot), ``manual`` or ``onboot``.
    lun, timeout
        The LUN whose device to wait for, and how long (seconds).
    call_timeout
        Seconds each iscsiadm call on node records and sessions may take
        (default 30).
    login_timeout
        Seconds discovery and the login may take (default 150): longer than
        iscsid's own login retries, which end with iscsid's own error. Past
        either bound the state fails, naming the call.

    Discovery runs only when the record is missing (it would reset
    node.startup). Only the settings that differ are updated; a running
    session keeps its old settings until its next login (the state does not
    log out a session that file systems may be using).
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        wanted = _wanted_settings(chap, mutual_chap, startup)
        _check_wait(lun, timeout)
        bounds = _bounds(call_timeout, login_timeout)
        if "iscsiadm.check_settings" in __salt__:
            _check_values(wanted)
    except ValueError as exc:
        ret.update(result=False, comment=f"Invalid arguments: {exc}")
        return ret
    # Salt reloads __salt__ after a pkg state that changed something
    # (State.check_refresh), so this sees open-iscsi installed earlier in
    # the same run.
    if "iscsiadm.node_settings" not in __salt__:
        if __opts__["test"]:
            ret.update(
                result=None,
                comment=f"open-iscsi is not installed yet; target {name} at {portal} "
                "would be discovered, configured and logged in",
            )
        else:
            ret.update(
                result=False,
                comment=f"open-iscsi is not installed (no iscsiadm execution module): "
                f"cannot log in to target {name} at {portal}",
            )
        return ret
    try:
        return _logged_in(ret, name, portal, wanted, lun, timeout, bounds)
    except (CommandExecutionError, SaltInvocationError) as exc:
        done = f" (done before: {_describe(ret['changes'])})" if ret["changes"] else ""
        ret.update(result=False, comment=f"Target {name} at {portal}: {exc}{done}")
        return ret


def node_logged_out(name, portal, call_timeout=None, login_timeout=None):
    """
    No session to target ``name`` at ``portal`` is logged in. The node record
    stays (with node.startup automatic it logs in again at boot).

    call_timeout, login_timeout
        As for ``node_logged_in``; the logout is bounded by ``login_timeout``.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        bounds = _bounds(call_timeout, login_timeout)
    except ValueError as exc:
        ret.update(result=False, comment=f"Invalid arguments: {exc}")
        return ret
    if "iscsiadm.sessions" not in __salt__:
        ret["comment"] = f"open-iscsi is not installed: target {name} at {portal} is not logged in"
        return ret
    try:
        if not __salt__["iscsiadm.sessions"](name, portal, call_timeout=bounds["call"]):
            ret["comment"] = f"Target {name} at {portal} is not logged in"
            return ret
        if __opts__["test"]:
            ret.update(
                result=None,
                changes={"logged_out": True},
                comment=f"Target {name} at {portal} would be logged out",
            )
            return ret
        logged_out = __salt__["iscsiadm.logout"](name, portal, call_timeout=bounds["login"])
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=f"Target {name} at {portal}: {exc}")
        return ret
    if logged_out:
        ret.update(changes={"logged_out": True}, comment=f"Target {name} at {portal} logged out")
    else:
        ret["comment"] = f"Target {name} at {portal} was logged out meanwhile"
    return ret


def _logged_in(ret, name, portal, wanted, lun, timeout, bounds):
    call, login = bounds["call"], bounds["login"]
    missing = __salt__["iscsiadm.node_settings"](name, portal, call_timeout=call) is None
    if missing and __opts__["test"]:
        # The record's values are unknown until discovery makes it.
        return _would(ret, name, portal, {
            "discovered": True,
            "settings": {setting: "updated" for setting in sorted(wanted)},
            "logged_in": True,
        })
    changes = ret["changes"]
    if missing:
        found = __salt__["iscsiadm.discover"](portal, call_timeout=login)
        if __salt__["iscsiadm.node_settings"](name, portal, call_timeout=call) is None:
            offered = ", ".join(sorted({item["target"] for item in found})) or "nothing"
            raise CommandExecutionError(
                f"discovery at {portal} made no record for it (the portal offers: {offered})"
            )
        changes["discovered"] = True
    pending = __salt__["iscsiadm.node_changes"](name, portal, wanted, call_timeout=call)
    was_logged_in = bool(__salt__["iscsiadm.sessions"](name, portal, call_timeout=call))
    if __opts__["test"]:
        would = {"settings": pending} if pending else {}
        if not was_logged_in:
            would["logged_in"] = True
        if would:
            return _would(ret, name, portal, would)
    else:
        if pending:
            __salt__["iscsiadm.node_update"](
                name, portal, {setting: wanted[setting] for setting in pending}, call_timeout=call
            )
            changes["settings"] = pending
        if not was_logged_in and __salt__["iscsiadm.login"](name, portal, call_timeout=login):
            changes["logged_in"] = True
    summary = _describe(changes) if changes else "logged in as configured"
    if pending and was_logged_in:
        summary += "; the running session keeps its old settings until its next login"
    if __opts__["test"]:
        device = __salt__["iscsiadm.device"](name, portal, lun)
        if device is None:
            ret.update(
                result=None,
                comment=f"Target {name} at {portal} is {summary}; LUN {lun} has no device "
                f"yet, the state would wait up to {timeout} s for it",
            )
            return ret
    else:
        device = _wait_device(name, portal, lun, timeout)
        if device is None:
            ret.update(
                result=False,
                comment=f"Target {name} at {portal}: {summary}, but LUN {lun} has no device "
                f"after {timeout} s",
            )
            return ret
    ret["comment"] = f"Target {name} at {portal}: {summary} ({device})"
    return ret


def _would(ret, name, portal, changes):
    ret.update(
        result=None,
        changes=changes,
        comment=f"Target {name} at {portal} would be: {_describe(changes)}",
    )
    return ret


def _wanted_settings(chap, mutual_chap, startup):
    if startup not in STARTUP_MODES:
        raise ValueError(f"startup must be one of {', '.join(STARTUP_MODES)}, got {startup!r}")
    wanted = {"node.startup": startup}
    if chap is None:
        if mutual_chap is not None:
            raise ValueError(
                "mutual_chap needs chap: the target authenticates back only within CHAP"
            )
        wanted["node.session.auth.authmethod"] = "None"
        return wanted
    username, password = _credentials("chap", chap)
    wanted.update(
        {
            "node.session.auth.authmethod": "CHAP",
            "node.session.auth.username": username,
            "node.session.auth.password": password,
        }
    )
    # Empty incoming credentials turn mutual CHAP off.
    username_in, password_in = (
        ("", "") if mutual_chap is None else _credentials("mutual_chap", mutual_chap)
    )
    wanted["node.session.auth.username_in"] = username_in
    wanted["node.session.auth.password_in"] = password_in
    return wanted


def _credentials(argument, value):
    if not isinstance(value, dict) or set(value) != {"username", "password"}:
        raise ValueError(f"{argument} must be a dict with exactly the keys username and password")
    for key in ("username", "password"):
        if not isinstance(value[key], str) or not value[key]:
            raise ValueError(f"{argument}: {key} must be a non-empty string")
    return value["username"], value["password"]


def _check_values(wanted):
    try:
        __salt__["iscsiadm.check_settings"](wanted)
    except SaltInvocationError as exc:
        raise ValueError(str(exc)) from None


def _check_wait(lun, timeout):
    if isinstance(lun, bool) or not isinstance(lun, int) or lun < 0:
        raise ValueError(f"lun must be a LUN number (0 or more), got {lun!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        raise ValueError(f"timeout must be a number of seconds (0 or more), got {timeout!r}")


def _bounds(call_timeout, login_timeout):
    """The iscsiadm bounds given (None: the execution module's defaults), checked."""
    bounds = {"call": call_timeout, "login": login_timeout}
    for kind, value in bounds.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if value is not None and (not number or value <= 0):
            # 0 would be no limit at all.
            raise ValueError(f"{kind}_timeout must be a number of seconds above 0, got {value!r}")
    return bounds


def _wait_device(name, portal, lun, timeout):
    deadline = time.monotonic() + timeout
    while True:
        device = __salt__["iscsiadm.device"](name, portal, lun)
        if device is not None or time.monotonic() >= deadline:
            return device
        time.sleep(_POLL_INTERVAL)


def _describe(changes):
    parts = []
    if "discovered" in changes:
        parts.append("discovered")
    if "settings" in changes:
        parts.append("updated " + ", ".join(sorted(changes["settings"])))
    if "logged_in" in changes:
        parts.append("logged in")
    return "; ".join(parts)
