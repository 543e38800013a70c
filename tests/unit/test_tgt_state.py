"""
Unit tests of the tgt state module: what it decides and the order of the
execution-module calls it makes, against an in-memory tgtd that starts from
recorded ``tgtadm --op show`` outputs. Rendering and the config file use the
execution module's real (pure) functions on a temporary directory.
"""
import copy
import os
import stat

import pytest
from salt.exceptions import CommandExecutionError

from tests.conftest import load_salt_module, recorded, timed_out

tgt = load_salt_module("_states", "tgt")
tgt_mod = load_salt_module("_modules", "tgt")

IQN = "iqn.2018-08.es.raulpedroche:lun1"
OTHER = "iqn.2018-08.es.raulpedroche:lun2"
DISK1 = "/srv/lab/tgt/disk1.img"
IN_USER = {"username": "nfs-iscsi-user", "password": "secret0-secret0"}
OUT_USER = {"username": "debian-iscsi-target", "password": "s3cr3to-s3cr3to"}
SECRETS = ("secret0-secret0", "s3cr3to-s3cr3to", "n3w-secret-0001", "nfs2-secret-02")


class FakeTgtd:
    """tgtd as the tgt execution module shows it, changed only through its functions."""

    def __init__(self, show=""):
        self.served = tgt_mod._parse_show(show)
        self.known = {user for t in self.served.values()
                      for user in t["accounts"]["incoming"] + [t["accounts"]["outgoing"]] if user}
        self.devices = {DISK1, "/dev/sdb", "/dev/sdc"}
        # What the node itself does with a path (tgt.backing_store_users).
        self.users = {}
        self.checked = []
        self.calls = []
        # The call_timeout of every call, in order.
        self.timeouts = []
        self.down = False
        self.failing = None

    def functions(self):
        return {
            "tgt.targets": self.targets,
            "tgt.accounts": self.accounts,
            "tgt.render_target": tgt_mod.render_target,
            "tgt.compare_config": tgt_mod.compare_config,
            "tgt.write_config": self.change("write_config", tgt_mod.write_config),
            "tgt.new_target": self.change("new_target", self._new_target),
            "tgt.delete_target": self.change("delete_target", self.served.pop),
            "tgt.new_lun": self.change("new_lun", self._new_lun),
            "tgt.delete_lun": self.change("delete_lun", self._delete_lun),
            "tgt.bind_initiator": self.change("bind_initiator", self._bind_initiator),
            "tgt.unbind_initiator": self.change("unbind_initiator", self._unbind_initiator),
            "tgt.set_account": self.change("set_account", self._set_account),
            "tgt.bind_account": self.change("bind_account", self._bind_account),
            "tgt.unbind_account": self.change("unbind_account", self._unbind_account),
            "tgt.backing_store_users": self.backing_store_users,
            "file.access": lambda path, mode: path in self.devices,
            "file.file_exists": os.path.isfile,
            "file.remove": self.change("file.remove", os.remove),
        }

    def change(self, name, func):
        def call(*args, **kwargs):
            if "call_timeout" in kwargs:
                self.timeouts.append(kwargs.pop("call_timeout"))
            self.calls.append((name, *args, *kwargs.values()))
            if self.failing == name:
                raise CommandExecutionError(f"tgtadm: {name} failed")
            return func(*args, **kwargs)
        return call

    def backing_store_users(self, path, call_timeout):
        self.checked.append(path)
        self.timeouts.append(call_timeout)
        if isinstance(self.users.get(path), Exception):
            raise self.users[path]
        return list(self.users.get(path, []))

    def targets(self, call_timeout):
        self.timeouts.append(call_timeout)
        if self.down:
            raise CommandExecutionError(recorded("tgt/tgtadm-no-daemon.stderr").strip())
        return copy.deepcopy(self.served)

    def accounts(self, call_timeout):
        self.timeouts.append(call_timeout)
        return sorted(self.known)

    def _new_target(self, name):
        self.served[name] = {"tid": len(self.served) + 1, "state": "ready", "luns": [],
                             "accounts": {"incoming": [], "outgoing": None},
                             "acls": {"addresses": [], "names": []}, "sessions": []}

    def _new_lun(self, name, lun, path):
        self.served[name]["luns"].append({"lun": lun, "backing_store_path": path})

    def _delete_lun(self, name, lun):
        self.served[name]["luns"] = [x for x in self.served[name]["luns"] if x["lun"] != lun]

    def _acl(self, name, entry):
        return self.served[name]["acls"]["names" if entry.startswith("iqn.") else "addresses"]

    def _bind_initiator(self, name, entry):
        self._acl(name, entry).append(entry)

    def _unbind_initiator(self, name, entry):
        self._acl(name, entry).remove(entry)

    def _set_account(self, username, password):
        self.known.add(username)
        return sorted(iqn for iqn, t in self.served.items()
                      if username in t["accounts"]["incoming"] + [t["accounts"]["outgoing"]])

    def _bind_account(self, name, username, outgoing=False):
        accounts = self.served[name]["accounts"]
        if outgoing:
            accounts["outgoing"] = username
        else:
            accounts["incoming"].append(username)

    def _unbind_account(self, name, username, outgoing=False):
        accounts = self.served[name]["accounts"]
        if outgoing:
            accounts["outgoing"] = None
        else:
            accounts["incoming"].remove(username)


