"""
The state of an nfsha cluster, seen from the master, and a planned move of
the NFS service.

``salt-run nfsha.status`` asks every node of the ``nfsha`` pillar, in one
call each, what its role is about: the target's iSCSI sessions; each NFS
server's VRRP state, whether it holds the VIP, its iSCSI sessions, its OCFS2
mounts, nfs-server and its exports; each client's NFS mounts.

``salt-run nfsha.switchover to=<server>`` moves the VIP, and nfsd with it,
to another server, and measures how long the clients waited.

:depends: the nfsha formula's modules synced to the minions
          (``salt-run state.orchestrate nfsha`` does it)
"""
import re
import time

import salt.client
from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "nfsha"

# What each role is asked: (key in the status, function, its arguments).
# "{vip}" is replaced by the VIP's address.
QUERIES = {
    "target": [
        ("tgt_sessions", "tgt.sessions", []),
    ],
    "server": [
        ("vrrp", "keepalived.instances", []),
        ("holds_vip", "keepalived.holds_vip", ["{vip}"]),
        ("iscsi_sessions", "iscsiadm.sessions", []),
        ("mounts", "mount.active", []),
        ("nfs_server", "service.status", ["nfs-server"]),
        ("exports", "nfs3.list_exports", []),
    ],
    "client": [
        ("mounts", "mount.active", []),
    ],
}


def __virtual__():
    return __virtualname__


def status(timeout=30):
    """
    Return the cluster's state, by node. Per node: ``role``, ``address``,
    ``reachable`` and what its role is about (``errors`` lists what could not
    be read). Servers: ``vrrp_state``, ``priority``, ``holds_vip``,
    ``iscsi_sessions``, ``ocfs2_mounts`` (mount point: device),
    ``nfs_server`` (running or stopped), ``exports``; the target:
    ``iscsi_sessions`` (initiators logged in); clients: ``nfs_mounts``. At
    the top, ``vip`` and ``vip_holders`` (exactly one when all is well).

    Printed as a table (the ``nfsha_status`` outputter) unless an output is
    asked for (``--out``, or ``output`` in the master's configuration): then
    this is the plain dictionary, e.g. for ``--out=json``.

    timeout
        Seconds to wait for the nodes' answers.

    CLI Example:

    .. code-block:: bash

        salt-run nfsha.status
        salt-run nfsha.status --out=json
    """
    cluster = __salt__["pillar.show_pillar"]().get("nfsha") or {}
    nodes = cluster.get("nodes") or {}
    vip = (cluster.get("vip") or {}).get("address")
    with salt.client.get_local_client(__opts__["conf_file"]) as client:
        answers = {}
        for role, queries in QUERIES.items():
            ids = sorted(i for i, node in nodes.items() if node.get("role") == role)
            if not ids:
                continue
            functions = [q[1] for q in queries]
            args = [[a.format(vip=vip) for a in q[2]] for q in queries]
            answers.update(
                client.cmd(ids, functions, args, tgt_type="list", timeout=timeout) or {}
            )
    report = {
        node_id: summarize(node, answers.get(node_id))
        for node_id, node in sorted(nodes.items())
    }
    ret = {
        "vip": vip,
        "vip_holders": sorted(i for i, n in report.items() if n.get("holds_vip") is True),
        "nodes": report,
    }
    if __opts__.get("output"):
        return ret
    return {"outputter": "nfsha_status", "data": ret}


# keepalived.conf's vrrp_track_file that adds to a server's priority.
PREFERENCE = "nfsha_preference"
# VRRP's highest priority for a server that does not own the VIP.
TOP_PRIORITY = 254


