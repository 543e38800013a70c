"""
Manage the tgt iSCSI target daemon (tgtd) through tgtadm and tgt-admin.

:depends: tgt (tgtd, tgtadm, tgt-admin)

tgtadm reaches tgtd over its control socket; a tgtd started with its own
socket is reached by setting ``TGT_IPC_SOCKET`` in the minion's environment.

CHAP secrets: tgtd never shows them, and nothing here returns or logs them.
tgtadm only takes a secret on its command line, so it shows in the target
host's process list for the few milliseconds a call lasts.

Every function that runs tgtadm or tgt-admin takes ``call_timeout``: the
seconds each of those calls may take (default 10). A call that takes longer
is killed and raises CommandExecutionError naming it: tgtd answers within
milliseconds, so a slower answer means a hung tgtd. ``backing_store_users``
bounds its lsblk and losetup calls the same way.
"""
import errno
import ipaddress
import json
import os
import re
import secrets
import stat
import tempfile

import salt.utils.path
from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "tgt"

_MASK = "********"

_SECRET_ARG = re.compile(r"(--password[= ])\S+")
CALL_TIMEOUT = 10
_SWAPS = "/proc/swaps"
_PROC = "/proc"


def __virtual__():
    if salt.utils.path.which("tgtadm"):
        return __virtualname__
    return (False, "tgt: tgtadm is not installed (install the tgt package)")


def targets(call_timeout=None):
    """
    Return every target the running tgtd serves, keyed by IQN.

    Each target holds ``tid``, ``state``, ``luns`` (``lun``, ``type``,
    ``size`` in bytes as tgtadm reports it, rounded to 10^6 bytes,
    ``block_size``, ``backing_store_type``, ``backing_store_path``),
    ``accounts`` (``incoming`` user names, ``outgoing`` user name or None),
    ``acls`` (``addresses`` and ``names``) and ``sessions`` (``nexus``,
    ``initiator``, ``address`` per I_T nexus).

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.targets
        salt iscsi tgt.targets call_timeout=30
    """
    return _parse_show(_tgtadm("--mode", "target", "--op", "show", call_timeout=call_timeout))


def sessions(iqn=None, call_timeout=None):
    """
    Return the logged-in sessions (I_T nexuses) of every target, or of the
    target ``iqn``: a list of ``{target, tid, nexus, initiator, address}``.

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.sessions
        salt iscsi tgt.sessions iqn.2018-08.es.raulpedroche:lun1
    """
    served = targets(call_timeout)
    if iqn is not None and iqn not in served:
        raise CommandExecutionError(f"tgt: no target named {iqn}")
    return [
        {"target": name, "tid": target["tid"], **session}
        for name, target in served.items()
        if iqn in (None, name)
        for session in target["sessions"]
    ]


def accounts(call_timeout=None):
    """
    Return the user names of every CHAP account tgtd knows (accounts are
    global in tgtd; targets bind them).

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.accounts
    """
    return _parse_accounts(_tgtadm("--mode", "account", "--op", "show", call_timeout=call_timeout))


def new_target(name, tid=None, call_timeout=None):
    """
    Create the target ``name`` (an IQN) with the given ``tid``, or the next
    free one, and return its tid. It has no LUN, account or ACL entry yet, so
    no initiator can log in.

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.new_target iqn.2018-08.es.raulpedroche:lun1
    """
    if tid is None:
        tid = max((target["tid"] for target in targets(call_timeout).values()), default=0) + 1
    _tgtadm(
        "--mode", "target", "--op", "new", "--tid", str(tid), "--targetname", name,
        call_timeout=call_timeout,
    )
    return tid


def delete_target(name, force=False, call_timeout=None):
    """
    Delete the target ``name``. tgtd refuses while initiators are logged in,
    unless ``force``, which drops their sessions.

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.delete_target iqn.2018-08.es.raulpedroche:lun1
    """
    args = ["--mode", "target", "--op", "delete", "--tid", _tid(name, call_timeout)]
    if force:
        args.append("--force")
    _tgtadm(*args, call_timeout=call_timeout)
    return True


def new_lun(name, lun, backing_store, call_timeout=None):
    """
    Add LUN number ``lun`` backed by the file or block device
    ``backing_store`` to the target ``name``.

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.new_lun iqn.2018-08.es.raulpedroche:lun1 1 /dev/sdb
    """
    _tgtadm(
        "--mode", "logicalunit", "--op", "new", "--tid", _tid(name, call_timeout),
        "--lun", str(lun), "--backing-store", backing_store, call_timeout=call_timeout,
    )
    return True