@pytest.fixture
def tgtd():
    return FakeTgtd()


@pytest.fixture
def opts():
    return {"test": False}


@pytest.fixture
def configure_loader_modules(tgtd, opts):
    return {tgt: {"__salt__": tgtd.functions(), "__opts__": opts}}


@pytest.fixture
def config(tmp_path):
    return str(tmp_path / "lun1.conf")


def present(config, **overrides):
    args = {
        "name": IQN,
        "backing_stores": [DISK1],
        "initiator_addresses": ["10.252.50.11", "10.252.50.12"],
        "incoming_users": [IN_USER],
        "outgoing_user": OUT_USER,
        "config": config,
    }
    return tgt.target_present(**{**args, **overrides})


def converge(tgtd, config, show, **overrides):
    """Start from a recorded tgtd whose config file this state already wrote."""
    tgtd.served.update(tgt_mod._parse_show(recorded(show)))
    tgtd.known.update(["nfs-iscsi-user", "debian-iscsi-target"])
    tgt_mod.write_config(config, tgt_mod.render_target(
        IQN, [DISK1], ["10.252.50.11", "10.252.50.12"], None, [IN_USER], OUT_USER))
    return present(config, **overrides)


def assert_no_secret(ret):
    for secret in SECRETS:
        assert secret not in str(ret)


FIRST_RUN = {
    "luns": {"old": {}, "new": {1: DISK1}},
    "acls": {"old": [], "new": ["10.252.50.11", "10.252.50.12"]},
    "incoming_users": {"old": [], "new": ["nfs-iscsi-user"]},
    "outgoing_user": {"old": None, "new": "debian-iscsi-target"},
}


def test_virtual_loads_without_tgt_installed():
    assert tgt.__virtual__() == "tgt"


# --- target_present -------------------------------------------------------------


def test_present_creates_the_target_with_its_acl_last(tgtd, config):
    ret = present(config)
    assert ret["result"] is True
    assert ret["comment"] == f"Target {IQN} created"
    assert ret["changes"] == {**FIRST_RUN, "config": {"path": config, "old": "missing", "new": "current"}}
    assert [call[0] for call in tgtd.calls] == [
        "new_target", "new_lun", "set_account", "set_account", "bind_account",
        "bind_account", "bind_initiator", "bind_initiator", "write_config",
    ]
    assert ("set_account", "nfs-iscsi-user", "secret0-secret0") in tgtd.calls
    assert ("bind_account", IQN, "debian-iscsi-target", True) in tgtd.calls
    assert tgt_mod.compare_config(config, tgt_mod.render_target(
        IQN, [DISK1], ["10.252.50.11", "10.252.50.12"], None, [IN_USER], OUT_USER))["current"]
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600
    assert_no_secret(ret)


def test_present_second_run_changes_nothing(tgtd, config):
    present(config)
    done = list(tgtd.calls)
    ret = present(config)
    assert ret == {"name": IQN, "changes": {}, "result": True, "comment": f"Target {IQN} is as configured"}
    assert tgtd.calls == done


def test_present_test_mode_reports_and_touches_nothing(tgtd, opts, config):
    opts["test"] = True
    ret = present(config)
    assert ret["result"] is None
    assert ret["comment"] == f"Target {IQN} would be created"
    assert ret["changes"] == {**FIRST_RUN, "config": {"path": config, "old": "missing", "new": "current"}}
    assert tgtd.calls == []
    assert not os.path.exists(config)
    assert_no_secret(ret)


