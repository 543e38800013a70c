"""
Query and configure the keepalived VRRP daemon.

Reads the running daemon's state from its JSON dump (written to the daemon's
``$TMPDIR/keepalived.json`` on ``keepalived --signum=JSON``), checks
configuration files with ``keepalived -t`` and reloads with SIGHUP.

keepalived's dumps and some ``keepalived -t`` messages hold the VRRP
``auth_pass`` in clear: nothing this module returns or logs contains it.

The programs it runs (``keepalived -t``, ``keepalived --signum``, ``ip``)
wait for no daemon and answer within milliseconds: each is killed after
30 s, and CommandExecutionError names it.

:depends: keepalived (built with JSON support, as Debian's is), iproute2 (``ip``)
"""
import contextlib
import ipaddress
import json
import logging
import os
import re
import tempfile
import time

import salt.utils.files
import salt.utils.path
from salt.exceptions import CommandExecutionError, SaltInvocationError

log = logging.getLogger(__name__)

__virtualname__ = "keepalived"

_CONFIG = "/etc/keepalived/keepalived.conf"
_PIDFILE = "/run/keepalived.pid"
_PROC = "/proc"
# The VRRP child writes the dump within milliseconds of the signal.
_DUMP_TIMEOUT = 5
CALL_TIMEOUT = 30
_DUMP_POLL = 0.05
_MASK = "********"
# vrrp_t.state values (keepalived/include/vrrp.h).
_STATES = {0: "INIT", 1: "BACKUP", 2: "MASTER", 3: "FAULT", 97: "DELETED", 98: "STOP"}
# The value after auth_pass, quoted or not; \s also spans a line break so
# that a password pushed onto the next line is masked too.
_AUTH_PASS = re.compile(r'\bauth_pass\s+(?:"([^"\n]*)"|([^\s{}"]+))')
# A vrrp_track_file block (no nested braces) and the file it names.
_TRACK_FILE = re.compile(r"^\s*vrrp_track_file\s+(\S+)\s*\{([^{}]*)\}", re.MULTILINE)
_TRACK_FILE_PATH = re.compile(r'^\s*file\s+"?([^"\s]+)"?', re.MULTILINE)


def __virtual__():
    if salt.utils.path.which("keepalived"):
        return __virtualname__
    return (False, "keepalived: the keepalived program is not installed")


def check_config(path=_CONFIG, config_id=None):
    """
    Check a keepalived configuration file with ``keepalived -t``.

    ``-e`` is always given: without it keepalived accepts a missing file.
    ``config_id`` selects the ``@ID`` lines, as ``keepalived -i`` does (by
    default keepalived uses the host name). Returns ``{valid, messages}``;
    passwords in the messages are masked.

    CLI Example:

    .. code-block:: bash

        salt nfs1 keepalived.check_config
        salt nfs1 keepalived.check_config /srv/new.conf config_id=nfs1
    """
    try:
        with salt.utils.files.fopen(path, "r") as fh:
            secrets = _secrets(fh.read())
    except OSError:
        # keepalived -e reports the missing or unreadable file itself.
        secrets = set()
    return _config_test(path, config_id, secrets)


