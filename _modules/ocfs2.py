"""
Manage OCFS2 file systems, the o2cb cluster they belong to, and the partition
tables they live on.

Nothing here overwrites data by accident: ``mkfs`` and ``partition`` refuse a
device that holds any file system, partition table or other signature unless
``force=True``, read from the disk itself right before they write.

A file system is known by its UUID: ``record_uuid`` keeps the UUID of each
label in the grain ``ocfs2_uuids`` of the node (its grains file outlives minion
restarts), and ``mount_device`` names the file system by that UUID in fstab.

Every function that runs a program takes ``call_timeout``: the seconds each
program may take (default 60; they read or write a few MiB of the disk).
``mkfs`` bounds mkfs.ocfs2 itself with ``mkfs_timeout`` (default 600: it
wrote 131 MiB on a 1 GiB device, 588 MiB on 2 TiB). Past its bound a
program is killed and CommandExecutionError names it. A program blocked on
I/O to a disk that no longer answers dies only once the kernel fails that
I/O (for iSCSI: node.session.timeo.replacement_timeout, 120 s by default).

:depends: ocfs2-tools (mkfs.ocfs2, debugfs.ocfs2, mounted.ocfs2, o2cb),
    fdisk (sfdisk), util-linux (wipefs, partx, lsblk, blockdev), kmod (modprobe)
"""
import ipaddress
import json
import os
import re
import uuid

import salt.utils.atomicfile
import salt.utils.path
from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "ocfs2"

# libo2cb runs /sbin/modprobe by that path; when it is missing the forked child
# carries on as a second mkfs.ocfs2 (measured: one call formatted the device
# and still exited 1).
_MODPROBE = "/sbin/modprobe"
_TOOLS = {"mkfs.ocfs2": "ocfs2-tools", "sfdisk": "fdisk"}
CALL_TIMEOUT = 60
MKFS_TIMEOUT = 600
# What a program that does not answer probably waits for.
_HUNG = {
    "o2cb": "hung o2cb?",
    "udevadm": "hung udevd?",
    "mkfs.ocfs2": "hung disk, or a LUN too big for this bound?",
}

_DEFAULT_PORT = 7777
_STACKS = ("o2cb", "pcmk", "cman")
_NODE_KEYS = {"name", "number", "address", "port"}
# /etc/default/o2cb is sourced by a root shell: only plain words go in.
_DEFAULTS_KEY = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_DEFAULTS_VALUE = re.compile(r"^[A-Za-z0-9_.-]*$")
_DEFAULTS_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$")

_LABELS = ("gpt", "dos")
# sfdisk aligns partitions to 1 MiB: sizes may differ from the request by less.
_GRAIN = 1024 * 1024
# The UUIDs this node formatted or first found, by label.
_UUID_GRAIN = "ocfs2_uuids"
_USAGE_NAMES = {
    "filesystem": "file system",
    "partition-table": "partition table",
    "raid": "RAID member",
    "crypto": "encrypted volume",
}


def __virtual__():
    for tool, package in _TOOLS.items():
        if not salt.utils.path.which(tool):
            return (False, f"ocfs2: {tool} is not installed (package {package})")
    if not os.path.exists(_MODPROBE):
        return (False, f"ocfs2: {_MODPROBE} is missing (package kmod); libo2cb needs it")
    return __virtualname__


def signatures(device, call_timeout=None):
    """
    Return every signature on ``device`` that wipefs finds (file systems,
    partition tables, RAID members...), as a list of ``{type, usage, offset,
    uuid, label}``; an empty list means the device holds nothing known.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.signatures /dev/sdb
    """
    _check_device(device)
    out = _run(
        "wipefs", "--no-act", "--json", "--output", "UUID,LABEL,TYPE,OFFSET,USAGE", device,
        call_timeout=call_timeout,
    )
    return _parse_wipefs(out)


def info(device, call_timeout=None):
    """
    Return ``{label, uuid, cluster_name, cluster_stack, slots, block_size,
    cluster_size}`` of the OCFS2 file system on ``device``, or None when the
    device holds no OCFS2. A file system made for the classic o2cb stack
    reports cluster_stack ``o2cb`` and no cluster_name.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.info /dev/sdb1
    """
    if not any(sig["type"] == "ocfs2" for sig in signatures(device, call_timeout)):
        return None
    ret = _run_all(["debugfs.ocfs2", "-R", "stats", device], call_timeout)
    # debugfs.ocfs2 exits 0 even when it cannot open the device.
    try:
        return _parse_stats(ret["stdout"])
    except ValueError as exc:
        raise CommandExecutionError(ret["stderr"].strip() or str(exc)) from exc


