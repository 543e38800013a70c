"""
Manage the open-iscsi initiator through iscsiadm: node records, discovery,
sessions and the block devices of logged-in LUNs.

Secrets (CHAP passwords) never leave this module in clear: parsed records
show them as ``********``, commands that carry or print them run with
``output_loglevel="quiet"`` so Salt does not log them, and errors have them
masked.

Every function that runs iscsiadm takes ``call_timeout``: the seconds each
iscsiadm call may take. Past it iscsiadm is killed and CommandExecutionError
names the call. The default is 30 s for node records and sessions (files and
sysfs: milliseconds), 150 s for discovery, login and logout, which wait for
iscsid and the target: iscsid gives up an initial login after
node.session.initial_login_retry_max x node.conn[0].timeo.login_timeout
(8 x 15 = 120 s with Debian's iscsid.conf) and then answers with its own
error, and iscsiadm waits for iscsid's answer without a limit of its own.

:depends: open-iscsi (iscsiadm; iscsid for discovery and login)
"""
import ipaddress
import os.path
import re

import salt.utils.path
from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "iscsiadm"

INITIATOR_NAME_FILE = "/etc/iscsi/initiatorname.iscsi"
BY_PATH = "/dev/disk/by-path"
DEFAULT_PORT = 3260
MASK = "********"

CALL_TIMEOUT = 30
LOGIN_TIMEOUT = 150

# iscsiadm(8) EXIT STATUS
_ERR_SESS_EXISTS = 15
_ERR_NO_OBJS_FOUND = 21
# The record's text fields hold 255 characters (AUTH_STR_MAX_LEN 256);
# iscsiadm truncates longer values without an error.
_MAX_VALUE = 255

_NAME = re.compile(r"[A-Za-z][\w.\[\]-]*")
_PORTAL = re.compile(
    r"\[(?P<bracketed>[^\]]+)\](?::(?P<bracketed_port>\d+))?"
    r"|(?P<ipv4>[\d.]+)(?::(?P<ipv4_port>\d+))?"
    r"|(?P<ipv6>[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)"
)
# "-m node" and discovery print "portal,tpgt target" (idbm_print_node_flat).
_FLAT = re.compile(r"^(?P<portal>\S+),(?P<tpgt>-?\d+) (?P<target>\S+)$", re.MULTILINE)
# "-m session": "tcp: [1] 10.0.0.1:3260,1 iqn... (non-flash)"
_SESSION = re.compile(
    r"^\S+: \[(?P<sid>\d+)\] (?P<portal>\S+),-?\d+ (?P<target>\S+)", re.MULTILINE
)


def __virtual__():
    if salt.utils.path.which("iscsiadm"):
        return __virtualname__
    return (False, "iscsiadm: iscsiadm is not installed (Debian package open-iscsi)")


def initiator_name():
    """
    Return this initiator's iSCSI name from /etc/iscsi/initiatorname.iscsi,
    or None when the file or its ``InitiatorName=`` line is missing.

    CLI Example:

    .. code-block:: bash

        salt nfs1 iscsiadm.initiator_name
    """
    try:
        with open(INITIATOR_NAME_FILE, encoding="utf-8") as fh:
            return _parse_initiator_name(fh.read())
    except FileNotFoundError:
        return None


def discover(portal, call_timeout=None):
    """
    Ask the portal (``address[:port]``, port 3260 by default) for its targets
    with SendTargets and return them as a list of ``{target, portal, tpgt}``.

    Only records that do not exist yet are created (``--op new``): a plain
    discovery would reset existing records of that portal to iscsid.conf's
    defaults (node.startup back to manual, CHAP settings lost) and delete
    the ones the portal no longer offers. Needs a running iscsid.

    CLI Example:

    .. code-block:: bash

        salt nfs1 iscsiadm.discover 192.168.56.20
    """
    out = _iscsiadm(
        "-m", "discovery", "-t", "sendtargets", "-p", _portal_arg(portal), "-o", "new",
        accept=(_ERR_NO_OBJS_FOUND,), call_timeout=_login_timeout(call_timeout),
    )
    return _parse_flat(out["stdout"])