def write_config(contents, path=_CONFIG, config_id=None, test=False):
    """
    Replace a keepalived configuration file, only if the new contents pass
    ``keepalived -t``.

    The contents go to a mode 0600 root-owned temporary file next to
    ``path``, are checked there (with ``config_id``, see ``check_config``)
    and then renamed over ``path`` in one step, so the live file is never
    half written, never readable by others and never replaced by a
    configuration keepalived rejects. With ``test=True`` the contents are
    only checked. Returns ``{valid, messages}``; raises
    ``CommandExecutionError`` naming the messages when the check fails (its
    ``messages`` attribute lists them).

    The ``keepalived.config`` state calls this; from the command line prefer
    the state, as job arguments land in the job cache with the password.

    CLI Example:

    .. code-block:: bash

        salt nfs1 keepalived.write_config "$(cat new.conf)" config_id=nfs1 test=True
    """
    directory, base = os.path.split(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", dir=directory)
    except OSError as exc:
        raise CommandExecutionError(f"Cannot write {path}: {exc}") from exc
    try:
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(contents)
                fh.flush()
                os.fsync(fh.fileno())
            os.chown(tmp, 0, 0)
        except OSError as exc:
            raise CommandExecutionError(f"Cannot write {path}: {exc}") from exc
        check = _config_test(tmp, config_id, _secrets(contents))
        # The messages name the temporary file; they are about path.
        check["messages"] = [m.replace(tmp, path) for m in check["messages"]]
        if not check["valid"]:
            rejected = CommandExecutionError(
                f"keepalived -t rejects the new {path}; the file is left unchanged:\n"
                + "\n".join(check["messages"])
            )
            rejected.messages = check["messages"]
            raise rejected
        if not test:
            os.replace(tmp, path)
            log.debug("keepalived: replaced %s", path)
        return check
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def running(pidfile=None):
    """
    Whether keepalived runs with the given pid file (default
    /run/keepalived.pid).

    CLI Example:

    .. code-block:: bash

        salt nfs1 keepalived.running
    """
    return _daemon_pid(pidfile or _PIDFILE) is not None


def instances(pidfile=None, tmpdir=None):
    """
    Every VRRP instance of the running daemon, keyed by instance name:
    ``state`` (MASTER, BACKUP, FAULT, INIT, STOP; DELETED or UNKNOWN for what
    newer keepalived versions add), ``priority`` (configured),
    ``effective_priority`` (after track scripts and interfaces), ``vrid``,
    ``vips`` (addresses with prefix length), ``interface`` and
    ``last_transition`` (epoch seconds).

    The daemon is found through ``pidfile`` (default /run/keepalived.pid);
    it writes its dump to its own ``$TMPDIR`` (read from /proc unless
    ``tmpdir`` is given, /tmp when unset). The dump holds the password in
    clear, so it is deleted once read.

    CLI Example:

    .. code-block:: bash

        salt nfs1 keepalived.instances
        salt nfs1 keepalived.instances pidfile=/run/ka-lab.pid tmpdir=/run/ka-lab
    """
    pid = _running_pid(pidfile)
    dump = os.path.join(tmpdir or _daemon_tmpdir(pid), "keepalived.json")
    # A dump left by an earlier call must not pass for the answer to this one.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(dump)
    _send(pid, "JSON")
    deadline = time.monotonic() + _DUMP_TIMEOUT
    try:
        while True:
            with contextlib.suppress(FileNotFoundError, ValueError):
                # ValueError: the daemon is still writing the file.
                with salt.utils.files.fopen(dump, "r") as fh:
                    return _parse_dump(fh.read())
            if time.monotonic() > deadline:
                raise CommandExecutionError(
                    f"keepalived (pid {pid}) wrote no complete {dump} within "
                    f"{_DUMP_TIMEOUT} s; is a VRRP instance configured, and is "
                    "that its TMPDIR?"
                )
            time.sleep(_DUMP_POLL)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(dump)


def state(instance, pidfile=None, tmpdir=None):
    """
    The state (MASTER, BACKUP, FAULT, INIT, STOP) of one VRRP instance of the
    running daemon; ``pidfile`` and ``tmpdir`` as for ``instances``.

    CLI Example:

    .. code-block:: bash

        salt nfs1 keepalived.state VI_1
    """
    found = instances(pidfile=pidfile, tmpdir=tmpdir)
    if instance not in found:
        raise CommandExecutionError(
            f"keepalived runs no VRRP instance {instance!r} "
            f"(it runs: {', '.join(sorted(found)) or 'none'})"
        )
    return found[instance]["state"]


def holds_vip(address):
    """
    Whether ``address`` (an IPv4 or IPv6 address, a prefix length is
    ignored) is configured on a local interface of this host's network
    namespace, as ``ip -j addr`` shows.

    CLI Example:

    .. code-block:: bash

        salt nfs1 keepalived.holds_vip 10.252.50.10
    """
    try:
        wanted = ipaddress.ip_interface(address).ip
    except ValueError as exc:
        raise SaltInvocationError(f"address: {address!r} is not an IP address") from exc
    ret = _run_all(["ip", "-j", "addr", "show"], "ip addr show")
    if ret["retcode"]:
        raise CommandExecutionError(ret["stderr"] or ret["stdout"])
    return wanted in _local_addresses(ret["stdout"])


def reload(pidfile=None):
    """
    Make the running daemon re-read its configuration: the RELOAD signal
    (SIGHUP) to the pid in ``pidfile`` (default /run/keepalived.pid).

    This is exactly what Debian's keepalived.service runs as ExecReload
    (``kill -HUP $MAINPID``), so it is the same under systemd, and it also
    works where systemd does not run the daemon (containers, namespaces, a
    second instance with its own pid file).

    CLI Example:

    .. code-block:: bash

        salt nfs1 keepalived.reload
    """
    pid = _running_pid(pidfile)
    _send(pid, "RELOAD")
    log.info("keepalived: sent RELOAD to pid %s", pid)
    return True


def set_track_file(name, value, path=_CONFIG):
    """
    Write ``value`` (an integer) into the file of the ``vrrp_track_file``
    named ``name`` in the configuration ``path``. keepalived watches that
    file: the priority of the instances tracking it changes by ``value``
    times the track file's weight at once, without a reload. Returns
    ``{file, old, new}`` (``old`` None when the file did not exist or held no
    number).

    CLI Example:

    .. code-block:: bash

        salt nfs2 keepalived.set_track_file nfsha_preference 154
    """
    try:
        value = int(value)
    except (TypeError, ValueError) as exc:
        raise SaltInvocationError(f"value: {value!r} is not an integer") from exc
    try:
        with salt.utils.files.fopen(path, "r") as fh:
            track_file = _track_files(fh.read()).get(name)
    except OSError as exc:
        raise CommandExecutionError(f"Cannot read {path}: {exc}") from exc
    if track_file is None:
        raise CommandExecutionError(f"{path} has no vrrp_track_file {name} with a file")
    old = None
    with contextlib.suppress(OSError, ValueError):
        with salt.utils.files.fopen(track_file, "r") as fh:
            old = int(fh.read().strip())
    try:
        with salt.utils.files.fopen(track_file, "w") as fh:
            fh.write(f"{value}\n")
    except OSError as exc:
        raise CommandExecutionError(f"Cannot write {track_file}: {exc}") from exc
    log.info("keepalived: %s (track file %s) now holds %s", track_file, name, value)
    return {"file": track_file, "old": old, "new": value}


def _track_files(config_text):
    """``{name: file}`` of the vrrp_track_file blocks of a configuration (pure)."""
    return {
        block.group(1): found.group(1)
        for block in _TRACK_FILE.finditer(config_text)
        if (found := _TRACK_FILE_PATH.search(block.group(2)))
    }


def _config_test(path, config_id, secrets):
    cmd = ["keepalived", "-t", "-e", "-f", path]
    if config_id:
        cmd += ["-i", config_id]
    # quiet: Salt would log keepalived's messages, which may quote the password.
    ret = _run_all(cmd, "keepalived -t", ignore_retcode=True, output_loglevel="quiet")
    return {
        "valid": ret["retcode"] == 0,
        "messages": _mask(_messages(ret["stderr"]), secrets),
    }


def _messages(text):
    return [line.strip() for line in text.splitlines() if line.strip()]


def _secrets(config_text):
    """Every auth_pass value in a configuration text."""
    return {quoted or bare for quoted, bare in _AUTH_PASS.findall(config_text)} - {""}


def _mask(lines, secrets):
    # Longest first, so that a password holding a shorter one is masked whole.
    ordered = sorted(secrets, key=len, reverse=True)
    masked = []
    for line in lines:
        for secret in ordered:
            line = line.replace(secret, _MASK)
        masked.append(line)
    return masked


def _parse_dump(text):
    """The instances of a keepalived.json dump, without any secret."""
    dump = json.loads(text)
    if isinstance(dump, dict):
        # json_version 2 (keepalived >= 2.3) wraps the list.
        dump = dump.get("vrrp", [])
    found = {}
    for entry in dump:
        data = entry["data"]
        found[data["iname"]] = {
            "state": _STATES.get(data["state"], "UNKNOWN"),
            "priority": data["base_priority"],
            "effective_priority": data["effective_priority"],
            "vrid": data["vrid"],
            # "10.252.50.10/24 dev eth0 scope global set": the address is
            # the first word.
            "vips": [vip.split()[0] for vip in data.get("vips", [])],
            "interface": data.get("ifp_ifname"),
            "last_transition": data.get("last_transition"),
        }
    return found


def _local_addresses(text):
    """Every local address in ``ip -j addr`` output."""
    return {
        ipaddress.ip_address(info["local"])
        for link in json.loads(text or "[]")
        for info in link.get("addr_info", [])
        if "local" in info
    }


def _daemon_pid(pidfile):
    """The pid in pidfile when a keepalived process has it, else None."""
    try:
        with salt.utils.files.fopen(pidfile, "r") as fh:
            pid = int(fh.read().strip())
        # A stale pid file may name a pid reused by another program.
        with salt.utils.files.fopen(os.path.join(_PROC, str(pid), "comm"), "r") as fh:
            comm = fh.read().strip()
    except (OSError, ValueError):
        return None
    return pid if comm == "keepalived" else None


def _running_pid(pidfile):
    pidfile = pidfile or _PIDFILE
    pid = _daemon_pid(pidfile)
    if pid is None:
        raise CommandExecutionError(f"keepalived is not running (no live pid in {pidfile})")
    return pid


def _send(pid, name):
    """Send keepalived's signal for name (JSON, RELOAD...) to pid."""
    signum = _signum(name)
    try:
        os.kill(pid, signum)
    except ProcessLookupError as exc:
        raise CommandExecutionError(f"keepalived (pid {pid}) has exited") from exc


def _daemon_tmpdir(pid):
    """The TMPDIR the daemon runs with: where it writes its dumps."""
    try:
        with salt.utils.files.fopen(os.path.join(_PROC, str(pid), "environ"), "rb") as fh:
            environ = fh.read().split(b"\0")
    except OSError:
        environ = []
    for var in environ:
        if var.startswith(b"TMPDIR=") and var != b"TMPDIR=":
            return var[len(b"TMPDIR=") :].decode()
    return "/tmp"


def _run_all(cmd, what, **kwargs):
    """cmd.run_all within CALL_TIMEOUT; ``what`` names the call in the error."""
    return __utils__["nfsha_calls.run_all"](__salt__["cmd.run_all"], cmd, CALL_TIMEOUT, what, **kwargs)


def _signum(name):
    ret = _run_all(["keepalived", f"--signum={name}"], f"keepalived --signum={name}")
    out = ret["stdout"].strip()
    if ret["retcode"] or not out.isdigit():
        raise CommandExecutionError(
            ret["stderr"].strip() or out or f"keepalived --signum={name} gave no number"
        )
    return int(out)