def test_present_default_config_path_replaces_colons(tgtd, opts):
    opts["test"] = True
    ret = present(None)
    assert ret["changes"]["config"]["path"] == "/etc/tgt/conf.d/iqn.2018-08.es.raulpedroche_lun1.conf"


def test_present_sets_secrets_a_config_file_does_not_hold(tgtd, config):
    # Live target as recorded, but no config file: the secrets are unknown.
    tgtd.served.update(tgt_mod._parse_show(recorded("tgt/tgtadm-show.txt")))
    tgtd.known.update(["nfs-iscsi-user", "debian-iscsi-target"])
    ret = present(config)
    assert ret["changes"] == {
        "incoming_users": {"old": ["nfs-iscsi-user"], "new": ["nfs-iscsi-user"],
                           "secret_changed": ["nfs-iscsi-user"]},
        "outgoing_user": {"old": "debian-iscsi-target", "new": "debian-iscsi-target",
                          "secret_changed": True},
        "config": {"path": config, "old": "missing", "new": "current"},
    }
    assert [call[:2] for call in tgtd.calls] == [
        ("set_account", "nfs-iscsi-user"), ("set_account", "debian-iscsi-target"), ("write_config", config),
    ]
    assert_no_secret(ret)


def test_present_changed_secret_only_resets_that_account(tgtd, config):
    assert converge(tgtd, config, "tgt/tgtadm-show.txt")["changes"] == {}
    ret = present(config, incoming_users=[{"username": "nfs-iscsi-user", "password": "n3w-secret-0001"}])
    assert ret["changes"] == {
        "incoming_users": {"old": ["nfs-iscsi-user"], "new": ["nfs-iscsi-user"],
                           "secret_changed": ["nfs-iscsi-user"]},
        "config": {"path": config, "old": "outdated", "new": "current"},
    }
    assert [call[0] for call in tgtd.calls] == ["set_account", "write_config"]
    assert tgtd.calls[0] == ("set_account", "nfs-iscsi-user", "n3w-secret-0001")
    assert_no_secret(ret)


def test_present_rewrites_a_config_file_with_a_loose_mode(tgtd, config):
    converge(tgtd, config, "tgt/tgtadm-show.txt")
    os.chmod(config, 0o644)
    ret = present(config)
    assert ret["changes"] == {"config": {"path": config, "old": "outdated", "new": "current"}}
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600


def test_present_changes_acl_and_accounts_next_to_a_session(tgtd, config):
    converge(tgtd, config, "tgt/tgtadm-show-with-session.txt")
    ret = present(config, initiator_addresses=["10.252.50.11", "10.252.50.13"],
                  incoming_users=[{"username": "nfs2-user", "password": "nfs2-secret-02"}])
    assert ret["result"] is True
    assert ret["changes"]["acls"] == {"old": ["10.252.50.11", "10.252.50.12"],
                                      "new": ["10.252.50.11", "10.252.50.13"]}
    assert ret["changes"]["incoming_users"] == {"old": ["nfs-iscsi-user"], "new": ["nfs2-user"]}
    # The new account is bound before the old one goes: CHAP stays required.
    assert [call[:3] for call in tgtd.calls[:-1]] == [
        ("set_account", "nfs2-user", "nfs2-secret-02"),
        ("bind_account", IQN, "nfs2-user"),
        ("unbind_account", IQN, "nfs-iscsi-user"),
        ("bind_initiator", IQN, "10.252.50.13"),
        ("unbind_initiator", IQN, "10.252.50.12"),
    ]
    assert "1 session(s) stayed logged in" in ret["comment"]
    assert "stay until they log out" in ret["comment"]
    assert_no_secret(ret)


def test_present_adds_a_lun_next_to_a_session(tgtd, config):
    converge(tgtd, config, "tgt/tgtadm-show-with-session.txt")
    ret = present(config, backing_stores=[DISK1, "/dev/sdb"])
    assert ret["changes"]["luns"] == {"old": {1: DISK1}, "new": {1: DISK1, 2: "/dev/sdb"}}
    assert tgtd.calls[0] == ("new_lun", IQN, 2, "/dev/sdb")
    assert "1 session(s) stayed logged in" in ret["comment"]
    assert "log out" not in ret["comment"]


