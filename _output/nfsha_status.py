"""
The table that ``salt-run nfsha.status`` prints when no ``--out`` is given:
the VIP and its holders, then one row per node, then what could not be read.

.. code-block:: text

    VIP 192.168.56.10: held by nfs1

    NODE    ROLE    ADDRESS        UP   VRRP    PRIO  VIP  ISCSI       OCFS2 MOUNTS                  NFS-SERVER  EXPORTS / NFS MOUNTS
    client  client  192.168.56.30  yes  -       -     -    -           -                             -           /data from 192.168.56.10:/data
    iscsi   target  192.168.56.20  yes  -       -     -    nfs1, nfs2  -                             -           -
    nfs1    server  192.168.56.11  yes  MASTER  101   yes  logged in   /srv/nfs4/data, /var/lib/nfs  running     /srv/nfs4, /srv/nfs4/data
    nfs2    server  192.168.56.12  yes  BACKUP  100   no   logged in   /srv/nfs4/data, /var/lib/nfs  running     /srv/nfs4, /srv/nfs4/data
"""

__virtualname__ = "nfsha_status"

COLUMNS = (
    "NODE", "ROLE", "ADDRESS", "UP", "VRRP", "PRIO", "VIP", "ISCSI",
    "OCFS2 MOUNTS", "NFS-SERVER", "EXPORTS / NFS MOUNTS",
)


def __virtual__():
    return __virtualname__


def output(data, **kwargs):  # pylint: disable=unused-argument
    """Render nfsha.status's answer as a table."""
    nodes = data.get("nodes") or {}
    by_address = {node.get("address"): node_id for node_id, node in nodes.items()}
    lines = [_vip_line(data.get("vip"), data.get("vip_holders") or []), ""]
    rows = [COLUMNS] + [_row(i, nodes[i], by_address) for i in sorted(nodes)]
    widths = [max(len(row[c]) for row in rows) for c in range(len(COLUMNS))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    errors = [f"  {i}: {e}" for i in sorted(nodes) for e in nodes[i].get("errors", [])]
    if errors:
        lines += ["", "Could not read:"] + errors
    return "\n".join(lines)


def _vip_line(vip, holders):
    if len(holders) == 1:
        return f"VIP {vip}: held by {holders[0]}"
    if not holders:
        return f"VIP {vip}: held by NO node"
    return f"VIP {vip}: held by {', '.join(holders)}: SPLIT BRAIN"


def _row(node_id, node, by_address):
    role = node.get("role")
    cells = dict.fromkeys(COLUMNS, "-")
    cells.update(NODE=node_id, ROLE=str(role), ADDRESS=str(node.get("address")))
    cells["UP"] = "yes" if node.get("reachable") else "NO ANSWER"
    if not node.get("reachable"):
        return tuple(cells[c] for c in COLUMNS)
    if role == "server":
        cells.update({
            "VRRP": _text(node.get("vrrp_state")),
            "PRIO": _text(node.get("priority")),
            "VIP": _yes_no(node.get("holds_vip")),
            "ISCSI": "logged in" if node.get("iscsi_sessions") else "NOT logged in",
            "OCFS2 MOUNTS": ", ".join(node.get("ocfs2_mounts") or {}) or "none",
            "NFS-SERVER": _text(node.get("nfs_server")),
            "EXPORTS / NFS MOUNTS": ", ".join(node.get("exports") or []) or "none",
        })
    elif role == "target":
        sessions = node.get("iscsi_sessions")
        if sessions is not None:
            initiators = [by_address.get(s.get("address"), s.get("address")) for s in sessions]
            cells["ISCSI"] = ", ".join(sorted(initiators)) or "no session"
    elif role == "client":
        mounts = node.get("nfs_mounts") or {}
        cells["EXPORTS / NFS MOUNTS"] = (
            ", ".join(f"{point} from {device}" for point, device in mounts.items()) or "none"
        )
    return tuple(cells[c] for c in COLUMNS)


def _yes_no(value):
    return "?" if value is None else ("yes" if value else "no")


def _text(value):
    return "?" if value is None else str(value)
