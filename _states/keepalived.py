"""
Manage keepalived: a configuration file that goes live only when
``keepalived -t`` accepts it, and waiting for a VRRP instance to reach a
state.

The file holds the VRRP ``auth_pass``: changes and comments never show its
text (no diff), and it is written mode 0600 root.

:depends: the keepalived execution module of this project
"""
import re
import time

from salt.exceptions import CommandExecutionError, SaltException

__virtualname__ = "keepalived"

_CONFIG = "/etc/keepalived/keepalived.conf"
_STATES = ("MASTER", "BACKUP", "FAULT", "INIT", "STOP")
_POLL = 0.5
_AUTH_PASS = re.compile(r"(\bauth_pass\s+)\S+")
# keepalived -t's message for a vrrp_script whose program does not exist.
_MISSING_SCRIPT = re.compile(r"^Disabling track script (\S+) since not found/accessible$")


def __virtual__():
    # Load even before keepalived is installed: the formula installs it
    # earlier in the same run, and test runs happen where nothing is.
    return __virtualname__


def config(
    name=_CONFIG,
    source=None,
    contents=None,
    template="jinja",
    context=None,
    defaults=None,
    config_id=None,
    reload=True,
    pidfile=None,
):
    """
    keepalived's configuration file ``name`` holds the rendered ``source``
    (a ``salt://`` or local file) or ``contents``, rendered like file.managed
    does (``template``, ``context``, ``defaults``; ``template=None`` copies
    verbatim).

    The new text is checked with ``keepalived -t`` (with ``config_id``
    selecting the ``@ID`` lines) before it replaces the live file, atomically
    and mode 0600 root: a configuration keepalived rejects never replaces a
    working one, the state fails naming keepalived's messages. When the text
    changed and ``reload`` is true, a running daemon (found through
    ``pidfile``, default /run/keepalived.pid) is reloaded.

    .. code-block:: yaml

        keepalived-conf:
          keepalived.config:
            - name: /etc/keepalived/keepalived.conf
            - source: salt://nfsha/files/keepalived.conf.jinja
            - context:
                vip: 10.252.50.10/24
            - config_id: nfs1
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    if not name.startswith("/"):
        return _fail(ret, f"name: {name!r} is not an absolute path")
    if (source is None) == (contents is None):
        return _fail(ret, "source, contents: give exactly one of them")
    try:
        text = _render(name, source, contents, template, context, defaults)
    except SaltException as exc:
        return _fail(ret, f"Cannot render {name}: {_masked(str(exc))}")
    changes = _file_changes(name, text)
    if not changes:
        ret["comment"] = f"{name} is as configured"
        return ret
    # A pkg state with changes makes the state system reload its modules, so
    # a keepalived installed earlier in this run is loaded by now.
    if "keepalived.write_config" not in __salt__:
        if __opts__["test"]:
            ret.update(
                result=None,
                changes=changes,
                comment=f"keepalived is not installed yet; {name} would be written "
                "after its installation (keepalived -t cannot check it before)",
            )
            return ret
        return _fail(
            ret, f"keepalived is not installed, so {name} cannot be checked and is not written"
        )
    scripts_to_come = []
    try:
        __salt__["keepalived.write_config"](
            text, path=name, config_id=config_id, test=__opts__["test"]
        )
    except CommandExecutionError as exc:
        # Under test=True the track scripts that earlier states would write
        # do not exist yet: keepalived -t only says so. A real run checks
        # again, with them in place.
        scripts_to_come = _missing_scripts(getattr(exc, "messages", None))
        if not (__opts__["test"] and scripts_to_come):
            return _fail(ret, str(exc))
    # Only a new text needs a reload; a mode or owner fix does not.
    wants_reload = reload and "config" in changes
    reloads = wants_reload and __salt__["keepalived.running"](pidfile)
    if reloads:
        changes["reloaded"] = True
    if __opts__["test"]:
        checked = (
            f"keepalived -t accepts it once its track scripts exist: {', '.join(scripts_to_come)}"
            if scripts_to_come
            else "keepalived -t accepts it"
        )
        ret.update(
            result=None,
            changes=changes,
            comment=f"{name} would be updated ({checked})"
            + _reload_note(wants_reload, reloads, "would be reloaded"),
        )
        return ret
    ret["changes"] = changes
    if reloads:
        try:
            __salt__["keepalived.reload"](pidfile)
        except CommandExecutionError as exc:
            del changes["reloaded"]
            return _fail(ret, f"{name} updated, but keepalived was not reloaded: {exc}")
    ret["comment"] = f"{name} updated" + _reload_note(wants_reload, reloads, "reloaded")
    return ret


def instance_state(name, vrrp_state="MASTER", timeout=30, pidfile=None, tmpdir=None):
    """
    Wait until the VRRP instance ``name`` of the running keepalived is in
    ``vrrp_state`` (one of MASTER, BACKUP, FAULT, INIT, STOP, or a list of
    them), polling for up to ``timeout`` seconds; fail with the last state
    seen. ``pidfile`` and ``tmpdir`` locate the daemon, as for
    ``keepalived.instances``. Changes nothing.

    (Not ``state``: Salt reserves that argument name for the state module.)

    .. code-block:: yaml

        nfs1-holds-the-vip:
          keepalived.instance_state:
            - name: VI_1
            - vrrp_state: MASTER
            - timeout: 30
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    wanted = [vrrp_state] if isinstance(vrrp_state, str) else vrrp_state
    if not isinstance(wanted, list) or not wanted or any(s not in _STATES for s in wanted):
        return _fail(
            ret, f"vrrp_state: {vrrp_state!r} is not one of {', '.join(_STATES)} or a list of them"
        )
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        return _fail(ret, f"timeout: {timeout!r} is not a positive number of seconds")
    goal = " or ".join(wanted)
    waiting = f"wait up to {timeout} s for VRRP instance {name} to be {goal}"
    if "keepalived.instances" not in __salt__:
        if __opts__["test"]:
            ret.update(result=None, comment=f"keepalived is not installed yet; would {waiting}")
            return ret
        return _fail(ret, f"keepalived is not installed; cannot {waiting}")
    if __opts__["test"]:
        ret.update(result=None, comment=f"Would {waiting}")
        return ret
    deadline = time.monotonic() + timeout
    while True:
        try:
            seen = __salt__["keepalived.instances"](pidfile=pidfile, tmpdir=tmpdir).get(name)
            last = seen["state"] if seen else "no such instance"
        except CommandExecutionError as exc:
            last = str(exc)
        if last in wanted:
            ret["comment"] = f"VRRP instance {name} is {last}"
            return ret
        if time.monotonic() >= deadline:
            return _fail(
                ret, f"VRRP instance {name} did not become {goal} within {timeout} s; last seen: {last}"
            )
        time.sleep(_POLL)