def switchover(to, timeout=120, probe_seconds=30):
    """
    Move the NFS service to the server ``to``: it gets the highest VRRP
    priority (its ``nfsha_preference`` track file, which keepalived reads at
    once), takes the VIP from the holder, which stops nfsd, and starts nfsd.
    Without preemption (``keepalived:preempt: false``) the holder's
    keepalived is restarted so that it lets go. Meanwhile every client
    measures how long its first mount took to answer (``nfsha_probe``).

    The preference stays: ``to`` keeps the VIP (and takes it back after a
    failure) until the next switchover. A switchover to the server with the
    highest priority in pillar clears every preference: the pillar's order
    again.

    Returns ``from``, ``to``, ``vip``, ``moved_s`` (from the change of
    preference until ``to`` holds the VIP and runs nfs-server) and, per
    client, its probe (``longest_s``: the longest time its mount took to
    answer), with the longest of them as ``stall_s``.

    to
        The NFS server to move the service to.

    timeout
        Seconds to wait for the move.

    probe_seconds
        How long the clients probe their mounts: the move must end within.

    CLI Example:

    .. code-block:: bash

        salt-run nfsha.switchover to=nfs2
    """
    with salt.client.get_local_client(__opts__["conf_file"]) as client:
        cluster = _settings(client, to)
        servers, clients = cluster["roles"]["servers"], cluster["roles"]["clients"]
        vip = cluster["vip"]["address"]
        holders = _vip_holders(client, servers, vip)
        if holders == [to]:
            return {"from": to, "to": to, "vip": vip, "comment": f"{to} already holds {vip}"}
        mounts = cluster["client"]["mounts"]
        probe = None
        if clients and mounts:
            probe = client.cmd_async(
                clients, "nfsha_probe.stalls", [mounts[0]["mount_point"], probe_seconds],
                tgt_type="list",
            )
            # The probe's first answers come from the old holder.
            time.sleep(1)
        started = time.monotonic()
        priorities = {s: cluster["nodes"][s]["priority"] for s in servers}
        primary = max(servers, key=priorities.get)
        for server in servers:
            value = TOP_PRIORITY - priorities[to] if server == to != primary else 0
            _call(client, server, "keepalived.set_track_file", [PREFERENCE, value])
        if not cluster["keepalived"].get("preempt", True):
            for holder in holders:
                _call(client, holder, "service.restart", ["keepalived"])
        while not _serves(client, to, servers, vip, cluster["services"]["nfs_server"]):
            if time.monotonic() - started > timeout:
                raise CommandExecutionError(
                    f"nfsha.switchover: {to} does not serve from {vip} after {timeout} s"
                )
            time.sleep(0.5)
        moved = time.monotonic() - started
        stalls = {}
        if probe:
            answers = client.get_full_returns(probe, clients, timeout=probe_seconds + timeout)
            stalls = {c: (answers.get(c) or {}).get("ret") for c in clients}
    ret = {"from": holders[0] if holders else None, "to": to, "vip": vip, "moved_s": round(moved, 2)}
    if probe:
        ret["clients"] = stalls
        ret["stall_s"] = max(
            (s["longest_s"] for s in stalls.values() if isinstance(s, dict)), default=None
        )
    return ret


def _settings(client, server):
    """The cluster definition as ``server`` sees it (pillar over the defaults, its OS map)."""
    cluster = _call(client, server, "nfsha.settings", [])
    if server not in cluster["roles"]["servers"]:
        raise SaltInvocationError(
            f"nfsha.switchover: {server!r} is not an NFS server of the nfsha pillar"
            f" ({', '.join(cluster['roles']['servers'])})"
        )
    return cluster


def _vip_holders(client, servers, vip):
    answers = client.cmd(servers, "keepalived.holds_vip", [vip], tgt_type="list", timeout=30)
    return sorted(s for s, held in (answers or {}).items() if held is True)


def _serves(client, to, servers, vip, nfs_server):
    """Whether ``to`` alone holds the VIP, and runs nfs-server."""
    if _vip_holders(client, servers, vip) != [to]:
        return False
    return _call(client, to, "service.status", [nfs_server]) is True


def _call(client, minion, function, args):
    """One minion's answer; its failure as a CommandExecutionError."""
    answer = (client.cmd(minion, function, args, timeout=60, full_return=True) or {}).get(minion)
    if not answer or answer.get("retcode"):
        raise CommandExecutionError(
            f"nfsha.switchover: {function} on {minion}: {answer.get('ret') if answer else 'no answer'}"
        )
    return answer["ret"]


def summarize(node, answer):
    """One node's status from its answers to its role's queries (pure)."""
    role = node.get("role")
    # A node that did not answer in time comes back as the master's message
    # ("Minion did not return. [No response]..."), or as False.
    reachable = isinstance(answer, dict)
    found = {"role": role, "address": node.get("address"), "reachable": reachable}
    if not reachable:
        if isinstance(answer, str):
            found["errors"] = [answer.splitlines()[0]]
        return found
    results, errors = {}, []
    for key, function, _ in QUERIES.get(role, []):
        value = answer.get(function)
        # A missing module or a failed call comes back as a message.
        if isinstance(value, str):
            errors.append(f"{function}: {_error_message(value)}")
            value = None
        results[key] = value
    if role == "target":
        found["iscsi_sessions"] = results["tgt_sessions"]
    elif role == "server":
        instances = results["vrrp"] or {}
        instance = next(iter(instances.values()), {})
        found.update(
            vrrp_state=instance.get("state"),
            priority=instance.get("effective_priority"),
            holds_vip=results["holds_vip"],
            iscsi_sessions=[s["target"] for s in results["iscsi_sessions"] or []],
            ocfs2_mounts=_mounts(results["mounts"], "ocfs2"),
            nfs_server=None if results["nfs_server"] is None else (
                "running" if results["nfs_server"] else "stopped"
            ),
            exports=sorted(results["exports"] or {}),
        )
    elif role == "client":
        found["nfs_mounts"] = _mounts(results["mounts"], "nfs4")
    if errors:
        found["errors"] = errors
    return found


def _error_message(answer):
    """What a failed call says: in a compound call, a function that raised
    comes back as its whole traceback, whose last line has the message."""
    if not answer.startswith("Traceback (most recent call last):"):
        return answer
    last = answer.rstrip().splitlines()[-1]
    return re.sub(r"^[\w.]+: ", "", last)


def _mounts(active, fstype):
    """``{mount point: device}`` of the mounts of ``fstype`` in mount.active's answer."""
    return {
        point: mount.get("device")
        for point, mount in sorted((active or {}).items())
        if mount.get("fstype") == fstype
    }