@pytest.mark.parametrize("test_mode", [False, True])
def test_present_refuses_to_swap_a_lun_under_a_session(tgtd, opts, config, test_mode):
    converge(tgtd, config, "tgt/tgtadm-show-with-session.txt")
    before = open(config).read()
    opts["test"] = test_mode
    ret = present(config, backing_stores=["/dev/sdc"], initiator_addresses=["10.252.50.11"])
    assert ret["result"] is False
    assert ret["changes"] == {}
    assert ret["comment"] == (
        f"Target {IQN}: cannot change LUN 1 ({DISK1} -> /dev/sdc) while initiators are logged in "
        "(iqn.2008-11.org.linux-kvm from 10.252.50.11); log them out first. Nothing changed"
    )
    assert tgtd.calls == []
    assert open(config).read() == before


def test_present_swaps_and_removes_luns_without_sessions(tgtd, config):
    converge(tgtd, config, "tgt/tgtadm-show.txt", backing_stores=[DISK1, "/dev/sdb"])
    tgtd.calls.clear()
    ret = present(config, backing_stores=["/dev/sdc"])
    assert ret["changes"]["luns"] == {"old": {1: DISK1, 2: "/dev/sdb"}, "new": {1: "/dev/sdc"}}
    assert tgtd.calls[:3] == [("delete_lun", IQN, 1), ("delete_lun", IQN, 2), ("new_lun", IQN, 1, "/dev/sdc")]


def test_present_refuses_a_missing_backing_store_before_any_change(tgtd, config):
    ret = present(config, backing_stores=[DISK1, "/dev/sdx"])
    assert ret == {"name": IQN, "changes": {}, "result": False,
                   "comment": "backing_stores: /dev/sdx missing; nothing changed"}
    assert tgtd.calls == []


@pytest.mark.parametrize("test_mode", [False, True])
def test_present_refuses_a_backing_store_in_use_before_any_change(tgtd, opts, config, test_mode):
    opts["test"] = test_mode
    tgtd.users["/dev/sdb"] = ["/dev/sdb1 is mounted at /srv/data", "/dev/sdb2 is swap"]
    ret = present(config, backing_stores=[DISK1, "/dev/sdb"])
    assert ret == {
        "name": IQN,
        "changes": {},
        "result": False,
        "comment": "backing_stores: /dev/sdb is in use on this node (/dev/sdb1 is mounted at"
        " /srv/data, /dev/sdb2 is swap); nothing changed",
    }
    assert tgtd.calls == [] and not os.path.exists(config)


def test_present_refuses_a_backing_store_another_target_serves(tgtd, config):
    tgtd.served.update(tgt_mod._parse_show(recorded("tgt/tgtadm-show-2targets.txt")))
    other_lun = tgtd.served[OTHER]["luns"][1]["backing_store_path"]
    tgtd.devices.add(other_lun)
    ret = present(config, name="iqn.2018-08.es.raulpedroche:lun3", backing_stores=[other_lun])
    assert ret["result"] is False
    assert ret["comment"] == (
        f"backing_stores: {other_lun} is in use on this node (LUN 1 of target {OTHER}); nothing changed"
    )
    assert tgtd.calls == []


def test_present_checks_only_the_backing_stores_it_adds(tgtd, config):
    # A LUN already served stays, whatever uses its path (tgtd itself does).
    converge(tgtd, config, "tgt/tgtadm-show.txt")
    tgtd.users[DISK1] = [f"{DISK1} is a loop device over it"]
    tgtd.calls.clear()
    assert present(config)["changes"] == {}
    ret = present(config, backing_stores=[DISK1, "/dev/sdb"])
    assert ret["result"] is True and ret["changes"]["luns"]["new"] == {1: DISK1, 2: "/dev/sdb"}


def test_present_fails_when_it_cannot_tell_what_uses_a_backing_store(tgtd, config):
    tgtd.users["/dev/sdb"] = CommandExecutionError("tgt: cannot open /dev/sdb: Permission denied")
    ret = present(config, backing_stores=["/dev/sdb"])
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"] == f"Target {IQN}: tgt: cannot open /dev/sdb: Permission denied; nothing changed"
    assert tgtd.calls == []


