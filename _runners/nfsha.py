"""
The state of an nfsha cluster, seen from the master.

``salt-run nfsha.status`` asks every node of the ``nfsha`` pillar, in one
call each, what its role is about: the target's iSCSI sessions; each NFS
server's VRRP state, whether it holds the VIP, its iSCSI sessions, its OCFS2
mounts, nfs-server and its exports; each client's NFS mounts.

:depends: the nfsha formula's modules synced to the minions
          (``salt-run state.orchestrate nfsha`` does it)
"""
import salt.client

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


def summarize(node, answer):
    """One node's status from its answers to its role's queries (pure)."""
    role = node.get("role")
    found = {"role": role, "address": node.get("address"), "reachable": answer is not None}
    if answer is None:
        return found
    results, errors = {}, []
    for key, function, _ in QUERIES.get(role, []):
        value = answer.get(function)
        # A missing module or a failed call comes back as a message.
        if isinstance(value, str):
            errors.append(f"{function}: {value}")
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


def _mounts(active, fstype):
    """``{mount point: device}`` of the mounts of ``fstype`` in mount.active's answer."""
    return {
        point: mount.get("device")
        for point, mount in sorted((active or {}).items())
        if mount.get("fstype") == fstype
    }