def delete_lun(name, lun, call_timeout=None):
    """
    Remove LUN number ``lun`` from the target ``name``. tgtd does this even
    while initiators are logged in: they lose the disk.

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.delete_lun iqn.2018-08.es.raulpedroche:lun1 2
    """
    _tgtadm(
        "--mode", "logicalunit", "--op", "delete", "--tid", _tid(name, call_timeout),
        "--lun", str(lun), call_timeout=call_timeout,
    )
    return True


def bind_initiator(name, initiator, call_timeout=None):
    """
    Allow ``initiator`` to log in to the target ``name``: an address, a
    network (``10.0.0.0/24``), ``ALL``, or an initiator name (``iqn.``,
    ``eui.``, ``naa.``). tgt lets in an initiator matching any entry.

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.bind_initiator iqn.2018-08.es.raulpedroche:lun1 10.252.50.11
    """
    _tgtadm(
        "--mode", "target", "--op", "bind", "--tid", _tid(name, call_timeout),
        *_acl_args(initiator), call_timeout=call_timeout,
    )
    return True


def unbind_initiator(name, initiator, call_timeout=None):
    """
    Remove ``initiator`` (as in ``tgt.bind_initiator``) from the ACL of the
    target ``name``. tgt checks ACLs at login only: a session from that
    initiator stays until it logs out.

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.unbind_initiator iqn.2018-08.es.raulpedroche:lun1 10.252.50.12
    """
    _tgtadm(
        "--mode", "target", "--op", "unbind", "--tid", _tid(name, call_timeout),
        *_acl_args(initiator), call_timeout=call_timeout,
    )
    return True


def set_account(username, password, call_timeout=None):
    """
    Create the CHAP account ``username`` with the secret ``password``, or give
    it that secret. tgtd cannot change a secret, so an existing account is
    deleted, created again and bound again to every target that had it.
    Return the IQNs of the targets it is bound to.

    Logged-in sessions stay: CHAP only runs at login.

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.set_account nfs-iscsi-user 'n3w-s3cr3t-v4lue'
    """
    _check_word("username", username)
    _check_word("password", password)
    served = targets(call_timeout)
    bindings = [
        (iqn, target["tid"], outgoing)
        for iqn, target in served.items()
        for outgoing, users in (
            (False, target["accounts"]["incoming"]),
            (True, [target["accounts"]["outgoing"]]),
        )
        if username in users
    ]
    guard = None
    if username in accounts(call_timeout):
        # Deleting the account unbinds it, and a target left without incoming
        # accounts takes logins without CHAP: a throwaway account with a
        # random secret keeps CHAP required until the real one is back.
        guarded = [tid for _, tid, outgoing in bindings if not outgoing]
        if guarded:
            guard = f"nfsha-guard-{secrets.token_hex(4)}"
            _new_account(guard, secrets.token_urlsafe(24), call_timeout)
            for tid in guarded:
                _bind_account(tid, guard, False, call_timeout)
        _tgtadm(
            "--mode", "account", "--op", "delete", "--user", username, call_timeout=call_timeout
        )
    _new_account(username, password, call_timeout)
    for _, tid, outgoing in bindings:
        _bind_account(tid, username, outgoing, call_timeout)
    if guard:
        _tgtadm("--mode", "account", "--op", "delete", "--user", guard, call_timeout=call_timeout)
    return sorted({iqn for iqn, _, _ in bindings})


def delete_account(username, call_timeout=None):
    """
    Delete the CHAP account ``username``; tgtd unbinds it from every target.

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.delete_account old-user
    """
    _tgtadm("--mode", "account", "--op", "delete", "--user", username, call_timeout=call_timeout)
    return True


def bind_account(name, username, outgoing=False, call_timeout=None):
    """
    Bind the CHAP account ``username`` to the target ``name``: as an incoming
    user (initiators log in with it), or with ``outgoing`` as the account the
    target answers mutual CHAP with (one per target).

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.bind_account iqn.2018-08.es.raulpedroche:lun1 nfs-iscsi-user
        salt iscsi tgt.bind_account iqn.2018-08.es.raulpedroche:lun1 debian-iscsi-target outgoing=True
    """
    _bind_account(_tid(name, call_timeout), username, outgoing, call_timeout)
    return True