def nodes(call_timeout=None):
    """
    Return every node record as a list of ``{target, portal, tpgt}``
    (tpgt -1: the record has no portal group tag).

    CLI Example:

    .. code-block:: bash

        salt nfs1 iscsiadm.nodes
    """
    out = _iscsiadm("-m", "node", accept=(_ERR_NO_OBJS_FOUND,), call_timeout=call_timeout)
    return _parse_flat(out["stdout"])


def node_settings(target, portal, call_timeout=None):
    """
    Return the node record of ``target`` at ``portal`` as a dict of setting
    name to value (``""`` for iscsiadm's ``<empty>``), passwords shown as
    ``********``; None when there is no such record.

    CLI Example:

    .. code-block:: bash

        salt nfs1 iscsiadm.node_settings iqn.2018-08.es.raulpedroche:lun1 192.168.56.20
    """
    record = _record(target, portal, False, call_timeout)
    return None if record is None else _masked(record)


def check_settings(settings):
    """
    Return ``settings`` (a dict of setting name to text or number) with its
    values as the text a node record stores, or raise an error naming the
    first setting that a record cannot hold faithfully: a control character
    (a newline would add lines to the record), surrounding whitespace
    (iscsiadm strips it) or more than 255 characters (iscsiadm truncates).
    Values are never part of the error.

    CLI Example:

    .. code-block:: bash

        salt nfs1 iscsiadm.check_settings '{"node.startup": "automatic"}'
    """
    if not isinstance(settings, dict):
        raise SaltInvocationError(
            f"settings must be a dict of setting name to value, got {type(settings).__name__}"
        )
    checked = {}
    for name, value in settings.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise SaltInvocationError(f"settings: {name!r} is not a node setting name")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise SaltInvocationError(
                f"settings: {name} must be text or a number, not {type(value).__name__}"
            )
        text = str(value)
        if any(ord(char) < 32 or ord(char) == 127 for char in text):
            raise SaltInvocationError(f"settings: {name} contains a control character")
        if text != text.strip():
            raise SaltInvocationError(
                f"settings: {name} starts or ends with whitespace, which iscsiadm strips"
            )
        if len(text) > _MAX_VALUE:
            raise SaltInvocationError(
                f"settings: {name} is longer than {_MAX_VALUE} characters, "
                "which iscsiadm truncates"
            )
        checked[name] = text
    return checked


def node_changes(target, portal, settings, call_timeout=None):
    """
    Return the settings whose stored value differs from ``settings``, as
    changes: ``{"old": ..., "new": ...}`` for plain settings, ``"updated"``
    for passwords (compared in clear inside this function, never shown).
    Raises an error when the record is missing or does not know a name.

    CLI Example:

    .. code-block:: bash

        salt nfs1 iscsiadm.node_changes iqn.2018-08.es.raulpedroche:lun1 192.168.56.20 '{"node.startup": "automatic"}'
    """
    wanted = check_settings(settings)
    current = _record(target, portal, True, call_timeout)
    if current is None:
        raise CommandExecutionError(f"There is no node record for {target} at {portal}")
    unknown = sorted(set(wanted) - set(current))
    if unknown:
        raise SaltInvocationError(
            f"settings: {', '.join(unknown)} not in the node record of {target} at {portal}"
        )
    return {
        name: "updated" if _is_secret(name) else {"old": current[name], "new": value}
        for name, value in wanted.items()
        if current[name] != value
    }


def node_update(target, portal, settings, call_timeout=None):
    """
    Set each setting (a dict of name to value) in the node record of
    ``target`` at ``portal`` with ``iscsiadm --op update``; return the names
    set. A running session keeps its old settings until its next login.

    Password values travel on iscsiadm's command line (it has no other way
    to take them): they are kept out of Salt's logs and out of errors.

    CLI Example:

    .. code-block:: bash

        salt nfs1 iscsiadm.node_update iqn.2018-08.es.raulpedroche:lun1 192.168.56.20 '{"node.startup": "automatic"}'
    """
    wanted = check_settings(settings)
    node = _node_args(target, portal)
    for name, value in wanted.items():
        secret = _is_secret(name)
        _iscsiadm(
            *node, "-o", "update", "-n", name, "-v", value,
            quiet=secret, redact=value if secret else "", call_timeout=call_timeout,
        )
    return sorted(wanted)