def mkfs(
    device,
    label,
    slots=2,
    cluster_name=None,
    cluster_stack="o2cb",
    force=False,
    test=False,
    call_timeout=None,
    mkfs_timeout=None,
):
    """
    Make an OCFS2 file system on ``device`` and return its ``info``.

    Refuses (CommandExecutionError naming what is there) when the device holds
    any file system, partition table or other signature, unless ``force=True``:
    the device is read again from the disk (this node's cache of it dropped)
    right before mkfs.ocfs2 runs, and mkfs.ocfs2 itself refuses an OCFS2 volume
    that appeared since. ``cluster_name`` and ``cluster_stack`` are written to
    the file system (mkfs.ocfs2 then needs no running cluster); without
    ``cluster_name`` mkfs.ocfs2 asks the running cluster. ``test=True`` checks
    the arguments and the device and returns what would be made, writing
    nothing. ``mkfs_timeout`` bounds mkfs.ocfs2 (default 600 s),
    ``call_timeout`` the calls that read the device and drop its cache.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.mkfs /dev/sdb1 nfsmeta slots=2 cluster_name=ocfs
    """
    argv = _mkfs_argv(device, label, slots, cluster_name, cluster_stack, force)
    mkfs_timeout = _call_timeout(mkfs_timeout, MKFS_TIMEOUT, "mkfs_timeout")
    if not force:
        _refuse_unless_empty(device, "format", test, call_timeout)
    if test:
        return {
            "label": label,
            "slots": slots,
            "cluster_name": cluster_name,
            "cluster_stack": cluster_stack if cluster_name else None,
        }
    # Without -x, mkfs.ocfs2 asks before overwriting an OCFS2 volume that
    # appeared since: an empty stdin answers no ("Proceed (y/N): Aborting
    # operation.", exit 1, measured with 1.8.7).
    _run(*argv, call_timeout=mkfs_timeout, stdin="")
    return info(device, call_timeout)


def recorded_uuid(label):
    """
    Return the UUID this node recorded for the OCFS2 file system labelled
    ``label`` (grain ``ocfs2_uuids``), or None when it recorded none.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.recorded_uuid nfsdata
    """
    return _recorded().get(label)


def record_uuid(label, fs_uuid):
    """
    Record ``fs_uuid`` as the UUID of the OCFS2 file system labelled ``label``
    on this node, in the grain ``ocfs2_uuids`` (the minion's grains file, so
    the record outlives minion restarts). Return every recorded UUID by label.
    ``salt <node> grains.delkey ocfs2_uuids force=True`` forgets them all.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.record_uuid nfsdata c9f17bc9-b863-4e56-b323-0b9ea7ab686b
    """
    if not isinstance(label, str) or not label:
        raise SaltInvocationError(f"label: {label!r} must be a non-empty string")
    try:
        fs_uuid = str(uuid.UUID(str(fs_uuid)))
    except ValueError as exc:
        raise SaltInvocationError(f"fs_uuid: {fs_uuid!r} is not a UUID") from exc
    uuids = {**_recorded(), label: fs_uuid}
    written = __salt__["grains.setval"](_UUID_GRAIN, uuids, refresh_pillar=False)
    if not isinstance(written, dict):
        # grains.setval returns its complaint when it cannot read the file.
        raise CommandExecutionError(f"cannot record the UUID in grain {_UUID_GRAIN}: {written}")
    return uuids


def mount_device(device, label):
    """
    Return how fstab names the OCFS2 file system labelled ``label``:
    ``UUID=<uuid>`` once this node recorded its UUID, else ``device``. As the
    device of a mount state (a slot), it keeps a device that holds another
    file system from being mounted, at boot too.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.mount_device /dev/disk/by-path/ip-10.252.50.20:3260-iscsi-iqn.2018-08.es.raulpedroche:lun1-lun-1-part2 nfsdata
    """
    fs_uuid = recorded_uuid(label)
    return f"UUID={fs_uuid}" if fs_uuid else device


def mount_points():
    """
    Return the directories where an OCFS2 file system is mounted on this
    node, from ``/proc/self/mounts``. No program runs: Salt's
    ``mount.active`` runs blkid, which reads every disk, the shared one
    too, and waits on it when it does not answer.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.mount_points
    """
    with open("/proc/self/mounts", encoding="utf-8") as handle:
        mounts = _parse_mounts(handle.read())
    return [point for point, fstype in mounts.items() if fstype == "ocfs2"]


