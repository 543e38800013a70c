"""
Keep tgt iSCSI targets as configured, live in tgtd and in their config file.

:depends: the ``tgt`` execution module of this project (package tgt)

.. code-block:: yaml

    nfsha-iscsi-target:
      tgt.target_present:
        - name: iqn.2018-08.es.raulpedroche:lun1
        - backing_stores: [/dev/sdb]
        - initiator_addresses: [10.252.50.11, 10.252.50.12]
        - incoming_users:
          - {username: nfs-iscsi-user, password: secret0-secret0}
        - outgoing_user: {username: debian-iscsi-target, password: s3cr3to-s3cr3to}

How changes are found: LUNs, ACL entries and account names are read from
tgtd. tgtadm never shows CHAP secrets, so a secret counts as changed when the
target's config file (written by this state, mode 0600) does not hold it for
that user: another secret, a new user, or no file yet. A secret changed in
tgtd by hand (tgtadm) is not seen; running ``tgt.set_account`` or removing the
config file makes the next run set it again.

Live changes never drop a session where tgt allows that: ACL entries and
accounts are bound and unbound one by one (tgt checks them at login only, so
initiators no longer allowed stay logged in until they log out), LUNs are
added next to logged-in sessions. Changing or removing a LUN that initiators
are using would swap the disk under them: the state refuses while sessions
exist and changes nothing.

The state owns the whole config file: it holds this one target.

A backing store that this node uses is never exported: a block device that
is mounted (or one of its partitions), swap, under LVM/device-mapper/MD, or
held open exclusively by another program, a file that is swap or backs a
loop device, and a path another target of tgtd serves. The state refuses,
naming the use, before changing anything.

Secrets: none reach the return, the comment or this module's logging. Salt's
state engine itself logs every item of a list argument at trace level
(``State.format_slots``), so give ``incoming_users`` secrets as slots to keep
them out of a trace log, e.g. ``password:
__slot__:salt:pillar.get(nfsha:iscsi:chap:password, unmask=True)``.
"""
import os

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "tgt"


def __virtual__():
    # Always load: the tgt package may be installed by an earlier state of the
    # same run, and test runs happen on machines where nothing is installed.
    return __virtualname__


