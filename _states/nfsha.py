"""
Cluster-wide checks of the nfsha orchestration.

``pillar_valid`` runs on every minion before anything changes;
``vip_held`` runs on the master (in the orchestration) and asks the NFS
servers which of them holds the virtual IP; ``service_on_master`` runs a
service (nfs-server) on the server whose keepalived is MASTER and stops it
on the others; ``mount_released`` unmounts a client's mount whose server address
is no longer the VIP's, while the old address still answers; ``mounted``
mounts a client's NFS mount. Both bound mount and umount (``call_timeout``):
a server that does not answer fails the state instead of hanging it.

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
        - call_timeout: 150

    nfsha-client-/data-mounted:
      nfsha.mounted:
        - name: /data
        - device: 192.168.56.10:/data
        - fstype: nfs4
        - opts: [rw, hard, _netdev]
        - mkmnt: True
        - call_timeout: 150
"""

import os.path
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


def service_on_master(name, instance, reload=False, start_timeout=60):
    """
    Run the service ``name`` where this node's keepalived holds the VRRP
    ``instance`` as MASTER (and so the VIP), stop it where keepalived is
    BACKUP, FAULT or not running at all, and never start it at boot:
    keepalived's notify script starts and stops it as the instance changes
    state, and this state agrees with it. A VRRP state it cannot read (a
    keepalived that does not answer, or still in INIT after a few seconds)
    fails the state and leaves the service as it is. A ``watch`` restarts
    the service where it runs (reloads it with ``reload: True``) and leaves
    it stopped elsewhere.

    name
        The service, e.g. ``nfs-server``.

    instance
        The VRRP instance, e.g. ``VI_1``.

    reload
        On a watch, reload instead of restart.

    start_timeout
        Seconds a start (or restart) may take before the state fails: a
        start waits for the NFS service lock while another server's nfsd
        holds it.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    vrrp, why = _vrrp_state(instance)
    if vrrp is None:
        return _failed(ret, f"{name} left as it is: cannot read this node's VRRP state: {why}")
    master = vrrp == "MASTER"
    running = bool(__salt__["service.status"](name))
    enabled = bool(__salt__["service.enabled"](name))
    why = f"this node's {instance} is {why}"
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
        done, detail = _act(act, name, start_timeout)
        if not done:
            return _failed(ret, f"Cannot {act} {name}: {why}{detail}")
    ret.update(changes=changes, comment=f"{name} is {wanted} and not started at boot: {why}")
    return ret


def mod_watch(name, sfun=None, reload=False, start_timeout=60, **kwargs):
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
    done, detail = _act(act, name, start_timeout)
    if not done:
        return _failed(ret, f"Cannot {act} {name}{detail}")
    ret.update(changes={act: name}, comment=f"{name} {act}ed")
    return ret


def mount_released(name, device, call_timeout=None):
    """
    Unmount ``name`` when it is mounted from anything but ``device``, so that
    a mount after it mounts ``device`` there. Not mounted, or mounted from
    ``device``: nothing to do.

    The orchestration runs it on the clients before keepalived moves the VIP
    to a new address: the old address still answers, so the hard NFS mount
    unmounts cleanly, which it would not once the address is gone (umount
    would wait for the server). A mount in use, or an umount that outlasts
    ``call_timeout``, fails the state, and so stops the orchestration before
    the VIP moves. No second try.

    name
        The mount point.

    device
        What it should be mounted from, e.g. ``192.168.56.10:/data``.

    call_timeout
        Seconds umount may take (default: nfsha_mount's, 150).
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
    failure = _unmount(name, old, call_timeout)
    if failure:
        return _failed(ret, failure)
    ret.update(changes=changes, comment=f"{name} unmounted from {old}")
    return ret


def mounted(name, device, fstype, opts=None, mkmnt=False, call_timeout=None):
    """
    Mount ``device`` on ``name``, each mount and umount bounded by
    ``call_timeout``: a server that does not answer fails the state after
    that many seconds (no second try), where Salt's ``mount.mounted`` would
    wait for it for ever. Mounted from ``device``: nothing to do (options
    that differ take effect at the next mount: nfs(5), most NFS options
    cannot change on a remount). Mounted from anything else: unmounted
    first. ``mount.fstab_present`` keeps the fstab line.

    name
        The mount point.

    device
        What to mount, e.g. ``192.168.56.10:/data``.

    fstype
        Its file system type, e.g. ``nfs4``.

    opts
        Its mount options, a list.

    mkmnt
        Create the mount point when it is missing.

    call_timeout
        Seconds mount (and umount) may take (default: nfsha_mount's, 150).
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    # /proc/self/mounts only: the mount point itself is never looked at
    # while mounted (a stat waits for a server that does not answer).
    current = __salt__["mount.active"]().get(name)
    if current is not None and current["device"] == device:
        ret["comment"] = f"{name} is mounted from {device}"
        return ret
    old = current["device"] if current else None
    changes = {"mounted": {"old": old, "new": device}}
    if __opts__["test"]:
        first = f"unmounted from {old} and " if old else ""
        ret.update(result=None, changes=changes, comment=f"{name} would be {first}mounted from {device}")
        return ret
    if old:
        failure = _unmount(name, old, call_timeout)
        if failure:
            return _failed(ret, failure)
    if mkmnt and not os.path.isdir(name):
        __salt__["file.mkdir"](name)
    try:
        __salt__["nfsha_mount.mount"](name, device, fstype, opts, call_timeout=call_timeout)
    except CommandExecutionError as exc:
        if old:
            ret["changes"] = {"unmounted": {"old": old, "new": None}}
        return _failed(ret, f"Cannot mount {device} on {name}: {exc}")
    now = __salt__["mount.active"]().get(name)
    if now is None or now["device"] != device:
        # mount.nfs with bg: it went on trying in the background.
        return _failed(ret, f"mount exited 0 but {name} is not mounted from {device}")
    ret.update(changes=changes, comment=f"{name} mounted from {device}")
    return ret


def _unmount(name, device, call_timeout):
    """Unmount ``name`` (mounted from ``device``): None, or why it could not."""
    try:
        __salt__["nfsha_mount.umount"](name, call_timeout=call_timeout)
    except CommandExecutionError as exc:
        return f"Cannot unmount {name} from {device}: {exc}"
    return None


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


# keepalived's instance states in which this node does not hold the VIP.
_NOT_MASTER = ("BACKUP", "FAULT", "STOP", "DELETED")
# INIT lasts until keepalived's first advert interval after a (re)start.
_VRRP_SETTLE_S = 10


def _vrrp_state(instance):
    """
    This node's state of the VRRP ``instance`` (STOP without a running
    keepalived) and its description, or None and the reason it could not be
    read.
    """
    if "keepalived.state" not in __salt__:
        return "STOP", "not running (keepalived is not installed)"
    deadline = time.monotonic() + _VRRP_SETTLE_S
    while True:
        if not __salt__["keepalived.running"]():
            return "STOP", "not running (keepalived is stopped)"
        try:
            state = __salt__["keepalived.state"](instance)
        except CommandExecutionError as exc:
            state, why = None, str(exc)
        else:
            if state == "MASTER" or state in _NOT_MASTER:
                return state, state
            why = f"keepalived reports {instance} as {state}"
        if time.monotonic() >= deadline:
            return None, f"{why} (for {_VRRP_SETTLE_S} s)"
        time.sleep(1)


def _act(act, name, start_timeout):
    """
    Start, stop, restart, reload or disable ``name``: whether it was done,
    and what went wrong (``": <why>"``, or empty). A start or restart is
    queued and waited for ``start_timeout`` seconds at most, so a start that
    waits for a lock cannot hang the state run.
    """
    bounded = act in ("start", "restart")
    try:
        done = __salt__[f"service.{act}"](name, **({"no_block": True} if bounded else {}))
    except CommandExecutionError as exc:
        return False, f": {exc}"
    if done and bounded and not _active_within(name, start_timeout):
        return False, (
            f": not running {start_timeout} s later (its start waits for the NFS service lock"
            " while another server's nfsd holds it)"
        )
    return bool(done), ""


def _active_within(name, seconds):
    """Whether ``name`` is active, with no job of its left queued, within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        unit = __salt__["service.show"](name)
        if unit.get("ActiveState") == "active" and not unit.get("Job"):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(1)


def _failed(ret, comment):
    ret.update(result=False, comment=comment)
    return ret