def login(target, portal, call_timeout=None):
    """
    Log in to ``target`` at ``portal`` using its node record. Return True
    when a session was made, False when one already existed. Needs iscsid.

    CLI Example:

    .. code-block:: bash

        salt nfs1 iscsiadm.login iqn.2018-08.es.raulpedroche:lun1 192.168.56.20
    """
    ret = _iscsiadm(
        *_node_args(target, portal), "--login",
        accept=(_ERR_SESS_EXISTS,), call_timeout=_login_timeout(call_timeout),
    )
    return ret["retcode"] == 0


def logout(target, portal, call_timeout=None):
    """
    Log out of ``target`` at ``portal``. Return True when a session ended,
    False when there was none.

    CLI Example:

    .. code-block:: bash

        salt nfs1 iscsiadm.logout iqn.2018-08.es.raulpedroche:lun1 192.168.56.20
    """
    ret = _iscsiadm(
        *_node_args(target, portal), "--logout",
        accept=(_ERR_NO_OBJS_FOUND,), call_timeout=_login_timeout(call_timeout),
    )
    return ret["retcode"] == 0


def sessions(target=None, portal=None, call_timeout=None):
    """
    Return the running sessions as a list of ``{sid, target, portal}``,
    only those of ``target`` and/or ``portal`` when given.

    CLI Example:

    .. code-block:: bash

        salt nfs1 iscsiadm.sessions
        salt nfs1 iscsiadm.sessions iqn.2018-08.es.raulpedroche:lun1 192.168.56.20
    """
    wanted_portal = None if portal is None else _portal_arg(portal)
    out = _iscsiadm("-m", "session", accept=(_ERR_NO_OBJS_FOUND,), call_timeout=call_timeout)
    found = _parse_sessions(out["stdout"])
    return [
        session
        for session in found
        if target in (None, session["target"]) and wanted_portal in (None, session["portal"])
    ]


def device(target, portal, lun):
    """
    Return the /dev/disk/by-path path of LUN ``lun`` of ``target`` at
    ``portal`` (e.g. ``/dev/disk/by-path/ip-192.168.56.20:3260-iscsi-<iqn>-lun-1``),
    or None while it does not exist.

    CLI Example:

    .. code-block:: bash

        salt nfs1 iscsiadm.device iqn.2018-08.es.raulpedroche:lun1 192.168.56.20 1
    """
    if isinstance(lun, bool) or not isinstance(lun, int) or lun < 0:
        raise SaltInvocationError(f"lun must be a LUN number (0 or more), got {lun!r}")
    address, port = _portal(portal)
    # udev's path_id names the link after the session's address, unbracketed.
    path = os.path.join(BY_PATH, f"ip-{address}:{port}-iscsi-{_target(target)}-lun-{lun}")
    return path if os.path.exists(path) else None


def _iscsiadm(*args, accept=(), quiet=False, redact="", call_timeout=None):
    """
    Run iscsiadm; raise CommandExecutionError with its stderr unless it exits
    0 or with a code in ``accept``. ``quiet`` keeps the command and its
    output out of Salt's logs; ``redact`` is masked in the error.
    ``call_timeout``: seconds iscsiadm may take (default CALL_TIMEOUT).
    """
    timeout = __utils__["nfsha_calls.seconds"](call_timeout, CALL_TIMEOUT)
    ret = __utils__["nfsha_calls.run_all"](
        __salt__["cmd.run_all"],
        ["iscsiadm", *args],
        timeout,
        _subcommand(args),
        "hung iscsid?",
        # Codes in accept are answers, not failures: this function decides.
        ignore_retcode=True,
        output_loglevel="quiet" if quiet else "debug",
    )
    if ret["retcode"] and ret["retcode"] not in accept:
        message = ret["stderr"] or ret["stdout"] or f"iscsiadm exited with {ret['retcode']}"
        raise CommandExecutionError(message.replace(redact, MASK) if redact else message)
    return ret