def target_present(
    name,
    backing_stores,
    initiator_addresses=None,
    initiator_names=None,
    incoming_users=None,
    outgoing_user=None,
    config=None,
    call_timeout=None,
):
    """
    The target ``name`` (an IQN) exists with exactly these LUNs, ACL entries
    and CHAP accounts, live in tgtd and in its config file.

    backing_stores
        Device or file paths, LUN 1..n in this order. A path that is not
        served yet must exist and be unused on this node.
    initiator_addresses, initiator_names
        The ACL: addresses or networks (``ALL`` allows any), initiator names.
        tgt lets in an initiator that matches any entry.
    incoming_users
        List of ``{username, password}`` initiators log in with (CHAP).
    outgoing_user
        ``{username, password}`` the target answers mutual CHAP with, or None.
    config
        The config file, default ``/etc/tgt/conf.d/<name, ':' as '_'>.conf``.
    call_timeout
        Seconds each tgtadm call, and each lsblk or losetup call that checks
        a new backing store, may take (default 10): the state fails, naming
        the call, when it does not answer within.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    config = config or _default_config(name)
    incoming_users = incoming_users or []
    # Salt reloads modules after a pkg state changed something, so the
    # execution module is here once tgt was installed earlier in the run.
    if "tgt.targets" not in __salt__:
        return _unavailable(ret, "tgt is not installed yet", f"target {name} would be created")
    try:
        text = __salt__["tgt.render_target"](
            name, backing_stores, initiator_addresses, initiator_names, incoming_users, outgoing_user
        )
        on_file = __salt__["tgt.compare_config"](config, text)
    except (SaltInvocationError, CommandExecutionError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    try:
        served = __salt__["tgt.targets"](call_timeout)
        known = __salt__["tgt.accounts"](call_timeout)
    except SaltInvocationError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    except CommandExecutionError as exc:
        return _unavailable(
            ret, f"tgtd cannot be queried ({exc})", f"target {name} would be set up"
        )

    current = served.get(name)
    have = _live(current)
    want = {
        "luns": dict(enumerate(backing_stores, 1)),
        "acls": (initiator_addresses or []) + (initiator_names or []),
        "incoming": [user["username"] for user in incoming_users],
        "outgoing": outgoing_user["username"] if outgoing_user else None,
    }
    # Accounts whose secret must be (re)set live: tgtd lacks them, or the
    # config file does not hold the wanted secret.
    resets = [
        user
        for user in incoming_users + ([outgoing_user] if outgoing_user else [])
        if user["username"] not in known or user["username"] in on_file["changed_secrets"]
    ]
    changes = _changes(have, want, {user["username"] for user in resets}, on_file, config)
    if not changes:
        ret["comment"] = f"Target {name} is as configured"
        return ret

    refusal = _refusal(name, current, have["luns"], want["luns"])
    added = [path for lun, path in want["luns"].items() if have["luns"].get(lun) != path]
    missing = [path for path in added if not __salt__["file.access"](path, "f")]
    if refusal or missing:
        ret.update(
            result=False,
            comment=refusal or f"backing_stores: {', '.join(missing)} missing; nothing changed",
        )
        return ret
    try:
        in_use = {path: _users(name, path, served, call_timeout) for path in added}
    except (SaltInvocationError, CommandExecutionError) as exc:
        ret.update(result=False, comment=f"Target {name}: {exc}; nothing changed")
        return ret
    in_use = {path: users for path, users in in_use.items() if users}
    if in_use:
        ret.update(
            result=False,
            comment="backing_stores: "
            + "; ".join(f"{path} is in use on this node ({', '.join(use)})" for path, use in in_use.items())
            + "; nothing changed",
        )
        return ret
    action = "created" if current is None else "updated"
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment=f"Target {name} would be {action}")
        return ret

    notes = []
    try:
        _apply(name, current, have, want, resets, changes, ret["changes"], notes, call_timeout)
        if "config" in changes:
            __salt__["tgt.write_config"](config, text)
            ret["changes"]["config"] = changes["config"]
    except CommandExecutionError as exc:
        ret.update(result=False, comment=f"Target {name}: {exc}")
        return ret
    if current and current["sessions"]:
        notes.append(f"{len(current['sessions'])} session(s) stayed logged in")
        if any(_dropped(have, want, field) for field in ("acls", "incoming")):
            notes.append(
                "tgt checks ACLs and CHAP at login only: initiators no longer allowed "
                "stay until they log out"
            )
    ret["comment"] = "; ".join([f"Target {name} {action}", *notes])
    return ret


def target_absent(name, config=None, call_timeout=None):
    """
    The target ``name`` is not served by tgtd and its config file is gone.
    Refuses, and changes nothing, while initiators are logged in: they would
    lose their disks.

    config
        The config file, default ``/etc/tgt/conf.d/<name, ':' as '_'>.conf``.
    call_timeout
        As for ``target_present``.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    config = config or _default_config(name)
    current = None
    # Without tgt installed no tgtd serves the target: only the file matters.
    if "tgt.targets" in __salt__:
        try:
            current = __salt__["tgt.targets"](call_timeout).get(name)
        except SaltInvocationError as exc:
            ret.update(result=False, comment=str(exc))
            return ret
        except CommandExecutionError as exc:
            return _unavailable(
                ret, f"tgtd cannot be queried ({exc})", f"target {name} would be removed"
            )
    changes = {}
    if current:
        if current["sessions"]:
            ret.update(
                result=False,
                comment=f"Target {name} has logged-in sessions ({_who(current)}): "
                "log them out first; nothing changed",
            )
            return ret
        changes["target"] = {"old": name, "new": None}
    if __salt__["file.file_exists"](config):
        changes["config"] = {"path": config, "old": "present", "new": "removed"}
    if not changes:
        ret["comment"] = f"Target {name} is absent"
        return ret
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment=f"Target {name} would be removed")
        return ret
    try:
        if current:
            __salt__["tgt.delete_target"](name, call_timeout=call_timeout)
            ret["changes"]["target"] = changes["target"]
    except CommandExecutionError as exc:
        ret.update(result=False, comment=f"Target {name}: {exc}")
        return ret
    if "config" in changes:
        __salt__["file.remove"](config)
        ret["changes"]["config"] = changes["config"]
    ret["comment"] = f"Target {name} removed"
    return ret


def _default_config(name):
    return f"/etc/tgt/conf.d/{name.replace(':', '_')}.conf"


def _unavailable(ret, reason, action):
    if __opts__["test"]:
        ret.update(result=None, comment=f"{reason}; {action}")
    else:
        ret.update(result=False, comment=f"{reason}; cannot manage target {ret['name']}")
    return ret


def _live(current):
    """What tgtd serves for the target, in the shape the state compares."""
    if current is None:
        return {"luns": {}, "acls": [], "incoming": [], "outgoing": None}
    return {
        "luns": {lun["lun"]: lun["backing_store_path"] for lun in current["luns"] if lun["lun"]},
        "acls": current["acls"]["addresses"] + current["acls"]["names"],
        "incoming": current["accounts"]["incoming"],
        "outgoing": current["accounts"]["outgoing"],
    }