def _render(name, source, contents, template, context, defaults):
    """The new file text, rendered as file.managed would."""
    # A copy: Salt merges context into defaults in place.
    defaults = dict(defaults or {})
    if contents is not None:
        if not template:
            return contents
        text = __salt__["file.apply_template_on_contents"](
            contents, template=template, context=context, defaults=defaults, saltenv=__env__
        )
        if not isinstance(text, str):
            # An unsupported template name comes back as a state-like dict.
            raise CommandExecutionError(text.get("comment", f"template {template!r} failed"))
        return text
    if not template:
        text = __salt__["cp.get_file_str"](source, saltenv=__env__)
        if text is False:
            raise CommandExecutionError(f"source {source} not found")
        return text
    rendered, _, error = __salt__["file.get_managed"](
        name,
        template,
        source,
        "",  # no source_hash: salt:// and local sources are hashed where they are
        None,
        "root",
        "root",
        "0600",
        None,
        __env__,
        context,
        defaults,
    )
    if error:
        raise CommandExecutionError(error)
    try:
        return __salt__["file.read"](rendered)
    finally:
        # The rendered copy holds the password.
        __salt__["file.remove"](rendered)


def _file_changes(name, text):
    """What writing text to name would change: config, mode, owner."""
    if not __salt__["file.file_exists"](name):
        return {"config": "updated"}
    changes = {}
    if __salt__["file.read"](name) != text:
        changes["config"] = "updated"
    stats = __salt__["file.stats"](name)
    if stats["mode"] != "0600":
        changes["mode"] = "0600"
    if stats["uid"] or stats["gid"]:
        changes["owner"] = "root:root"
    return changes


def _reload_note(wants_reload, reloads, done):
    if reloads:
        return f"; keepalived {done}"
    if wants_reload:
        return "; keepalived is not running, nothing to reload"
    return ""


def _missing_scripts(messages):
    """The track scripts keepalived -t disabled as missing, when that is all
    it found wrong; else an empty list."""
    found = [_MISSING_SCRIPT.match(m) for m in messages or []]
    if not found or not all(found):
        return []
    return [m.group(1) for m in found]


def _masked(text):
    # Template errors quote template lines, which may hold a password.
    return _AUTH_PASS.sub(r"\1********", text)


def _fail(ret, comment):
    ret.update(result=False, comment=comment)
    return ret