def _login_timeout(call_timeout):
    # Discovery, login and logout wait for iscsid and the target.
    return LOGIN_TIMEOUT if call_timeout is None else call_timeout


def _subcommand(args):
    """'iscsiadm -m node --login': the mode and operation of a call, never a value."""
    words = ["iscsiadm", "-m", args[1]]
    for flag in ("-t", "-o"):
        if flag in args:
            words += [flag, args[args.index(flag) + 1]]
    return " ".join(words + [arg for arg in args if arg in ("--login", "--logout")])


def _record(target, portal, reveal, call_timeout):
    """The one node record of target at portal (None if absent); reveal: passwords in clear."""
    args = _node_args(target, portal)
    if reveal:
        args.append("-S")
    out = _iscsiadm(*args, accept=(_ERR_NO_OBJS_FOUND,), quiet=reveal, call_timeout=call_timeout)
    records = _parse_records(out["stdout"])
    if len(records) > 1:
        ifaces = ", ".join(record.get("iface.iscsi_ifacename", "?") for record in records)
        raise CommandExecutionError(
            f"{target} at {portal} has {len(records)} node records (ifaces {ifaces}); "
            "this module manages one record per target and portal"
        )
    return records[0] if records else None


def _node_args(target, portal):
    return ["-m", "node", "-T", _target(target), "-p", _portal_arg(portal)]


def _target(target):
    # The rule is the formula's, shared with nfsha.validate (_utils/nfsha_rules.py).
    problem = __utils__["nfsha_rules.iscsi_name"](target)
    if problem:
        raise SaltInvocationError(f"target: {target!r} {problem}")
    return target


def _portal(portal):
    """Split 'address[:port]' ('[address]:port' for IPv6) into (address, port)."""
    match = _PORTAL.fullmatch(portal) if isinstance(portal, str) else None
    try:
        if not match:
            raise ValueError
        text = match["bracketed"] or match["ipv4"] or match["ipv6"]
        address = ipaddress.ip_address(text)
        port = int(match["bracketed_port"] or match["ipv4_port"] or DEFAULT_PORT)
        if (address.version == 6) != (match["ipv4"] is None) or not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise SaltInvocationError(
            "portal must be an IP address with an optional port "
            f"('192.0.2.1', '192.0.2.1:3260', '[2001:db8::1]:3260'), got {portal!r}"
        ) from None
    return str(address), port


def _portal_arg(portal):
    """The portal as iscsiadm prints it: 'address:port', '[address]:port' for IPv6."""
    address, port = _portal(portal)
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _is_secret(name):
    return name.endswith((".password", ".password_in"))


def _masked(record):
    return {
        name: MASK if value and _is_secret(name) else value for name, value in record.items()
    }


def _parse_initiator_name(text):
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key == "InitiatorName" and value.strip():
            return value.strip()
    return None


def _parse_flat(text):
    return [
        {
            "target": match["target"],
            "portal": match["portal"],
            # A record made without a tag prints the unsigned form of -1.
            "tpgt": -1 if int(match["tpgt"]) == 0xFFFFFFFF else int(match["tpgt"]),
        }
        for match in _FLAT.finditer(text)
    ]


def _parse_sessions(text):
    return [
        {"sid": int(match["sid"]), "target": match["target"], "portal": match["portal"]}
        for match in _SESSION.finditer(text)
    ]


def _parse_records(text):
    """Every '# BEGIN RECORD' block of 'iscsiadm -m node -T -p' as a dict."""
    records = []
    current = None
    for line in text.splitlines():
        if line.startswith("# BEGIN RECORD"):
            current = {}
            records.append(current)
        elif line.startswith("# END RECORD"):
            current = None
        elif current is not None and " = " in line:
            name, _, value = line.partition(" = ")
            current[name.strip()] = "" if value == "<empty>" else value
    return records