def unbind_account(name, username, outgoing=False, call_timeout=None):
    """
    Unbind the CHAP account ``username`` from the target ``name`` (the
    account stays in tgtd). A target without incoming accounts takes logins
    without CHAP.

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.unbind_account iqn.2018-08.es.raulpedroche:lun1 old-user
    """
    tid = _tid(name, call_timeout)
    args = ["--mode", "account", "--op", "unbind", "--tid", tid, "--user", username]
    if outgoing:
        args.append("--outgoing")
    _tgtadm(*args, call_timeout=call_timeout)
    return True


def backing_store_users(path, call_timeout=None):
    """
    Return what uses the backing store ``path`` on this node, as a list of
    phrases, empty when nothing does. A block device is in use when it or one
    of its partitions is mounted or is swap, when a device is stacked on it
    (LVM, device-mapper, MD RAID: lsblk lists them below it), or when an
    exclusive open of it fails (EBUSY: another program, or a mount in another
    mount namespace, holds it). A file is in use when it is swap or backs a
    loop device. tgtd would export it all the same, and initiators would then
    write what this node writes too. ``call_timeout`` bounds the lsblk and
    losetup calls (default 10 s).

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.backing_store_users /dev/sdb
    """
    if not isinstance(path, str) or not os.path.isabs(path):
        raise SaltInvocationError(f"path: {path!r} is not an absolute path")
    real = os.path.realpath(path)
    try:
        mode = os.stat(real).st_mode
    except OSError as exc:
        raise CommandExecutionError(f"tgt: cannot look at {path}: {exc.strerror}") from exc
    if stat.S_ISBLK(mode):
        lsblk = ["lsblk", "--json", "--list", "--output", "PATH,TYPE,MOUNTPOINTS", real]
        users = _lsblk_users(_run(lsblk, "lsblk", call_timeout))
        if not users and _busy(real):
            users.append(_exclusive_user(real))
        return users
    with open(_SWAPS, encoding="utf-8") as handle:
        users = [f"{real} is swap" for swap in _parse_swaps(handle.read()) if swap == real]
    loops = _run(["losetup", "--json", "--list", "--output", "NAME,BACK-FILE"], "losetup --list", call_timeout)
    return users + [f"{loop} is a loop device over {real}" for loop in _loops_over(loops, real)]


def render_target(
    name,
    backing_stores,
    initiator_addresses=None,
    initiator_names=None,
    incoming_users=None,
    outgoing_user=None,
):
    """
    Return the ``<target>`` stanza of tgt's targets.conf syntax for the
    target ``name``: LUN 1..n backed by ``backing_stores`` in order, the ACL
    (``initiator_addresses``, ``initiator_names``; give ``ALL`` to allow any
    initiator) and the CHAP accounts (``incoming_users``, a list of
    ``{username, password}``; ``outgoing_user``, one such dict or None).
    The text holds the secrets: write it to a file of mode 0600 only.

    Raises SaltInvocationError naming the argument when one is wrong.

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.render_target iqn.2018-08.es.raulpedroche:lun1 '[/dev/sdb]' initiator_addresses='[10.252.50.11]'
    """
    initiator_addresses = initiator_addresses or []
    initiator_names = initiator_names or []
    incoming_users = incoming_users or []
    _check_arguments(
        name, backing_stores, initiator_addresses, initiator_names, incoming_users, outgoing_user
    )
    lines = [
        "# Managed by Salt: changes made here are overwritten.",
        f"<target {name}>",
    ]
    for lun, path in enumerate(backing_stores, 1):
        # The block form pins the LUN number: tgt-admin numbers plain
        # backing-store lines in sorted order, not in the order given.
        lines += [f"    <backing-store {path}>", f"        lun {lun}", "    </backing-store>"]
    lines += [f"    initiator-address {address}" for address in initiator_addresses]
    lines += [f"    initiator-name {initiator}" for initiator in initiator_names]
    lines += [f"    incominguser {u['username']} {u['password']}" for u in incoming_users]
    if outgoing_user:
        lines.append(f"    outgoinguser {outgoing_user['username']} {outgoing_user['password']}")
    lines.append("</target>")
    return "\n".join(lines) + "\n"


