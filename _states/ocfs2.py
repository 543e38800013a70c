"""
OCFS2 on a shared disk: the o2cb cluster, the disk's partition table, and the
file systems on it.

These states decide; the ``ocfs2`` execution module reads and changes. They
never destroy data: a device holding something else than what is asked for is
refused, with a comment naming what is there.

Each takes ``call_timeout``: the seconds each program it runs (o2cb, wipefs,
sfdisk, partx, lsblk, debugfs.ocfs2...) may take, 60 by default; a program
that takes longer is killed and the state fails, naming it.

A file system is known by its UUID once formatted: the node that formats
records it (grain ``ocfs2_uuids``), another node records the UUID it first
finds under the wanted label and cluster name, and from then on a device with
another UUID is refused, whatever its names. Mount it by ``UUID=`` (the
``ocfs2.mount_device`` slot below), so that boots refuse it too.

.. code-block:: yaml

    nfsha-ocfs2-cluster:
      ocfs2.cluster:
        - name: ocfs
        - nodes:
          - {name: nfs1, number: 1, address: 192.168.56.11}
          - {name: nfs2, number: 2, address: 192.168.56.12}

    nfsha-ocfs2-disk:
      ocfs2.partitioned:
        - name: /dev/disk/by-path/ip-192.168.56.20:3260-iscsi-iqn.2018-08.es.raulpedroche:lun1-lun-1
        - partitions: [{size: 64M}, {size: null}]

    nfsha-ocfs2-state-fs:
      ocfs2.formatted:
        - name: /dev/disk/by-path/ip-192.168.56.20:3260-iscsi-iqn.2018-08.es.raulpedroche:lun1-lun-1-part1
        - label: nfsstate
        - cluster_name: ocfs

    # On the other node, before it mounts:
    nfsha-ocfs2-state-fs-identified:
      ocfs2.identified:
        - name: /dev/disk/by-path/ip-192.168.56.20:3260-iscsi-iqn.2018-08.es.raulpedroche:lun1-lun-1-part1
        - label: nfsstate
        - cluster_name: ocfs

    nfsha-ocfs2-state-fs-mounted:
      mount.mounted:
        - name: /var/lib/nfs
        - device: __slot__:salt:ocfs2.mount_device("/dev/disk/by-path/...-part1", nfsstate)
        - fstype: ocfs2
        - match_on: name
"""
import os

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "ocfs2"

_GRAIN = "ocfs2_uuids"
_RESOLVE = (
    f"If the LUN was replaced on purpose, forget the old UUIDs on every node that mounts it"
    f" (salt <node> grains.delkey {_GRAIN} force=True) and run again"
)


def __virtual__():
    # Loads without ocfs2-tools: the formula installs them earlier in the same
    # run, and test runs happen where nothing is installed yet.
    return __virtualname__