def fence_register(script, call_timeout=None):
    """
    Register this node's SCSI reservation key on the shared disk with the
    nfsha fence script ``script`` (``<script> register``: it refuses while
    this node is fenced and has OCFS2 mounted, docs/design.md, "The SCSI
    fence"), within ``call_timeout`` seconds (default 60). Return what the
    script reports; raise CommandExecutionError with its message.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.fence_register /usr/local/sbin/nfsha-scsi-fence call_timeout=160
    """
    if not isinstance(script, str) or not os.path.isabs(script):
        raise SaltInvocationError(f"script: {script!r} is not an absolute path")
    return _run(script, "register", call_timeout=call_timeout).strip()


def mounted_nodes(device, call_timeout=None):
    """
    Return the names (or numbers, when the cluster is offline) of the nodes
    that have the OCFS2 file system on ``device`` mounted, from
    ``mounted.ocfs2 -f``: an empty list when none has, None when the device
    holds no OCFS2.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.mounted_nodes /dev/sdb2
    """
    _check_device(device)
    ret = _run_all(["mounted.ocfs2", "-f", device], call_timeout)
    if ret["retcode"]:
        raise CommandExecutionError(ret["stderr"] or ret["stdout"])
    nodes = _parse_mounted(ret["stdout"]).get(device)
    if nodes is None:
        return None
    if not nodes:
        # mounted.ocfs2 leaves the column empty and explains on stderr.
        raise CommandExecutionError(ret["stderr"].strip() or f"mounted.ocfs2 could not read {device}")
    if nodes in ("Not mounted", "Heartbeat device"):
        return []
    return nodes.split(", ")


def cluster_conf(path="/etc/ocfs2/cluster.conf"):
    """
    Return the o2cb cluster configuration in ``path`` as ``{name,
    heartbeat_mode, node_count, nodes}`` (nodes: ``{name, number, address,
    port}`` sorted by number), or None when the file does not exist.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.cluster_conf
    """
    try:
        return _read_cluster_conf(path)
    except ValueError as exc:
        raise CommandExecutionError(f"{path}: {exc}") from exc


def render_cluster_conf(name, nodes):
    """
    Return the text of a cluster.conf for cluster ``name`` with ``nodes``, a
    list of ``{name, number, address, port}`` (port defaults to 7777).

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.render_cluster_conf ocfs '[{"name": "nfs1", "number": 0, "address": "10.252.50.11"}]'
    """
    _check_cluster_name(name, "name")
    nodes = _normalize_nodes(nodes)
    text = f"cluster:\n\tname = {name}\n\theartbeat_mode = local\n\tnode_count = {len(nodes)}\n\n"
    for node in nodes:
        text += (
            f"node:\n\tcluster = {name}\n\tnumber = {node['number']}\n"
            f"\tip_port = {node['port']}\n\tip_address = {node['address']}\n"
            f"\tname = {node['name']}\n\n"
        )
    return text


def write_cluster_conf(name, nodes, path="/etc/ocfs2/cluster.conf", test=False):
    """
    Make ``path`` the cluster.conf that ``render_cluster_conf`` gives for
    ``name`` and ``nodes``. Return the fields that change as ``{field: {old,
    new}}`` (empty when the file already says the same; an unreadable file is
    replaced). ``test=True`` returns them without writing.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.write_cluster_conf ocfs '[{"name": "nfs1", "number": 0, "address": "10.252.50.11"}]'
    """
    text = render_cluster_conf(name, nodes)
    wanted = _parse_cluster_conf(text)
    try:
        current = _read_cluster_conf(path) or {}
    except ValueError:
        current = {}
    changes = {
        field: {"old": current.get(field), "new": value}
        for field, value in wanted.items()
        if current.get(field) != value
    }
    if changes and not test:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _write(path, text)
    return changes