def compare_config(path, text):
    """
    Compare the config file ``path`` with ``text`` (from
    ``tgt.render_target``). Return ``exists``, ``current`` (same content,
    mode 0600, owned by the minion's user) and ``changed_secrets``: the user
    names in ``text`` whose secret the file does not hold for that target
    (changed, new, or no file). The secrets themselves are never returned.

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.compare_config /etc/tgt/conf.d/lun1.conf "$(cat lun1.conf.new)"
    """
    _check_config_path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            content = handle.read()
            info = os.fstat(handle.fileno())
    except FileNotFoundError:
        content, info = None, None
    except OSError as exc:
        raise CommandExecutionError(f"tgt: cannot read {path}: {exc.strerror}") from exc
    held = _config_secrets(content or "")
    return {
        "exists": content is not None,
        "current": content == text
        and info.st_mode & 0o7777 == 0o600
        and info.st_uid == os.geteuid(),
        "changed_secrets": sorted(
            user
            for iqn, users in _config_secrets(text).items()
            for user, secret in users.items()
            if held.get(iqn, {}).get(user) != secret
        ),
    }


def write_config(path, text):
    """
    Write ``text`` to the config file ``path``, mode 0600, unless it already
    holds it. The file is replaced atomically, its mode set before any
    content lands. Return True when it was written.

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.write_config /etc/tgt/conf.d/lun1.conf "$(cat lun1.conf.new)"
    """
    if compare_config(path, text)["current"]:
        return False
    try:
        # mkstemp creates the file with mode 0600, owned by the minion (root).
        handle, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tgt-", suffix=".tmp")
    except OSError as exc:
        raise CommandExecutionError(f"tgt: cannot write {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return True


def update(name=None, config="/etc/tgt/targets.conf", force=False, call_timeout=None):
    """
    Apply the config files live with ``tgt-admin --update``: every target
    (or only ``name``) is created, re-created from ``config`` (and the files
    it includes) or, when the config no longer has it, deleted. Targets with
    logged-in initiators are left alone unless ``force``, which drops their
    sessions. tgt-admin never changes the secret of an account tgtd already
    has: use ``tgt.set_account`` for that.

    Return ``added``, ``removed`` and ``changed`` (IQN: fields that differ
    afterwards) targets, and the ``in_use`` targets tgt-admin skipped.

    CLI Example:

    .. code-block:: bash

        salt iscsi tgt.update
        salt iscsi tgt.update iqn.2018-08.es.raulpedroche:lun1
    """
    before = targets(call_timeout)
    cmd = ["tgt-admin", "--verbose", "--conf", config, "--update", name or "ALL"]
    if force:
        cmd.append("--force")
    # --verbose prints the tgtadm calls, secrets included: keep the output
    # out of Salt's log and mask it in errors.
    out = _run(cmd, "tgt-admin --update", call_timeout, hide=True)
    after = targets(call_timeout)
    changed = {}
    for iqn in sorted(before.keys() & after.keys()):
        fields = [
            field
            for field in ("luns", "accounts", "acls")
            if _summary(before[iqn], field) != _summary(after[iqn], field)
        ]
        if fields:
            changed[iqn] = fields
    return {
        "added": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
        "changed": changed,
        "in_use": re.findall(r"^# Target with tid \d+ \((\S+)\) is in use", out, re.MULTILINE),
    }


def _tgtadm(*args, call_timeout=None, hide=False):
    # Every call starts with --mode and --op: they name it in errors.
    what = f"tgtadm {' '.join(args[:4])}"
    return _run(["tgtadm", "--lld", "iscsi", *args], what, call_timeout, hide)


def _run(cmd, what, call_timeout, hide=False):
    """Run ``cmd`` (``what`` names it in errors, never with a secret); its stdout."""
    hint = "hung tgtd?" if cmd[0] in ("tgtadm", "tgt-admin") else "hung device?"
    timeout = __utils__["nfsha_calls.seconds"](call_timeout, CALL_TIMEOUT)
    ret = __utils__["nfsha_calls.run_all"](
        __salt__["cmd.run_all"], cmd, timeout, what, hint, output_loglevel="quiet" if hide else "debug"
    )
    if ret["retcode"]:
        # tgtadm explains on stderr; tgt-admin ends its stdout with the
        # failed command or its own complaint.
        tail = ret["stdout"].strip().splitlines()[-3:]
        raise CommandExecutionError(_mask("\n".join([ret["stderr"].strip(), *tail]).strip()))
    return ret["stdout"]


def _mask(text):
    return _SECRET_ARG.sub(r"\g<1>" + _MASK, text)


def _new_account(username, password, call_timeout):
    # The secret is in the arguments: keep this call out of Salt's log.
    _tgtadm(
        "--mode", "account", "--op", "new", "--user", username, "--password", password,
        call_timeout=call_timeout, hide=True,
    )


def _bind_account(tid, username, outgoing, call_timeout):
    args = ["--mode", "account", "--op", "bind", "--tid", str(tid), "--user", username]
    if outgoing:
        args.append("--outgoing")
    _tgtadm(*args, call_timeout=call_timeout)


def _tid(name, call_timeout):
    target = targets(call_timeout).get(name)
    if target is None:
        raise CommandExecutionError(f"tgt: no target named {name}")
    return str(target["tid"])


def _is_iscsi_name(entry):
    return entry.startswith(("iqn.", "eui.", "naa."))


def _acl_args(initiator):
    if _is_iscsi_name(initiator):
        return ("--initiator-name", initiator)
    return ("--initiator-address", initiator)


def _summary(target, field):
    if field == "luns":
        return [(lun["lun"], lun["backing_store_path"]) for lun in target["luns"]]
    return target[field]


def _parse_show(text):
    """Parse ``tgtadm --mode target --op show`` into targets keyed by IQN."""
    found = {}
    target = section = item = None
    for line in text.splitlines():
        header = re.match(r"Target (\d+): (\S+)$", line)
        if header:
            target = {
                "tid": int(header[1]),
                "state": None,
                "luns": [],
                "accounts": {"incoming": [], "outgoing": None},
                "acls": {"addresses": [], "names": []},
                "sessions": [],
            }
            found[header[2]] = target
            continue
        entry = line.strip()
        if target is None or not entry:
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 4
        if depth == 1:
            section = entry
        elif section == "Account information:":
            if entry.endswith(" (outgoing)"):
                target["accounts"]["outgoing"] = entry[: -len(" (outgoing)")]
            else:
                target["accounts"]["incoming"].append(entry)
        elif section == "ACL information:":
            target["acls"]["names" if _is_iscsi_name(entry) else "addresses"].append(entry)
        else:
            key, _, value = entry.partition(":")
            value = value.strip()
            if section == "System information:" and key == "State":
                target["state"] = value
            elif section == "I_T nexus information:":
                if key == "I_T nexus":
                    item = {"nexus": int(value), "initiator": None, "address": None}
                    target["sessions"].append(item)
                elif key == "Initiator":
                    item["initiator"] = value.split(" alias:")[0]
                elif key == "IP Address" and item["address"] is None:
                    item["address"] = value
            elif section == "LUN information:":
                _parse_lun_line(target["luns"], key, value)
    return found


def _parse_lun_line(luns, key, value):
    if key == "LUN":
        luns.append({"lun": int(value), "type": None, "size": None, "block_size": None,
                     "backing_store_type": None, "backing_store_path": None})
    elif key == "Type":
        luns[-1]["type"] = value
    elif key == "Size":
        size = re.match(r"(\d+) MB, Block size: (\d+)", value)
        if size:
            luns[-1]["size"] = int(size[1]) * 1000 * 1000
            luns[-1]["block_size"] = int(size[2])
    elif key == "Backing store type":
        luns[-1]["backing_store_type"] = value
    elif key == "Backing store path":
        luns[-1]["backing_store_path"] = None if value == "None" else value


def _lsblk_users(text):
    """
    What ``lsblk --json --list`` shows using a device: mounts and swap of
    it and of every device below it, and those below that are not its
    partitions (devices stacked on it).
    """
    rows = json.loads(text)["blockdevices"]
    users = []
    for index, row in enumerate(rows):
        if index and row["type"] != "part":
            users.append(f"{row['path']} ({row['type']}) is stacked on it")
        for point in row.get("mountpoints") or []:
            if point == "[SWAP]":
                users.append(f"{row['path']} is swap")
            elif point:
                users.append(f"{row['path']} is mounted at {point}")
    return users


def _busy(device):
    """Whether an exclusive open of ``device`` fails: the kernel says it is claimed."""
    try:
        handle = os.open(device, os.O_RDONLY | os.O_EXCL)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return True
        raise CommandExecutionError(f"tgt: cannot open {device}: {exc.strerror}") from exc
    os.close(handle)
    return False


def _exclusive_user(device):
    """Name the processes that have ``device`` open, for a device claimed by none of lsblk's."""
    openers = []
    for pid in filter(str.isdigit, os.listdir(_PROC)):
        try:
            fds = os.listdir(f"{_PROC}/{pid}/fd")
            if any(os.path.realpath(f"{_PROC}/{pid}/fd/{fd}") == device for fd in fds):
                with open(f"{_PROC}/{pid}/comm", encoding="utf-8") as handle:
                    openers.append(f"{pid} ({handle.read().strip()})")
        except OSError:
            # Gone meanwhile, or not ours to look at.
            continue
    if openers:
        return f"{device} is held open exclusively (processes with it open: {', '.join(openers)})"
    return f"{device} is held exclusively by something outside this node's mounts (an exclusive open fails)"


def _parse_swaps(text):
    """The swap files and devices in ``/proc/swaps`` (octal escapes undone)."""
    return [
        re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), line.split()[0])
        for line in text.splitlines()[1:]
        if line.strip()
    ]