def cluster(
    name,
    nodes,
    config="/etc/ocfs2/cluster.conf",
    defaults="/etc/default/o2cb",
    timeouts=None,
    call_timeout=None,
):
    """
    The o2cb cluster ``name`` is configured with ``nodes`` (a list of ``{name,
    number, address, port}``, port 7777 by default) in ``config``, enabled at
    boot in ``defaults`` (``O2CB_ENABLED=true``, ``O2CB_BOOTCLUSTER=name``,
    and the ``timeouts``; other lines are kept), and online. A cluster that
    is online already has its nodes registered again when ``config``
    changed.

    timeouts
        o2cb's cluster timeouts, ``{heartbeat_threshold, idle_timeout_ms,
        keepalive_delay_ms, reconnect_delay_ms}`` (any of them), written as
        ``O2CB_HEARTBEAT_THRESHOLD`` etc. o2cb takes them when the cluster
        starts, and every server must have the same: a cluster that runs
        already keeps its own until it restarts on every server.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    if _unavailable(ret, f"o2cb cluster {name} would be configured and brought online"):
        return ret
    test = __opts__["test"]
    try:
        conf = __salt__["ocfs2.write_cluster_conf"](name, nodes, config, test=test)
        if conf:
            ret["changes"][config] = conf
        settings = {"O2CB_ENABLED": "true", "O2CB_BOOTCLUSTER": name}
        settings.update((f"O2CB_{key.upper()}", str(value)) for key, value in (timeouts or {}).items())
        boot = __salt__["ocfs2.set_o2cb_defaults"](settings, defaults, test=test)
        if boot:
            ret["changes"][defaults] = boot
        status = __salt__["ocfs2.cluster_status"](name, config, call_timeout=call_timeout)
        later = sorted(k for k in boot if k.removeprefix("O2CB_").lower() in (timeouts or {}))
        if conf or not status["online"]:
            if not test:
                __salt__["ocfs2.online"](name, config, call_timeout=call_timeout)
            if not status["online"]:
                ret["changes"]["online"] = {"old": False, "new": True}
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=f"o2cb cluster {name}: {exc}")
        return ret
    if not ret["changes"]:
        ret["comment"] = f"o2cb cluster {name} is configured and online"
    elif test:
        ret.update(result=None, comment=f"o2cb cluster {name} would change: {', '.join(ret['changes'])}")
        if not status["loaded"]:
            ret["comment"] += " (the o2cb kernel stack is not loaded: the o2cb service would start)"
    else:
        ret["comment"] = f"o2cb cluster {name} changed: {', '.join(ret['changes'])}"
    if later and status["online"]:
        ret["comment"] += (
            f"; new timeouts ({', '.join(later)}) apply when the cluster next starts on every server"
            " (the servers must agree on them: stop it on all, then start it)"
        )
    return ret


def partitioned(name, partitions, label="gpt", timeout=10, call_timeout=None):
    """
    The disk ``name`` has a ``label`` (``gpt`` or ``dos``) partition table
    with ``partitions``: a list of ``{"size": "64M"}`` in sfdisk's units, the
    last one may be ``{"size": None}`` for the rest of the disk; all of type
    Linux filesystem.

    The table is written only on a disk without any signature, then the kernel
    re-reads it and the state waits up to ``timeout`` seconds for the
    partition devices. A table that matches (same label, number and sizes
    within sfdisk's 1 MiB alignment) is left alone; a different table or any
    other data is refused.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    would = f"a {label} partition table would be written on {name}"
    if _unavailable(ret, would) or _missing(ret, name, would):
        return ret
    try:
        differences = __salt__["ocfs2.partition_differences"](
            name, partitions, label, call_timeout=call_timeout
        )
        if differences == []:
            ret["comment"] = f"{name} has the wanted {label} partition table"
            return ret
        if differences:
            ret.update(
                result=False,
                comment=f"{name} holds a partition table that differs from the wanted one "
                f"({'; '.join(differences)}); refusing to change it",
            )
            return ret
        table = __salt__["ocfs2.partition"](
            name, partitions, label, test=__opts__["test"], timeout=timeout, call_timeout=call_timeout
        )
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret["changes"] = {"partition_table": {"old": None, "new": table}}
    if __opts__["test"]:
        ret.update(result=None, comment=f"a {label} partition table would be written on {name}")
    else:
        ret["comment"] = f"{label} partition table written on {name}"
    return ret


def partitions_visible(name, count, timeout=10, call_timeout=None):
    """
    The kernel shows ``count`` partitions of the disk ``name``: for a node
    that shares the disk with the one that wrote its table. When it shows a
    different number, the table is read again from the disk and the state
    waits up to ``timeout`` seconds for the partition devices.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    if type(count) is not int or count < 1:
        ret.update(result=False, comment=f"count: {count!r} is not a positive integer")
        return ret
    would = f"the partition table of {name} would be re-read"
    if _unavailable(ret, would) or _missing(ret, name, would):
        return ret
    try:
        before = __salt__["ocfs2.visible_partitions"](name, call_timeout=call_timeout)
        if len(before) == count:
            ret["comment"] = f"the kernel shows the {count} partitions of {name}"
            return ret
        if __opts__["test"]:
            table = __salt__["ocfs2.partition_table"](name, call_timeout=call_timeout)
            after = [part["node"] for part in table["partitions"]] if table else []
        else:
            after = __salt__["ocfs2.reread_partitions"](name, timeout, call_timeout=call_timeout)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    if after != before:
        ret["changes"] = {"partitions": {"old": before, "new": after}}
    if len(after) != count:
        ret.update(result=False, comment=f"{name} has {len(after)} partitions in its table, not {count}")
    elif __opts__["test"]:
        ret.update(result=None, comment=f"the partition table of {name} would be re-read")
    else:
        ret["comment"] = f"the partition table of {name} was re-read"
    return ret


def formatted(
    name,
    label,
    slots=2,
    cluster_name=None,
    cluster_stack="o2cb",
    call_timeout=None,
    mkfs_timeout=None,
):
    """
    The device ``name`` holds an OCFS2 file system labelled ``label`` (and
    made for ``cluster_name``, when given) whose UUID this node recorded. An
    empty device is formatted with ``slots`` node slots for ``cluster_stack``
    and its new UUID recorded; a file system with these names that this node
    has no record of gets its UUID recorded. Refused and left untouched: a
    device holding anything else (another file system, OCFS2 with another
    label, cluster or UUID than recorded, a partition table), and an empty
    device where this node recorded a file system. ``mkfs_timeout`` bounds
    mkfs.ocfs2 (default 600 s; a big LUN on a slow link may need more).
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    would = f"{name} would be formatted as OCFS2 {label!r}"
    if _unavailable(ret, would) or _missing(ret, name, would):
        return ret
    try:
        current = __salt__["ocfs2.info"](name, call_timeout=call_timeout)
        if current is not None:
            return _identified(ret, current, label, cluster_name, "format")
        recorded = __salt__["ocfs2.recorded_uuid"](label)
        if recorded:
            return _vanished(ret, label, recorded)
        made = __salt__["ocfs2.mkfs"](
            name,
            label,
            slots=slots,
            cluster_name=cluster_name,
            cluster_stack=cluster_stack,
            test=__opts__["test"],
            call_timeout=call_timeout,
            mkfs_timeout=mkfs_timeout,
        )
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret["changes"] = {field: {"old": None, "new": value} for field, value in made.items()}
    if __opts__["test"]:
        ret.update(result=None, comment=f"{name} would be formatted as OCFS2 {label!r}")
        return ret
    ret["comment"] = f"{name} formatted as OCFS2 {label!r}, UUID {made['uuid']}"
    try:
        __salt__["ocfs2.record_uuid"](label, made["uuid"])
    except (CommandExecutionError, SaltInvocationError) as exc:
        # Formatted all the same: the next run records it as found.
        ret.update(result=False, comment=f"{ret['comment']}, not recorded: {exc}")
        return ret
    ret["comment"] += f" recorded (grain {_GRAIN})"
    return ret


def identified(name, label, cluster_name=None, call_timeout=None):
    """
    The device ``name`` holds the OCFS2 file system labelled ``label`` (and
    made for ``cluster_name``, when given) whose UUID this node recorded: for
    a node that mounts a file system another node formatted. The first time,
    the UUID it finds is recorded; from then on a device with another UUID,
    other names, or no OCFS2 at all is refused. Nothing is ever written to
    the device.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    would = f"the OCFS2 file system {label!r} on {name} would be identified"
    if _unavailable(ret, would) or _missing(ret, name, would):
        return ret
    try:
        current = __salt__["ocfs2.info"](name, call_timeout=call_timeout)
        if current is not None:
            return _identified(ret, current, label, cluster_name, "use")
        recorded = __salt__["ocfs2.recorded_uuid"](label)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    if recorded:
        return _vanished(ret, label, recorded)
    if __opts__["test"]:
        # The format node formats it earlier in the same run.
        ret.update(result=None, comment=f"{name} holds no OCFS2 file system yet; {would} once it does")
    else:
        ret.update(
            result=False,
            comment=f"{name} holds no OCFS2 file system: the node that formats the shared disk "
            f"has not made {label!r} yet",
        )
    return ret


def fence_registered(name, mount_points, call_timeout=None):
    """
    This node's SCSI reservation key is registered on the shared disk before
    it mounts OCFS2: ``name`` is the nfsha fence script, run as ``name
    register`` unless every directory of ``mount_points`` has OCFS2 mounted
    already. A node that was out of the cluster may have been fenced
    meanwhile (docs/design.md, "The SCSI fence"); a node that has them all
    mounted has registered before mounting them (at boot, the mounts' own
    unit), and the fence daemon reboots it if it was fenced since.
    ``call_timeout`` bounds the script, which bounds each of its own calls.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    would = f"this node's key would be registered by {name} register"
    if _unavailable(ret, would):
        return ret
    try:
        missing = sorted(set(mount_points) - set(__salt__["ocfs2.mount_points"]()))
    except OSError as exc:
        ret.update(result=False, comment=f"cannot read the mounts: {exc}")
        return ret
    if not missing:
        ret["comment"] = f"OCFS2 is mounted on {', '.join(mount_points)}: no mount to register before"
        return ret
    if __opts__["test"]:
        ret.update(result=None, comment=f"{', '.join(missing)} not mounted: {would}")
        return ret
    try:
        report = __salt__["ocfs2.fence_register"](name, call_timeout=call_timeout)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret.update(changes={"registered": report}, comment=f"{', '.join(missing)} not mounted: {report}")
    return ret


def _identified(ret, current, label, cluster_name, action):
    """Fill ``ret`` for a device that holds OCFS2 ``current``: ours or refused."""
    name = ret["name"]
    if current["label"] != label or cluster_name not in (None, current["cluster_name"]):
        ret.update(
            result=False,
            comment=f"{name} holds OCFS2 {_ocfs2_name(current['label'], current['cluster_name'])},"
            f" not {_ocfs2_name(label, cluster_name)}; refusing to {action} it",
        )
        return ret
    found = _ocfs2_name(label, current["cluster_name"])
    recorded = __salt__["ocfs2.recorded_uuid"](label)
    if recorded == current["uuid"]:
        ret["comment"] = f"{name} holds OCFS2 {found}, UUID {recorded} as recorded"
        return ret
    if recorded:
        ret.update(
            result=False,
            comment=f"{name} holds OCFS2 {found} with UUID {current['uuid']}, but this node recorded"
            f" UUID {recorded} for {label!r} (grain {_GRAIN}): it is not the file system this"
            f" cluster formatted (another cluster's LUN, or a replaced one). Nothing changed."
            f" {_RESOLVE}",
        )
        return ret
    ret["changes"] = {"uuid": {"old": None, "new": current["uuid"]}}
    if __opts__["test"]:
        ret.update(
            result=None,
            comment=f"{name} holds OCFS2 {found}, UUID {current['uuid']}, which this node has no"
            f" record of: its UUID would be recorded (grain {_GRAIN}). If this cluster never"
            f" formatted it, it is another cluster's: do not apply",
        )
        return ret
    __salt__["ocfs2.record_uuid"](label, current["uuid"])
    ret["comment"] = (
        f"{name} holds OCFS2 {found}, UUID {current['uuid']}, now recorded (grain {_GRAIN}):"
        " a device with another UUID will be refused"
    )
    return ret


def _vanished(ret, label, recorded):
    """Fill ``ret`` for a device without OCFS2 where this node recorded one."""
    ret.update(
        result=False,
        comment=f"{ret['name']} holds no OCFS2 file system, but this node recorded {label!r} with"
        f" UUID {recorded} (grain {_GRAIN}): the LUN was replaced or wiped. Nothing changed."
        f" {_RESOLVE}",
    )
    return ret


def _ocfs2_name(label, cluster_name):
    return f"{label!r}" + (f" of cluster {cluster_name!r}" if cluster_name else "")


def _unavailable(ret, would):
    """Fill ``ret`` and say so when the ocfs2 execution module is not loaded."""
    # Salt reloads its modules after a pkg state that changed something, so
    # packages installed earlier in the same run make the module appear here.
    if "ocfs2.info" in __salt__:
        return False
    reason = "the ocfs2 execution module is not loaded (it needs ocfs2-tools, fdisk and kmod)"
    if __opts__["test"]:
        ret.update(result=None, comment=f"{reason}; {would}")
    else:
        ret.update(result=False, comment=reason)
    return True


def _missing(ret, device, would):
    """Fill ``ret`` and say so when ``device`` does not exist (yet)."""
    if os.path.exists(device):
        return False
    # Under test=True the iSCSI login that makes the device has not happened.
    if __opts__["test"]:
        ret.update(result=None, comment=f"{device} does not exist yet; {would} once it does")
    else:
        ret.update(result=False, comment=f"{device} does not exist")
    return True
