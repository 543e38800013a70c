"""
Cluster-wide checks of the nfsha orchestration.

``pillar_valid`` runs on every minion before anything changes;
``vip_held`` runs on the master (in the orchestration) and asks the NFS
servers which of them holds the virtual IP; ``mount_released`` unmounts a
client's mount whose server address is no longer the VIP's, while the old
address still answers.

.. code-block:: yaml

    nfsha-validate-pillar:
      nfsha.pillar_valid: []

    nfsha-vip-held:
      nfsha.vip_held:
        - name: 192.168.56.10
        - nodes: [nfs1, nfs2]

    nfsha-client-release-/data-released:
      nfsha.mount_released:
        - name: /data
        - device: 192.168.56.10:/data
"""

import time

__virtualname__ = "nfsha"


def __virtual__():
    return __virtualname__


def pillar_valid(name):
    """
    Fail, listing every problem, when this minion's nfsha pillar is invalid.
    Changes nothing, so it runs the same under test=True.

    name
        Any name; it only identifies the state.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    problems = __salt__["nfsha.validate"]()
    if problems:
        ret["result"] = False
        ret["comment"] = "Invalid nfsha pillar:\n" + "\n".join(problems)
    else:
        ret["comment"] = "The nfsha pillar is valid"
    return ret


def vip_held(name, nodes, timeout=60, interval=1):
    """
    Wait until exactly one of ``nodes`` holds the virtual IP ``name``; fail
    with the holders seen last (none, or more than one: a split brain) after
    ``timeout`` seconds. Run it on the master, in an orchestration: it asks
    the nodes with ``keepalived.holds_vip``.

    name
        The virtual IP address.

    nodes
        The minion ids that may hold it.

    timeout
        Seconds to wait for exactly one holder.

    interval
        Seconds between two rounds of questions.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    if __opts__["test"]:
        ret["result"] = None
        ret["comment"] = f"Would check that exactly one of {', '.join(nodes)} holds {name}"
        return ret
    deadline = time.monotonic() + timeout
    while True:
        holders, silent = _holders(name, nodes)
        if len(holders) == 1 and not silent:
            ret["comment"] = f"{name} is held by {holders[0]} only"
            return ret
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    ret["result"] = False
    if silent:
        ret["comment"] = f"No answer from {', '.join(silent)} after {timeout} s; "
    if holders:
        ret["comment"] += f"{name} is held by {', '.join(holders)}"
    else:
        ret["comment"] += f"{name} is held by none of {', '.join(nodes)}"
    return ret


def mount_released(name, device):
    """
    Unmount ``name`` when it is mounted from anything but ``device``, so that
    a ``mount.mounted`` after it mounts ``device`` there. Not mounted, or
    mounted from ``device``: nothing to do.

    The orchestration runs it on the clients before keepalived moves the VIP
    to a new address: the old address still answers, so the hard NFS mount
    unmounts cleanly, which it would not once the address is gone (umount
    would wait for the server for ever). A mount in use fails the state, and
    so stops the orchestration before the VIP moves.

    name
        The mount point.

    device
        What it should be mounted from, e.g. ``192.168.56.10:/data``.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    mounted = __salt__["mount.active"]().get(name)
    if mounted is None:
        ret["comment"] = f"{name} is not mounted"
        return ret
    if mounted["device"] == device:
        ret["comment"] = f"{name} is mounted from {device}"
        return ret
    old = mounted["device"]
    changes = {"unmounted": {"old": old, "new": None}}
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment=f"{name} would be unmounted from {old}")
        return ret
    out = __salt__["mount.umount"](name)
    if out is not True:
        ret.update(result=False, comment=f"Cannot unmount {name}: {out}")
        return ret
    ret.update(changes=changes, comment=f"{name} unmounted from {old}")
    return ret


def _holders(address, nodes):
    """The nodes that hold ``address``, and the nodes that did not answer."""
    answers = __salt__["saltutil.cmd"](
        tgt=list(nodes), tgt_type="list", fun="keepalived.holds_vip", arg=[address], timeout=10
    )
    holders = sorted(
        n for n, a in answers.items() if a.get("retcode") == 0 and a.get("ret") is True
    )
    silent = sorted(n for n in nodes if n not in answers or answers[n].get("retcode"))
    return holders, silent