def _loops_over(text, path):
    """The loop devices of ``losetup --json --list`` whose backing file is ``path``."""
    return [
        loop["name"]
        for loop in json.loads(text)["loopdevices"]
        if loop["back-file"] in (path, f"{path} (deleted)")
    ]


def _parse_accounts(text):
    """Parse ``tgtadm --mode account --op show`` into a list of user names."""
    return [line.strip() for line in text.splitlines() if line.startswith(" ") and line.strip()]


def _config_secrets(text):
    """The CHAP secrets of each target of a targets.conf text: {iqn: {user: secret}}."""
    found = {}
    users = None
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        target = re.match(r"<target\s+(\S+?)\s*>$", line)
        if target:
            users = found.setdefault(target[1], {})
        elif line == "</target>":
            users = None
        elif users is not None:
            account = re.match(r"(?:incoming|outgoing)user\s+(\S+)\s+(\S+)$", line)
            if account:
                users[account[1]] = account[2]
    return found


def _check_arguments(name, backing_stores, addresses, names, incoming_users, outgoing_user):
    # The rules on names and secrets are the formula's, shared with
    # nfsha.validate (_utils/nfsha_rules.py).
    problem = __utils__["nfsha_rules.iscsi_name"](name)
    if problem:
        raise SaltInvocationError(f"name: {name!r} {problem}")
    if not isinstance(backing_stores, list) or not backing_stores:
        raise SaltInvocationError("backing_stores: give a list of at least one device or file path")
    for index, path in enumerate(backing_stores):
        problem = __utils__["nfsha_rules.plain_path"](path)
        if problem:
            raise SaltInvocationError(f"backing_stores[{index}]: {path!r} {problem}")
        if backing_stores.index(path) != index:
            raise SaltInvocationError(f"backing_stores[{index}]: {path} is listed twice")
    for label, entries, valid, what in (
        ("initiator_addresses", addresses, _is_address, "an IP address, a network or ALL"),
        ("initiator_names", names, _is_valid_iscsi_name, "an iSCSI name"),
    ):
        if not isinstance(entries, list):
            raise SaltInvocationError(f"{label}: give a list")
        for index, entry in enumerate(entries):
            if not isinstance(entry, str) or not valid(entry):
                raise SaltInvocationError(f"{label}[{index}]: {entry!r} is not {what}")
    if not addresses and not names:
        raise SaltInvocationError(
            "initiator_addresses, initiator_names: give at least one (ALL allows any initiator)"
        )
    if not isinstance(incoming_users, list):
        raise SaltInvocationError("incoming_users: give a list of {username, password}")
    for index, user in enumerate(incoming_users):
        _check_user(f"incoming_users[{index}]", user)
    usernames = [user["username"] for user in incoming_users]
    if len(set(usernames)) != len(usernames):
        raise SaltInvocationError("incoming_users: a username is listed twice")
    if outgoing_user is not None:
        _check_user("outgoing_user", outgoing_user)
        problem = __utils__["nfsha_rules.chap_accounts"](usernames, outgoing_user["username"])
        if problem:
            raise SaltInvocationError(f"outgoing_user: its username {problem}")


def _check_user(label, user):
    if not isinstance(user, dict) or set(user) != {"username", "password"}:
        raise SaltInvocationError(f"{label}: give a dict with exactly username and password")
    _check_word(f"{label}.username", user["username"])
    _check_word(f"{label}.password", user["password"])


def _check_word(label, value):
    # The message never repeats the value: it may be a secret.
    problem = __utils__["nfsha_rules.chap_word"](value)
    if problem:
        raise SaltInvocationError(f"{label}: {problem}")


def _is_valid_iscsi_name(entry):
    return not __utils__["nfsha_rules.iscsi_name"](entry)


def _is_address(entry):
    if entry == "ALL":
        return True
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


def _check_config_path(path):
    if not isinstance(path, str) or not os.path.isabs(path):
        raise SaltInvocationError(f"config: {path!r} is not an absolute path")