def test_present_moves_and_drops_the_outgoing_user(tgtd, config):
    converge(tgtd, config, "tgt/tgtadm-show.txt")
    present(config, outgoing_user={"username": "target2-user", "password": "n3w-secret-0001"})
    assert [call[:4] for call in tgtd.calls[:-1]] == [
        ("set_account", "target2-user", "n3w-secret-0001"),
        ("unbind_account", IQN, "debian-iscsi-target", True),
        ("bind_account", IQN, "target2-user", True),
    ]
    tgtd.calls.clear()
    ret = present(config, outgoing_user=None)
    assert ret["changes"]["outgoing_user"] == {"old": "target2-user", "new": None}
    assert tgtd.calls[0] == ("unbind_account", IQN, "target2-user", True)


def test_present_says_when_a_new_secret_reaches_other_targets(tgtd, config):
    converge(tgtd, config, "tgt/tgtadm-show-2targets.txt")
    ret = present(config, incoming_users=[{"username": "nfs-iscsi-user", "password": "n3w-secret-0001"}])
    assert f"account nfs-iscsi-user is shared with {OTHER}" in ret["comment"]


def test_present_failure_reports_the_fields_already_applied(tgtd, config):
    tgtd.failing = "bind_initiator"
    ret = present(config)
    assert ret["result"] is False
    assert ret["comment"] == f"Target {IQN}: tgtadm: bind_initiator failed"
    assert set(ret["changes"]) == {"luns", "incoming_users", "outgoing_user"}
    assert not os.path.exists(config)


@pytest.mark.parametrize("overrides, message", [
    ({"name": "lun1"}, "name: 'lun1' is not an iSCSI name"),
    ({"backing_stores": []}, "backing_stores: give a list"),
    ({"initiator_addresses": []}, "initiator_addresses, initiator_names: give at least one"),
    ({"incoming_users": [{"username": "nfs-iscsi-user", "password": "has space"}]},
     "incoming_users[0].password: "),
    ({"config": "lun1.conf"}, "config: 'lun1.conf' is not an absolute path"),
])
@pytest.mark.parametrize("test_mode", [False, True])
def test_present_bad_arguments_fail_before_anything(tgtd, opts, config, overrides, message, test_mode):
    opts["test"] = test_mode
    ret = present(**{"config": config, **overrides})
    assert ret["result"] is False
    assert ret["comment"].startswith(message)
    assert "has space" not in ret["comment"]
    assert tgtd.calls == []


@pytest.mark.parametrize("test_mode, result, comment", [
    (True, None, f"tgt is not installed yet; target {IQN} would be created"),
    (False, False, f"tgt is not installed yet; cannot manage target {IQN}"),
])
def test_present_without_tgt_installed(opts, config, test_mode, result, comment):
    opts["test"] = test_mode
    del tgt.__salt__["tgt.targets"]
    assert present(config) == {"name": IQN, "changes": {}, "result": result, "comment": comment}


@pytest.mark.parametrize("test_mode, result, ending", [
    (True, None, f"target {IQN} would be set up"),
    (False, False, f"cannot manage target {IQN}"),
])
def test_present_with_tgtd_down(tgtd, opts, config, test_mode, result, ending):
    opts["test"] = test_mode
    tgtd.down = True
    ret = present(config)
    assert ret["result"] is result
    assert ret["comment"].startswith("tgtd cannot be queried (tgtadm: failed to send request")
    assert ret["comment"].endswith(ending)
    assert tgtd.calls == []


def test_present_bounds_every_tgtadm_call_with_call_timeout(tgtd, config):
    assert present(config, call_timeout=4)["result"] is True
    # targets and accounts, the in-use check of each new backing store (its
    # lsblk or losetup), then every change but the config file.
    assert tgtd.checked
    assert tgtd.timeouts == [4] * (2 + len(tgtd.checked) + len(tgtd.calls) - 1)