def _changes(have, want, resets, on_file, config):
    """The would-be changes, field by field; user names only, never secrets."""
    changes = {}
    if have["luns"] != want["luns"]:
        changes["luns"] = {"old": have["luns"], "new": want["luns"]}
    if set(have["acls"]) != set(want["acls"]):
        changes["acls"] = {"old": have["acls"], "new": want["acls"]}
    kept = sorted(set(have["incoming"]) & set(want["incoming"]) & resets)
    if set(have["incoming"]) != set(want["incoming"]) or kept:
        changes["incoming_users"] = {"old": have["incoming"], "new": want["incoming"]}
        if kept:
            changes["incoming_users"]["secret_changed"] = kept
    if have["outgoing"] != want["outgoing"] or want["outgoing"] in resets:
        changes["outgoing_user"] = {"old": have["outgoing"], "new": want["outgoing"]}
        if have["outgoing"] == want["outgoing"]:
            changes["outgoing_user"]["secret_changed"] = True
    if not on_file["current"]:
        changes["config"] = {
            "path": config,
            "old": "outdated" if on_file["exists"] else "missing",
            "new": "current",
        }
    return changes


def _users(name, path, served, call_timeout):
    """What uses ``path`` on this node: the system, or another target of tgtd."""
    real = os.path.realpath(path)
    return __salt__["tgt.backing_store_users"](path, call_timeout=call_timeout) + [
        f"LUN {lun['lun']} of target {iqn}"
        for iqn, target in served.items()
        if iqn != name
        for lun in target["luns"]
        if lun["backing_store_path"] and os.path.realpath(lun["backing_store_path"]) == real
    ]


def _refusal(name, current, have, want):
    """Why LUNs cannot change now: sessions use them. None when they can."""
    if not current or not current["sessions"]:
        return None
    touched = [
        f"LUN {lun} ({path} -> {want.get(lun, 'removed')})"
        for lun, path in sorted(have.items())
        if want.get(lun) != path
    ]
    if not touched:
        return None
    return (
        f"Target {name}: cannot change {', '.join(touched)} while initiators are logged in "
        f"({_who(current)}); log them out first. Nothing changed"
    )


def _who(current):
    return ", ".join(f"{s['initiator']} from {s['address']}" for s in current["sessions"])


def _dropped(have, want, field):
    return bool(set(have[field]) - set(want[field]))


def _apply(name, current, have, want, resets, changes, done, notes, call_timeout):
    """
    Make tgtd serve ``want``, field by field; ``done`` gets each field once
    it is applied. Order matters: a new target gets its ACL last (until then
    no initiator may log in), and incoming accounts are bound before others
    are unbound, since a target without one takes logins without CHAP.
    """
    def run(function, *args, **kwargs):
        return __salt__[f"tgt.{function}"](*args, call_timeout=call_timeout, **kwargs)

    if current is None:
        run("new_target", name)
    if "luns" in changes:
        for lun, path in sorted(have["luns"].items()):
            if want["luns"].get(lun) != path:
                run("delete_lun", name, lun)
        for lun, path in sorted(want["luns"].items()):
            if have["luns"].get(lun) != path:
                run("new_lun", name, lun, path)
        done["luns"] = changes["luns"]
    for user in resets:
        bound = run("set_account", user["username"], user["password"])
        shared = [iqn for iqn in bound if iqn != name]
        if shared:
            # tgtd accounts are global: one secret for every target.
            notes.append(
                f"account {user['username']} is shared with {', '.join(shared)}, "
                "which use the new secret too"
            )
    if "incoming_users" in changes:
        for username in want["incoming"]:
            if username not in have["incoming"]:
                run("bind_account", name, username)
        for username in have["incoming"]:
            if username not in want["incoming"]:
                run("unbind_account", name, username)
        done["incoming_users"] = changes["incoming_users"]
    if "outgoing_user" in changes:
        if have["outgoing"] != want["outgoing"]:
            if have["outgoing"]:
                run("unbind_account", name, have["outgoing"], outgoing=True)
            if want["outgoing"]:
                run("bind_account", name, want["outgoing"], outgoing=True)
        done["outgoing_user"] = changes["outgoing_user"]
    if "acls" in changes:
        for entry in want["acls"]:
            if entry not in have["acls"]:
                run("bind_initiator", name, entry)
        for entry in have["acls"]:
            if entry not in want["acls"]:
                run("unbind_initiator", name, entry)
        done["acls"] = changes["acls"]