def o2cb_defaults(path="/etc/default/o2cb"):
    """
    Return the settings of the o2cb defaults file (``O2CB_ENABLED``,
    ``O2CB_BOOTCLUSTER``, timeouts...) as a dict of strings; empty when the
    file does not exist.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.o2cb_defaults
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return {}
    return _parse_defaults(text)


def set_o2cb_defaults(settings, path="/etc/default/o2cb", test=False):
    """
    Set ``settings`` (a dict such as ``{"O2CB_ENABLED": "true"}``) in the o2cb
    defaults file, keeping every other line. Return what changes as ``{key:
    {old, new}}``; ``test=True`` returns it without writing.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.set_o2cb_defaults '{"O2CB_ENABLED": "true", "O2CB_BOOTCLUSTER": "ocfs"}'
    """
    if not isinstance(settings, dict) or not settings:
        raise SaltInvocationError("settings: must be a non-empty dict of KEY: value")
    for key, value in settings.items():
        if not isinstance(key, str) or not _DEFAULTS_KEY.match(key):
            raise SaltInvocationError(f"settings: {key!r} is not an upper-case shell variable name")
        if not isinstance(value, str) or not _DEFAULTS_VALUE.match(value):
            raise SaltInvocationError(
                f"settings: {key}={value!r} must be a string of letters, digits, '_', '.' or '-'"
            )
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        text = ""
    current = _parse_defaults(text)
    changes = {
        key: {"old": current.get(key), "new": value}
        for key, value in settings.items()
        if current.get(key) != value
    }
    if changes and not test:
        _write(path, _set_defaults(text, settings))
    return changes


def cluster_status(name=None, config="/etc/ocfs2/cluster.conf", call_timeout=None):
    """
    Return the o2cb cluster state from ``o2cb cluster-status``: ``{cluster,
    online, loaded}``. ``loaded`` is False when the kernel's o2cb stack
    (configfs, ocfs2_stack_o2cb) is not available; ``cluster`` is the cluster
    asked about or the one registered.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.cluster_status ocfs
    """
    argv = ["o2cb", f"--config-file={config}", "cluster-status"]
    if name is not None:
        _check_cluster_name(name, "name")
        argv.append(name)
    # Exit 1 means offline: an answer, not an error to log.
    ret = _run_all(argv, call_timeout, ignore_retcode=True)
    try:
        return _parse_status(ret["stdout"], ret["stderr"], name)
    except ValueError as exc:
        raise CommandExecutionError(ret["stderr"].strip() or str(exc)) from exc


def online(name, config="/etc/ocfs2/cluster.conf", call_timeout=None):
    """
    Bring cluster ``name`` online: start the o2cb service when the kernel
    stack is not loaded yet (it reads /etc/default/o2cb), then register the
    cluster and its nodes from ``config`` (``o2cb register-cluster`` also
    re-registers nodes whose entry changed). Return ``cluster_status``.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.online ocfs
    """
    # systemctl start is bounded by the unit's own start timeout: 5 min for
    # o2cb.service, which systemd-sysv-generator makes from Debian's init script.
    if not cluster_status(name, config, call_timeout)["loaded"] and not __salt__["service.start"]("o2cb"):
        raise CommandExecutionError("the o2cb service did not start (see: journalctl -u o2cb)")
    _run("o2cb", f"--config-file={config}", "register-cluster", name, call_timeout=call_timeout)
    return cluster_status(name, config, call_timeout)


def partition_table(device, call_timeout=None):
    """
    Return the partition table on ``device`` from ``sfdisk --json``: ``{label,
    id, sector_size, partitions}`` with each partition's ``node``, ``start``
    and ``size`` in sectors and ``type``; None when there is no table.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.partition_table /dev/sdb
    """
    _check_device(device)
    ret = _run_all(["sfdisk", "--json", device], call_timeout, ignore_retcode=True)
    if ret["retcode"]:
        if "does not contain a recognized partition table" in ret["stderr"]:
            return None
        raise CommandExecutionError(ret["stderr"] or ret["stdout"])
    return _parse_sfdisk(ret["stdout"])


def partition_differences(device, partitions, label="gpt", call_timeout=None):
    """
    Compare the partition table on ``device`` with ``partitions`` (as for
    ``partition``): a list of differences, empty when it matches (sizes within
    sfdisk's 1 MiB alignment), None when the device has no partition table.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.partition_differences /dev/sdb '[{"size": "64M"}, {"size": null}]'
    """
    sizes = _partition_sizes(partitions, label)
    table = partition_table(device, call_timeout)
    if table is None:
        return None
    return _differences(table, label, sizes, _disk_bytes(device, call_timeout))


def partition(
    device, partitions, label="gpt", force=False, test=False, timeout=10, call_timeout=None
):
    """
    Write a partition table with ``partitions`` on ``device``, make the kernel
    read it, and return it (as ``partition_table``).

    ``partitions`` is a list of ``{"size": "64M"}`` (sfdisk sizes with a unit:
    K, M, G, T or KiB, MiB... for powers of 1024, KB, MB... for powers of
    1000); the last one may be ``{"size": None}`` for the rest of the disk.
    Every partition gets the type "Linux filesystem". ``label`` is ``gpt`` or
    ``dos``. Refuses when the device holds any partition table, file system or
    other signature unless ``force=True``, and when the sizes do not fit.
    ``test=True`` checks all that and returns ``{label, partitions}`` as asked,
    writing nothing.

    CLI Example:

    .. code-block:: bash

        salt nfs1 ocfs2.partition /dev/sdb '[{"size": "64M"}, {"size": null}]'
    """
    sizes = _partition_sizes(partitions, label)
    _check_device(device)
    if not force:
        _refuse_unless_empty(device, "partition", test, call_timeout)
    disk_bytes = _disk_bytes(device, call_timeout)
    needed = _needed_bytes(label, sizes)
    if needed > disk_bytes:
        raise CommandExecutionError(
            f"{device} has {_human(disk_bytes)}; the partitions need at least {_human(needed)}"
        )
    if test:
        return {"label": label, "partitions": [{"size": part["size"]} for part in partitions]}
    argv = ["sfdisk", "--quiet"]
    if force:
        argv += ["--wipe", "always", "--wipe-partitions", "always"]
    ret = _run_all([*argv, device], call_timeout, stdin=_sfdisk_script(partitions, label))
    if ret["retcode"]:
        raise CommandExecutionError(ret["stderr"] or ret["stdout"])
    reread_partitions(device, timeout, call_timeout)
    table = partition_table(device, call_timeout)
    differences = _differences(table, label, sizes, disk_bytes)
    if differences:
        raise CommandExecutionError(f"sfdisk wrote a different table on {device}: {'; '.join(differences)}")
    return table


def visible_partitions(device, call_timeout=None):
    """
    Return the partition devices of ``device`` that the kernel knows now (from
    lsblk), e.g. ``["/dev/sdb1", "/dev/sdb2"]``.

    CLI Example:

    .. code-block:: bash

        salt nfs2 ocfs2.visible_partitions /dev/sdb
    """
    _check_device(device)
    out = _run("lsblk", "--json", "--list", "--output", "PATH,TYPE", device, call_timeout=call_timeout)
    return _parse_lsblk(out)


def reread_partitions(device, timeout=10, call_timeout=None):
    """
    Make the kernel read the partition table of ``device`` again (after
    another node wrote it, or a tool that could not) and wait up to
    ``timeout`` seconds for udev to create the partition devices. Return
    ``visible_partitions``; fails when the kernel's view does not match the
    table on the disk.

    CLI Example:

    .. code-block:: bash

        salt nfs2 ocfs2.reread_partitions /dev/sdb
    """
    # This node may hold the disk's first sectors in its page cache from
    # before another node wrote the table.
    _run("blockdev", "--flushbufs", device, call_timeout=call_timeout)
    table = partition_table(device, call_timeout)
    if table is not None:
        _run("partx", "--update", device, call_timeout=call_timeout)
    if salt.utils.path.which("udevadm"):
        # Waits up to timeout by design; the bound comes on top.
        settle = timeout + _call_timeout(call_timeout)
        _run("udevadm", "settle", f"--timeout={timeout}", call_timeout=settle)
    visible = visible_partitions(device, call_timeout)
    wanted = [part["node"] for part in table["partitions"]] if table else []
    if len(visible) != len(wanted):
        raise CommandExecutionError(
            f"{device}: the kernel shows partitions {visible} but the table has {wanted}"
        )
    return visible


def _run(*argv, call_timeout=None, stdin=None):
    ret = _run_all(list(argv), call_timeout, stdin=stdin)
    if ret["retcode"]:
        raise CommandExecutionError(ret["stderr"] or ret["stdout"])
    return ret["stdout"]


def _run_all(argv, call_timeout, **kwargs):
    """cmd.run_all on ``argv`` within ``call_timeout`` seconds, or CommandExecutionError."""
    return __utils__["nfsha_calls.run_all"](
        __salt__["cmd.run_all"], argv, _call_timeout(call_timeout), _what(argv),
        _HUNG.get(argv[0], "hung disk?"), **kwargs,
    )


def _call_timeout(value, default=CALL_TIMEOUT, argument="call_timeout"):
    return __utils__["nfsha_calls.seconds"](value, default, argument)


def _what(argv):
    """'o2cb register-cluster', 'wipefs /dev/sdb': a call as errors name it."""
    words = [argv[0]]
    if argv[0] in ("o2cb", "udevadm"):
        words += [arg for arg in argv[1:] if not arg.startswith("-")][:1]
    if argv[-1].startswith("/"):
        words.append(argv[-1])
    return " ".join(words)


def _write(path, text):
    # Written to a temporary file and renamed over: readers never see half a file.
    with salt.utils.atomicfile.atomic_open(path, "w") as handle:
        handle.write(text)


def _check_device(device):
    if not isinstance(device, str) or not os.path.isabs(device):
        raise SaltInvocationError(f"device: {device!r} is not an absolute device path")


def _check_cluster_name(name, argument, stack="o2cb"):
    # The rules are the formula's, shared with nfsha.validate (_utils/nfsha_rules.py).
    problem = __utils__["nfsha_rules.ocfs2_cluster_name"](name, stack)
    if problem:
        raise SaltInvocationError(f"{argument}: {name!r} {problem}")


def _refuse_unless_empty(device, action, test, call_timeout):
    if not test:
        # Read the disk, not this node's cache of it: another node may have
        # written it since (measured: while another program held a loop device
        # open, wipefs missed an ext4 made through a second loop device of the
        # same file until blockdev --flushbufs).
        _run("blockdev", "--flushbufs", device, call_timeout=call_timeout)
    found = signatures(device, call_timeout)
    if found:
        raise CommandExecutionError(
            f"{device} holds {_describe(found)}; refusing to {action} it"
        )


def _describe(found):
    """'an ext4 file system', 'a gpt partition table'... for signatures."""
    types = {sig["type"] for sig in found}
    names = []
    for sig in found:
        # A GPT comes with a protective MBR: name the table once.
        if sig["type"] == "PMBR" and "gpt" in types:
            continue
        name = f"{sig['type']} {_USAGE_NAMES.get(sig['usage'], 'signature')}"
        if sig["label"]:
            name += f" labelled {sig['label']!r}"
        name = ("an " if name[0].lower() in "aeiou" else "a ") + name
        if name not in names:
            names.append(name)
    return ", ".join(names)


def _parse_wipefs(text):
    return [
        {
            "type": sig["type"],
            "usage": sig["usage"],
            "offset": int(sig["offset"], 16),
            "uuid": sig["uuid"],
            "label": sig["label"],
        }
        for sig in json.loads(text)["signatures"]
    ]


def _parse_stats(text):
    """Parse ``debugfs.ocfs2 -R stats``; ValueError when it is not there."""
    fields = {}
    for line in text.splitlines():
        # Lines hold one or more "Key: value" pairs separated by 3 spaces.
        for pair in line.lstrip("\t").split("   "):
            key, sep, value = pair.partition(": ")
            if sep:
                fields[key] = value
    if "Label" not in fields or "UUID" not in fields:
        raise ValueError("no OCFS2 superblock in the debugfs.ocfs2 output")
    stack = fields.get("Cluster stack")
    return {
        "label": fields["Label"],
        "uuid": str(uuid.UUID(fields["UUID"])),
        "cluster_stack": "o2cb" if stack == "classic o2cb" else stack,
        "cluster_name": fields.get("Cluster name"),
        "slots": int(fields["Max Node Slots"]),
        "block_size": 1 << int(fields["Block Size Bits"]),
        "cluster_size": 1 << int(fields["Cluster Size Bits"]),
    }


def _parse_mounts(text):
    """``/proc/mounts`` text as {mount point: file system type}."""
    mounts = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 2:
            # The kernel writes a space, tab, newline or backslash in octal.
            point = re.sub(r"\\([0-7]{3})", lambda octal: chr(int(octal[1], 8)), fields[1])
            mounts[point] = fields[2]
    return mounts


def _parse_mounted(text):
    """``mounted.ocfs2 -f`` rows as {device: nodes column text}."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("Device"):
        return {}
    # Columns are fixed-width and the cluster column may be blank: cut at the
    # header's "Nodes".
    start = lines[0].index("Nodes")
    return {line.split()[0]: line[start:].strip() for line in lines[1:] if line.strip()}


def _read_cluster_conf(path):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    return _parse_cluster_conf(text)


def _parse_cluster_conf(text):
    """Parse cluster.conf stanzas; ValueError naming the line that is wrong."""
    stanzas = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace() and line.rstrip().endswith(":"):
            stanzas.append((line.rstrip()[:-1], {}))
            continue
        key, sep, value = line.partition("=")
        if not sep or not line[0].isspace() or not stanzas:
            raise ValueError(f"line {number}: cannot parse {line!r}")
        stanzas[-1][1][key.strip()] = value.strip()
    clusters = [fields for kind, fields in stanzas if kind == "cluster"]
    if len(clusters) != 1:
        raise ValueError(f"{len(clusters)} cluster stanzas, expected 1")
    cluster = clusters[0]
    nodes = [
        {
            "name": _field(fields, "name"),
            "number": _field(fields, "number", int),
            "address": _field(fields, "ip_address"),
            "port": _field(fields, "ip_port", int),
        }
        for kind, fields in stanzas
        if kind == "node" and fields.get("cluster") == cluster.get("name")
    ]
    return {
        "name": _field(cluster, "name"),
        "heartbeat_mode": cluster.get("heartbeat_mode", "local"),
        "node_count": _field(cluster, "node_count", int),
        "nodes": sorted(nodes, key=lambda node: node["number"]),
    }


def _field(fields, key, kind=str):
    if key not in fields:
        raise ValueError(f"missing {key}")
    try:
        return kind(fields[key])
    except ValueError as exc:
        raise ValueError(f"{key}: {fields[key]!r} is not a number") from exc


def _normalize_nodes(nodes):
    if not isinstance(nodes, list) or not nodes:
        raise SaltInvocationError("nodes: must be a non-empty list of {name, number, address, port}")
    result = []
    for index, node in enumerate(nodes):
        where = f"nodes[{index}]"
        if not isinstance(node, dict):
            raise SaltInvocationError(f"{where}: must be a dict of name, number, address, port")
        unknown = set(node) - _NODE_KEYS
        if unknown:
            raise SaltInvocationError(f"{where}: unknown keys {sorted(unknown)}")
        name, number = node.get("name"), node.get("number")
        address, port = node.get("address"), node.get("port", _DEFAULT_PORT)
        problem = __utils__["nfsha_rules.o2cb_node_name"](name)
        if problem:
            raise SaltInvocationError(f"{where}.name: {name!r} {problem}")
        if type(number) is not int or not 0 <= number <= 254:
            raise SaltInvocationError(f"{where}.number: {number!r} is not an integer 0-254")
        try:
            ipaddress.IPv4Address(address)
        except ValueError as exc:
            raise SaltInvocationError(f"{where}.address: {address!r} is not an IPv4 address") from exc
        if type(port) is not int or not 1 <= port <= 65535:
            raise SaltInvocationError(f"{where}.port: {port!r} is not a port number")
        result.append({"name": name, "number": number, "address": address, "port": port})
    for key in ("name", "number"):
        values = [node[key] for node in result]
        if len(set(values)) != len(values):
            raise SaltInvocationError(f"nodes: duplicate {key} in {values}")
    endpoints = [(node["address"], node["port"]) for node in result]
    if len(set(endpoints)) != len(endpoints):
        raise SaltInvocationError(f"nodes: two nodes share an address and port in {endpoints}")
    return sorted(result, key=lambda node: node["number"])


def _parse_defaults(text):
    settings = {}
    for line in text.splitlines():
        match = _DEFAULTS_LINE.match(line)
        if match:
            settings[match.group(1)] = match.group(2).strip().strip("\"'")
    return settings


def _set_defaults(text, settings):
    lines, seen = [], set()
    for line in text.splitlines():
        match = _DEFAULTS_LINE.match(line)
        if match and match.group(1) in settings:
            key = match.group(1)
            line = f"{key}={settings[key]}"
            seen.add(key)
        lines.append(line)
    lines += [f"{key}={value}" for key, value in settings.items() if key not in seen]
    return "\n".join(lines) + "\n"


def _parse_status(stdout, stderr, name):
    """``o2cb cluster-status`` output; ValueError when it says neither state."""
    last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    match = re.match(r"^(?:Cluster '(.+)' is )?(online|offline)$", last)
    if not match:
        raise ValueError("o2cb cluster-status said neither online nor offline")
    return {
        "cluster": match.group(1) or name,
        "online": match.group(2) == "online",
        "loaded": "Unable to access cluster service" not in stderr,
    }


def _mkfs_argv(device, label, slots, cluster_name, cluster_stack, force):
    _check_device(device)
    problem = __utils__["nfsha_rules.ocfs2_label"](label)
    if problem:
        raise SaltInvocationError(f"label: {label!r} {problem}")
    if type(slots) is not int or not 1 <= slots <= 255:
        raise SaltInvocationError(f"slots: {slots!r} is not an integer 1-255")
    if cluster_stack not in _STACKS:
        raise SaltInvocationError(f"cluster_stack: {cluster_stack!r} is not one of {_STACKS}")
    # -q: on failure stderr holds the reason, not the version banner.
    argv = ["mkfs.ocfs2", "-q", "-N", str(slots), "-L", label]
    if cluster_name is not None:
        _check_cluster_name(cluster_name, "cluster_name", cluster_stack)
        argv += [f"--cluster-stack={cluster_stack}", f"--cluster-name={cluster_name}"]
    if force:
        # -x: no question before overwriting; force means overwrite.
        argv += ["-F", "-x"]
    return [*argv, device]


def _recorded():
    uuids = __grains__.get(_UUID_GRAIN) or {}
    if not isinstance(uuids, dict):
        raise CommandExecutionError(
            f"grain {_UUID_GRAIN} is not a mapping of label: UUID; fix it or delete it "
            f"(grains.delkey {_UUID_GRAIN} force=True)"
        )
    return uuids


def _partition_sizes(partitions, label):
    """Bytes of each wanted partition (None = rest of the disk), checked."""
    if label not in _LABELS:
        raise SaltInvocationError(f"label: {label!r} is not one of {_LABELS}")
    if not isinstance(partitions, list) or not partitions:
        raise SaltInvocationError('partitions: must be a non-empty list of {"size": "64M"}')
    sizes = []
    for index, part in enumerate(partitions):
        where = f"partitions[{index}]"
        if not isinstance(part, dict) or set(part) != {"size"}:
            raise SaltInvocationError(f'{where}: must be {{"size": SIZE}}, not {part!r}')
        size = part["size"]
        if size is None:
            if index != len(partitions) - 1:
                raise SaltInvocationError(f"{where}.size: only the last partition may take the rest")
            sizes.append(None)
            continue
        problem = __utils__["nfsha_rules.partition_size"](size)
        if problem:
            raise SaltInvocationError(f"{where}.size: {size!r} {problem}")
        sizes.append(__utils__["nfsha_rules.size_bytes"](size))
    return sizes


def _sfdisk_script(partitions, label):
    lines = [f"label: {label}"]
    for part in partitions:
        lines.append(f"size={part['size']}, type=L" if part["size"] else "type=L")
    return "\n".join(lines) + "\n"


def _needed_bytes(label, sizes):
    # The first partition starts 1 MiB in; GPT keeps a backup at the end.
    needed = _GRAIN + sum(size for size in sizes if size)
    if label == "gpt":
        needed += _GRAIN
    if sizes[-1] is None:
        needed += _GRAIN
    return needed


def _disk_bytes(device, call_timeout):
    return int(_run("blockdev", "--getsize64", device, call_timeout=call_timeout))


def _differences(table, label, sizes, disk_bytes):
    """How ``table`` differs from ``label`` with partitions of ``sizes`` bytes."""
    if table["label"] != label:
        return [f"the table is {table['label']}, not {label}"]
    found = table["partitions"]
    if len(found) != len(sizes):
        return [f"{len(found)} partitions, not {len(sizes)}"]
    sector = table["sector_size"]
    differences = []
    for number, (part, size) in enumerate(zip(found, sizes), 1):
        actual = part["size"] * sector
        if size is None:
            gap = disk_bytes - (part["start"] + part["size"]) * sector
            if gap >= 2 * _GRAIN:
                differences.append(f"partition {number} ends {_human(gap)} before the end of the disk")
        elif abs(actual - size) >= _GRAIN:
            differences.append(f"partition {number} is {_human(actual)}, not {_human(size)}")
    return differences


def _human(size):
    """A size in the units sfdisk prints: '64 MiB'."""
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.4g} {unit}"
        size /= 1024
    return f"{size:.4g} GiB"


def _parse_sfdisk(text):
    table = json.loads(text)["partitiontable"]
    return {
        "label": table["label"],
        "id": table["id"],
        "sector_size": table.get("sectorsize", 512),
        "partitions": [
            {"node": part["node"], "start": part["start"], "size": part["size"], "type": part["type"]}
            for part in table.get("partitions", [])
        ],
    }


def _parse_lsblk(text):
    return [dev["path"] for dev in json.loads(text)["blockdevices"] if dev["type"] == "part"]
