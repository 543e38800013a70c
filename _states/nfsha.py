"""
Cluster-wide checks of the nfsha orchestration.

``pillar_valid`` runs on every minion before anything changes;
``vip_held`` runs on the master (in the orchestration) and asks the NFS
servers which of them holds the virtual IP; ``service_on_master`` runs a
service (nfs-server) on the server whose keepalived is MASTER and stops it
on the others; ``mount_released`` unmounts a client's mount whose server address
is no longer the VIP's, while the old address still answers.

.. code-block:: yaml

    nfsha-validate-pillar:
      nfsha.pillar_valid: []

    nfsha-vip-held:
      nfsha.vip_held:
        - name: 192.168.56.10
        - nodes: [nfs1, nfs2]

    nfsha-nfs-service-on-master:
      nfsha.service_on_master:
        - name: nfs-server
        - instance: VI_1
        - watch:
          - file: /etc/nfs.conf.d/nfsha.conf

    nfsha-client-release-/data-released:
      nfsha.mount_released:
        - name: /data
        - device: 192.168.56.10:/data
"""

import time

from salt.exceptions import CommandExecutionError

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


def service_on_master(name, instance, reload=False):
    """
    Run the service ``name`` where this node's keepalived holds the VRRP
    ``instance`` as MASTER (and so the VIP), stop it everywhere else (no
    keepalived, BACKUP, FAULT), and never start it at boot: keepalived's
    notify script starts and stops it as the instance changes state, and
    this state agrees with it. A ``watch`` restarts the service where it
    runs (reloads it with ``reload: True``) and leaves it stopped elsewhere.

    name
        The service, e.g. ``nfs-server``.

    instance
        The VRRP instance, e.g. ``VI_1``.

    reload
        On a watch, reload instead of restart.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    vrrp = _vrrp_state(instance)
    master = vrrp == "MASTER"
    running = bool(__salt__["service.status"](name))
    enabled = bool(__salt__["service.enabled"](name))
    why = f"this node's {instance} is {vrrp or 'not running'}"
    changes = {}
    if running != master:
        changes["running"] = {"old": running, "new": master}
    if enabled:
        changes["enabled"] = {"old": True, "new": False}
    wanted = "running" if master else "stopped"
    if not changes:
        ret["comment"] = f"{name} is {wanted} and not started at boot: {why}"
        return ret
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment=f"{name} would be {wanted}: {why}")
        return ret
    actions = ["disable"] if enabled else []
    if running != master:
        actions.append("start" if master else "stop")
    for act in actions:
        try:
            done = __salt__[f"service.{act}"](name)
        except CommandExecutionError as exc:
            done, why = False, f"{why}: {exc}"
        if not done:
            return _failed(ret, f"Cannot {act} {name}: {why}")
    ret.update(changes=changes, comment=f"{name} is {wanted} and not started at boot: {why}")
    return ret


def mod_watch(name, sfun=None, reload=False, **kwargs):
    """
    ``service_on_master``'s watch: restart (or reload) the service where it
    runs.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    if sfun != "service_on_master":
        return _failed(ret, f"nfsha.{sfun} does not handle watch")
    if not __salt__["service.status"](name):
        ret["comment"] = f"{name} is not running here: nothing to {'reload' if reload else 'restart'}"
        return ret
    act = "reload" if reload else "restart"
    if __opts__["test"]:
        ret.update(result=None, comment=f"{name} would be {act}ed")
        return ret
    try:
        done = __salt__[f"service.{act}"](name)
    except CommandExecutionError as exc:
        return _failed(ret, f"Cannot {act} {name}: {exc}")
    if not done:
        return _failed(ret, f"Cannot {act} {name}")
    ret.update(changes={act: name}, comment=f"{name} {act}ed")
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
        return _failed(ret, f"Cannot unmount {name}: {out}")
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


def _vrrp_state(instance):
    """This node's state of the VRRP ``instance``; None without keepalived."""
    if "keepalived.state" not in __salt__:
        return None
    try:
        return __salt__["keepalived.state"](instance)
    except CommandExecutionError:
        return None


def _failed(ret, comment):
    ret.update(result=False, comment=comment)
    return ret