@pytest.mark.parametrize("test_mode", [False, True])
def test_present_with_a_hung_tgtd_fails_naming_the_call_and_its_bound(tgtd, opts, config, test_mode):
    # The execution module itself, on what cmd.run_all answers for a tgtadm
    # it killed after 4 s.
    def run_all(cmd, timeout, **kwargs):
        return timed_out(cmd, timeout)

    tgt.__salt__.update({"tgt.targets": tgt_mod.targets, "tgt.accounts": tgt_mod.accounts})
    tgt_mod.__salt__ = {"cmd.run_all": run_all}
    try:
        opts["test"] = test_mode
        ret = present(config, call_timeout=4)
    finally:
        del tgt_mod.__salt__
    hung = "tgtd cannot be queried (tgtadm --mode target --op show did not answer within 4 s (hung tgtd?))"
    if test_mode:
        # As when tgtd does not run yet: the plan says what it would do.
        assert (ret["result"], ret["comment"]) == (None, f"{hung}; target {IQN} would be set up")
    else:
        assert (ret["result"], ret["comment"]) == (False, f"{hung}; cannot manage target {IQN}")
    assert ret["changes"] == {} and tgtd.calls == []


@pytest.mark.parametrize("call_timeout", [0, "10"])
def test_present_refuses_a_call_timeout_that_is_no_bound(tgtd, config, call_timeout):
    tgt.__salt__["tgt.targets"] = tgt_mod.targets
    ret = present(config, call_timeout=call_timeout)
    assert ret["result"] is False
    assert ret["comment"] == f"call_timeout: {call_timeout!r} is not a number of seconds above 0"
    assert tgtd.calls == []


# --- target_absent ---------------------------------------------------------------


def test_absent_removes_target_and_config_then_has_nothing_to_do(tgtd, opts, config):
    converge(tgtd, config, "tgt/tgtadm-show.txt")
    tgtd.calls.clear()
    removal = {"target": {"old": IQN, "new": None},
               "config": {"path": config, "old": "present", "new": "removed"}}
    opts["test"] = True
    assert tgt.target_absent(IQN, config=config) == {
        "name": IQN, "changes": removal, "result": None, "comment": f"Target {IQN} would be removed"}
    assert tgtd.calls == [] and os.path.exists(config)
    opts["test"] = False
    assert tgt.target_absent(IQN, config=config) == {
        "name": IQN, "changes": removal, "result": True, "comment": f"Target {IQN} removed"}
    assert tgtd.calls == [("delete_target", IQN), ("file.remove", config)]
    assert not os.path.exists(config)
    assert tgt.target_absent(IQN, config=config) == {
        "name": IQN, "changes": {}, "result": True, "comment": f"Target {IQN} is absent"}


def test_absent_refuses_while_initiators_are_logged_in(tgtd, config):
    converge(tgtd, config, "tgt/tgtadm-show-with-session.txt")
    tgtd.calls.clear()
    ret = tgt.target_absent(IQN, config=config)
    assert ret["result"] is False
    assert ret["comment"] == (f"Target {IQN} has logged-in sessions (iqn.2008-11.org.linux-kvm from "
                              "10.252.50.11): log them out first; nothing changed")
    assert tgtd.calls == [] and os.path.exists(config)


def test_absent_without_tgt_installed_still_removes_the_config_file(tgtd, config):
    del tgt.__salt__["tgt.targets"]
    tgt_mod.write_config(config, "<target x>\n</target>\n")
    ret = tgt.target_absent(IQN, config=config)
    assert ret["changes"] == {"config": {"path": config, "old": "present", "new": "removed"}}
    assert not os.path.exists(config)


@pytest.mark.parametrize("test_mode, result", [(True, None), (False, False)])
def test_absent_with_tgtd_down(tgtd, opts, config, test_mode, result):
    opts["test"] = test_mode
    tgtd.down = True
    ret = tgt.target_absent(IQN, config=config)
    assert ret["result"] is result
    assert ret["comment"].startswith("tgtd cannot be queried")


def test_absent_bounds_its_calls_with_call_timeout(tgtd, config):
    tgtd.served.update(tgt_mod._parse_show(recorded("tgt/tgtadm-show.txt")))
    assert tgt.target_absent(IQN, config=config, call_timeout=4)["result"] is True
    assert tgtd.calls == [("delete_target", IQN)] and tgtd.timeouts == [4, 4]


def test_absent_reports_a_failed_delete(tgtd, config):
    tgtd.served.update(tgt_mod._parse_show(recorded("tgt/tgtadm-show.txt")))
    tgtd.failing = "delete_target"
    ret = tgt.target_absent(IQN, config=config)
    assert ret == {"name": IQN, "changes": {}, "result": False,
                   "comment": f"Target {IQN}: tgtadm: delete_target failed"}
