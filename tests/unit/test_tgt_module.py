"""
Unit tests of the tgt execution module: parsers on outputs recorded from
tgt 1.0.85, and the exact tgtadm / tgt-admin calls each function makes.
"""
import errno
import os
import stat
import types
from unittest.mock import patch

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.conftest import load_salt_module, recorded, timed_out

tgt = load_salt_module("_modules", "tgt")

LUN1 = "iqn.2018-08.es.raulpedroche:lun1"
LUN2 = "iqn.2018-08.es.raulpedroche:lun2"


class FakeCmd:
    """
    Stands in for cmd.run_all: answers ``--op show`` calls with recorded
    outputs (a list is consumed one output per call), fails calls matching a
    rule, and records every argv with its log level.
    """

    def __init__(self):
        self.show = ""
        self.accounts = ""
        self.failures = []
        self.calls = []
        self.levels = []
        self.timeouts = []
        # Other programs' recorded outputs, by argv.
        self.answers = {}

    def __call__(self, cmd, python_shell=True, output_loglevel="debug", timeout=None):
        assert python_shell is False
        self.calls.append(cmd)
        self.levels.append(output_loglevel)
        self.timeouts.append(timeout)
        for match, result in self.failures:
            if match(cmd):
                return result
        if tuple(cmd) in self.answers:
            return _ok(self.answers[tuple(cmd)])
        if cmd[-4:] == ["--mode", "target", "--op", "show"]:
            out = self.show.pop(0) if isinstance(self.show, list) else self.show
            return _ok(out)
        if cmd[-4:] == ["--mode", "account", "--op", "show"]:
            return _ok(self.accounts)
        return _ok("")

    def changing(self):
        """The calls that are not a show."""
        return [cmd for cmd in self.calls if "show" not in cmd]


def _ok(stdout):
    return {"retcode": 0, "stdout": stdout, "stderr": ""}


@pytest.fixture
def cmd():
    return FakeCmd()


@pytest.fixture
def configure_loader_modules(cmd):
    return {tgt: {"__salt__": {"cmd.run_all": cmd}}}


def tgtadm(*args):
    return ["tgtadm", "--lld", "iscsi", *args]


# --- __virtual__ ---------------------------------------------------------


def test_virtual_loads_when_tgtadm_is_installed():
    with patch("salt.utils.path.which", return_value="/usr/sbin/tgtadm"):
        assert tgt.__virtual__() == "tgt"


def test_virtual_refuses_without_tgtadm_and_names_the_package():
    with patch("salt.utils.path.which", return_value=None):
        loaded, reason = tgt.__virtual__()
    assert loaded is False
    assert "tgtadm" in reason and "tgt package" in reason


# --- targets / sessions / accounts ----------------------------------------


def test_targets_parses_one_target(cmd):
    cmd.show = recorded("tgt/tgtadm-show.txt")
    assert tgt.targets() == {
        LUN1: {
            "tid": 1,
            "state": "ready",
            "luns": [
                {"lun": 0, "type": "controller", "size": 0, "block_size": 1,
                 "backing_store_type": "null", "backing_store_path": None},
                {"lun": 1, "type": "disk", "size": 1074 * 10**6, "block_size": 512,
                 "backing_store_type": "rdwr", "backing_store_path": "/srv/lab/tgt/disk1.img"},
            ],
            "accounts": {"incoming": ["nfs-iscsi-user"], "outgoing": "debian-iscsi-target"},
            "acls": {"addresses": ["10.252.50.11", "10.252.50.12"], "names": []},
            "sessions": [],
        }
    }
    assert cmd.calls == [tgtadm("--mode", "target", "--op", "show")]


def test_targets_parses_two_targets_without_outgoing_user(cmd):
    cmd.show = recorded("tgt/tgtadm-show-2targets.txt")
    found = tgt.targets()
    assert [(iqn, t["tid"]) for iqn, t in found.items()] == [(LUN1, 1), (LUN2, 2)]
    assert found[LUN2]["accounts"] == {"incoming": ["nfs-iscsi-user"], "outgoing": None}
    assert found[LUN2]["luns"][1]["size"] == 67 * 10**6
    assert found[LUN2]["acls"]["addresses"] == ["10.252.50.11"]


def test_targets_parses_a_session(cmd):
    cmd.show = recorded("tgt/tgtadm-show-with-session.txt")
    found = tgt.targets()
    assert found[LUN1]["sessions"] == [
        {"nexus": 3, "initiator": "iqn.2008-11.org.linux-kvm", "address": "10.252.50.11"}
    ]
    assert found[LUN2]["sessions"] == []


def test_targets_splits_acl_names_from_addresses_and_lists_every_lun(cmd):
    cmd.show = recorded("tgt/tgtadm-show-luns-acls.txt")
    target = tgt.targets()[LUN1]
    assert target["acls"] == {
        "addresses": ["10.252.50.11", "10.252.50.0/24"],
        "names": ["iqn.2008-11.org.linux-kvm"],
    }
    assert [(lun["lun"], lun["backing_store_path"]) for lun in target["luns"]] == [
        (0, None),
        (1, "/srv/lab/tgt/disk1.img"),
        (2, "/srv/lab/tgt/disk2.img"),
    ]
    assert target["accounts"] == {
        "incoming": ["nfs1-user", "nfs2-user"],
        "outgoing": "debian-iscsi-target",
    }
    assert target["sessions"][0]["nexus"] == 1


def test_targets_is_empty_when_tgtd_serves_none(cmd):
    cmd.show = ""
    assert tgt.targets() == {}


def test_targets_raises_with_tgtadm_stderr_when_tgtd_is_down(cmd):
    stderr = recorded("tgt/tgtadm-no-daemon.stderr")
    cmd.failures = [(lambda c: True, {"retcode": 107, "stdout": "", "stderr": stderr})]
    with pytest.raises(CommandExecutionError, match="Transport endpoint is not connected"):
        tgt.targets()


def test_sessions_lists_every_nexus_with_its_target(cmd):
    cmd.show = recorded("tgt/tgtadm-show-with-session.txt")
    expected = [{"target": LUN1, "tid": 1, "nexus": 3,
                 "initiator": "iqn.2008-11.org.linux-kvm", "address": "10.252.50.11"}]
    assert tgt.sessions() == expected
    assert tgt.sessions(LUN1) == expected
    assert tgt.sessions(LUN2) == []


def test_sessions_of_an_unknown_target_raises(cmd):
    cmd.show = recorded("tgt/tgtadm-show.txt")
    with pytest.raises(CommandExecutionError, match="no target named iqn.2000-01.x:nope"):
        tgt.sessions("iqn.2000-01.x:nope")


def test_accounts_lists_user_names(cmd):
    cmd.accounts = recorded("tgt/tgtadm-account-show.txt")
    assert tgt.accounts() == ["debian-iscsi-target", "nfs-iscsi-user"]
    assert cmd.calls == [tgtadm("--mode", "account", "--op", "show")]


def test_accounts_is_empty_when_tgtd_has_none(cmd):
    # tgtadm prints nothing at all, not even the header, without accounts.
    assert tgt.accounts() == []


# --- targets, LUNs, ACL -----------------------------------------------------


def test_new_target_takes_the_next_free_tid(cmd):
    cmd.show = recorded("tgt/tgtadm-show-2targets.txt")
    assert tgt.new_target("iqn.2018-08.es.raulpedroche:lun3") == 3
    assert cmd.changing() == [
        tgtadm("--mode", "target", "--op", "new", "--tid", "3",
               "--targetname", "iqn.2018-08.es.raulpedroche:lun3")
    ]


def test_new_target_starts_at_tid_1_and_honours_a_given_tid(cmd):
    assert tgt.new_target(LUN1) == 1
    assert tgt.new_target(LUN2, tid=7) == 7
    assert [c[8] for c in cmd.changing()] == ["1", "7"]


def test_new_target_raises_when_the_name_exists(cmd):
    stderr = recorded("tgt/tgtadm-target-exists.stderr")
    cmd.failures = [(lambda c: "new" in c, {"retcode": 22, "stdout": "", "stderr": stderr})]
    with pytest.raises(CommandExecutionError, match="this target already exists"):
        tgt.new_target(LUN1)


def test_delete_target_by_name_and_with_force(cmd):
    cmd.show = recorded("tgt/tgtadm-show-2targets.txt")
    tgt.delete_target(LUN2)
    tgt.delete_target(LUN1, force=True)
    assert cmd.changing() == [
        tgtadm("--mode", "target", "--op", "delete", "--tid", "2"),
        tgtadm("--mode", "target", "--op", "delete", "--tid", "1", "--force"),
    ]


def test_delete_target_refused_by_tgtd_while_in_use(cmd):
    cmd.show = recorded("tgt/tgtadm-show-with-session.txt")
    stderr = recorded("tgt/tgtadm-target-active.stderr")
    cmd.failures = [(lambda c: "delete" in c, {"retcode": 22, "stdout": "", "stderr": stderr})]
    with pytest.raises(CommandExecutionError, match="still active"):
        tgt.delete_target(LUN1)


def test_unknown_target_raises_before_any_change(cmd):
    cmd.show = recorded("tgt/tgtadm-show.txt")
    with pytest.raises(CommandExecutionError, match="no target named"):
        tgt.delete_target(LUN2)
    with pytest.raises(CommandExecutionError, match="no target named"):
        tgt.new_lun(LUN2, 1, "/dev/sdb")
    assert cmd.changing() == []


def test_target_gone_between_lookup_and_change_raises_tgtadm_stderr(cmd):
    cmd.show = recorded("tgt/tgtadm-show.txt")
    stderr = recorded("tgt/tgtadm-no-target.stderr")
    cmd.failures = [(lambda c: "logicalunit" in c, {"retcode": 22, "stdout": "", "stderr": stderr})]
    with pytest.raises(CommandExecutionError, match="^tgtadm: can't find the target$"):
        tgt.new_lun(LUN1, 2, "/srv/lab/tgt/disk2.img")


def test_new_and_delete_lun(cmd):
    cmd.show = recorded("tgt/tgtadm-show-2targets.txt")
    tgt.new_lun(LUN2, 2, "/srv/lab/tgt/disk3.img")
    tgt.delete_lun(LUN2, 2)
    assert cmd.changing() == [
        tgtadm("--mode", "logicalunit", "--op", "new", "--tid", "2", "--lun", "2",
               "--backing-store", "/srv/lab/tgt/disk3.img"),
        tgtadm("--mode", "logicalunit", "--op", "delete", "--tid", "2", "--lun", "2"),
    ]


def test_bind_and_unbind_initiator_by_address_or_name(cmd):
    cmd.show = recorded("tgt/tgtadm-show.txt")
    tgt.bind_initiator(LUN1, "10.252.50.0/24")
    tgt.bind_initiator(LUN1, "iqn.2008-11.org.linux-kvm")
    tgt.unbind_initiator(LUN1, "10.252.50.12")
    tgt.unbind_initiator(LUN1, "eui.02004567A425678D")
    assert cmd.changing() == [
        tgtadm("--mode", "target", "--op", "bind", "--tid", "1", "--initiator-address", "10.252.50.0/24"),
        tgtadm("--mode", "target", "--op", "bind", "--tid", "1", "--initiator-name", "iqn.2008-11.org.linux-kvm"),
        tgtadm("--mode", "target", "--op", "unbind", "--tid", "1", "--initiator-address", "10.252.50.12"),
        tgtadm("--mode", "target", "--op", "unbind", "--tid", "1", "--initiator-name", "eui.02004567A425678D"),
    ]


# --- accounts -------------------------------------------------------------


def test_set_account_creates_a_new_account_quietly(cmd):
    cmd.show = recorded("tgt/tgtadm-show.txt")
    cmd.accounts = recorded("tgt/tgtadm-account-show.txt")
    assert tgt.set_account("nfs3-user", "n3w-secret-0003") == []
    assert cmd.changing() == [
        tgtadm("--mode", "account", "--op", "new", "--user", "nfs3-user", "--password", "n3w-secret-0003")
    ]
    # The secret is in that argv: Salt must not log the call at all.
    assert cmd.levels[cmd.calls.index(cmd.changing()[0])] == "quiet"


def test_set_account_recreates_a_shared_account_with_chap_kept_required(cmd):
    cmd.show = recorded("tgt/tgtadm-show-2targets.txt")
    cmd.accounts = recorded("tgt/tgtadm-account-show.txt")
    assert tgt.set_account("nfs-iscsi-user", "n3w-secret-0001") == [LUN1, LUN2]
    calls = cmd.changing()
    guard = calls[0][8]
    assert guard.startswith("nfsha-guard-")
    assert calls[0][:9] == tgtadm("--mode", "account", "--op", "new", "--user", guard)
    assert calls[1:] == [
        tgtadm("--mode", "account", "--op", "bind", "--tid", "1", "--user", guard),
        tgtadm("--mode", "account", "--op", "bind", "--tid", "2", "--user", guard),
        tgtadm("--mode", "account", "--op", "delete", "--user", "nfs-iscsi-user"),
        tgtadm("--mode", "account", "--op", "new", "--user", "nfs-iscsi-user", "--password", "n3w-secret-0001"),
        tgtadm("--mode", "account", "--op", "bind", "--tid", "1", "--user", "nfs-iscsi-user"),
        tgtadm("--mode", "account", "--op", "bind", "--tid", "2", "--user", "nfs-iscsi-user"),
        tgtadm("--mode", "account", "--op", "delete", "--user", guard),
    ]
    assert calls[0][-1] != "n3w-secret-0001" and len(calls[0][-1]) >= 24


def test_set_account_rebinds_an_outgoing_account_without_a_guard(cmd):
    cmd.show = recorded("tgt/tgtadm-show.txt")
    cmd.accounts = recorded("tgt/tgtadm-account-show.txt")
    assert tgt.set_account("debian-iscsi-target", "n3w-secret-0002") == [LUN1]
    assert cmd.changing() == [
        tgtadm("--mode", "account", "--op", "delete", "--user", "debian-iscsi-target"),
        tgtadm("--mode", "account", "--op", "new", "--user", "debian-iscsi-target", "--password", "n3w-secret-0002"),
        tgtadm("--mode", "account", "--op", "bind", "--tid", "1", "--user", "debian-iscsi-target", "--outgoing"),
    ]


@pytest.mark.parametrize("username, password, label", [
    ("nfs user", "s3cret-s3cret", "username"),
    ("nfs-user", "s3cret #1", "password"),
    ("nfs-user", "$(reboot)", "password"),
    ("nfs-user", "", "password"),
])
def test_set_account_refuses_unsafe_values_without_echoing_them(cmd, username, password, label):
    with pytest.raises(SaltInvocationError) as error:
        tgt.set_account(username, password)
    assert str(error.value).startswith(f"{label}:")
    assert password not in str(error.value) or not password
    assert cmd.calls == []


def test_delete_bind_and_unbind_account(cmd):
    cmd.show = recorded("tgt/tgtadm-show.txt")
    tgt.delete_account("old-user")
    tgt.bind_account(LUN1, "nfs2-user")
    tgt.bind_account(LUN1, "target-user", outgoing=True)
    tgt.unbind_account(LUN1, "nfs-iscsi-user")
    tgt.unbind_account(LUN1, "debian-iscsi-target", outgoing=True)
    assert cmd.changing() == [
        tgtadm("--mode", "account", "--op", "delete", "--user", "old-user"),
        tgtadm("--mode", "account", "--op", "bind", "--tid", "1", "--user", "nfs2-user"),
        tgtadm("--mode", "account", "--op", "bind", "--tid", "1", "--user", "target-user", "--outgoing"),
        tgtadm("--mode", "account", "--op", "unbind", "--tid", "1", "--user", "nfs-iscsi-user"),
        tgtadm("--mode", "account", "--op", "unbind", "--tid", "1", "--user", "debian-iscsi-target", "--outgoing"),
    ]


# --- config rendering and files --------------------------------------------

STANZA = """\
# Managed by Salt: changes made here are overwritten.
<target iqn.2018-08.es.raulpedroche:lun1>
    <backing-store /dev/sdc>
        lun 1
    </backing-store>
    <backing-store /dev/sdb>
        lun 2
    </backing-store>
    initiator-address 10.252.50.11
    initiator-address 10.252.50.12
    initiator-name iqn.2008-11.org.linux-kvm
    incominguser nfs-iscsi-user secret0-secret0
    outgoinguser debian-iscsi-target s3cr3to-s3cr3to
</target>
"""


def render(**overrides):
    args = {
        "name": LUN1,
        "backing_stores": ["/dev/sdc", "/dev/sdb"],
        "initiator_addresses": ["10.252.50.11", "10.252.50.12"],
        "initiator_names": ["iqn.2008-11.org.linux-kvm"],
        "incoming_users": [{"username": "nfs-iscsi-user", "password": "secret0-secret0"}],
        "outgoing_user": {"username": "debian-iscsi-target", "password": "s3cr3to-s3cr3to"},
    }
    return tgt.render_target(**{**args, **overrides})


def test_render_target_pins_lun_numbers_in_the_order_given():
    assert render() == STANZA


def test_render_target_minimal():
    text = render(backing_stores=["/dev/sdb"], initiator_addresses=["ALL"],
                  initiator_names=None, incoming_users=None, outgoing_user=None)
    assert text.splitlines()[1:] == [
        f"<target {LUN1}>",
        "    <backing-store /dev/sdb>",
        "        lun 1",
        "    </backing-store>",
        "    initiator-address ALL",
        "</target>",
    ]


@pytest.mark.parametrize("overrides, message", [
    ({"name": "iqn.2018-08.es.raulpedroche:LUN1"}, "name: "),
    ({"name": "lun1"}, "name: "),
    ({"backing_stores": []}, "backing_stores: give a list"),
    ({"backing_stores": "/dev/sdb"}, "backing_stores: give a list"),
    ({"backing_stores": ["dev/sdb"]}, "backing_stores[0]: "),
    ({"backing_stores": ["/dev/sdb", "/srv/my disk.img"]}, "backing_stores[1]: "),
    ({"backing_stores": ["/dev/sdb", "/dev/sdb"]}, "backing_stores[1]: /dev/sdb is listed twice"),
    ({"initiator_addresses": ["10.252.50.300"]}, "initiator_addresses[0]: '10.252.50.300' is not an IP"),
    ({"initiator_addresses": "10.252.50.11"}, "initiator_addresses: give a list"),
    ({"initiator_names": ["nfs1"]}, "initiator_names[0]: 'nfs1' is not an iSCSI name"),
    ({"initiator_addresses": [], "initiator_names": []}, "initiator_addresses, initiator_names: give at least one"),
    ({"incoming_users": {"username": "u", "password": "p"}}, "incoming_users: give a list"),
    ({"incoming_users": [{"username": "nfs-user"}]}, "incoming_users[0]: give a dict"),
    ({"incoming_users": [{"username": "nfs-user", "password": "pass word"}]}, "incoming_users[0].password: "),
    ({"incoming_users": [{"username": "u1", "password": "secret-one-1"},
                         {"username": "u1", "password": "secret-two-2"}]}, "incoming_users: a username is listed twice"),
    ({"outgoing_user": {"username": "nfs-iscsi-user", "password": "other-secret"}}, "outgoing_user: its username"),
    ({"outgoing_user": {"username": "t", "password": "a'b"}}, "outgoing_user.password: "),
])
def test_render_target_names_the_wrong_argument(overrides, message):
    with pytest.raises(SaltInvocationError) as error:
        render(**overrides)
    assert str(error.value).startswith(message)
    assert "pass word" not in str(error.value) and "a'b" not in str(error.value)


def test_compare_config_without_a_file_wants_every_secret(tmp_path):
    status = tgt.compare_config(str(tmp_path / "lun1.conf"), STANZA)
    assert status == {
        "exists": False,
        "current": False,
        "changed_secrets": ["debian-iscsi-target", "nfs-iscsi-user"],
    }


def test_compare_config_current_file(tmp_path):
    path = tmp_path / "lun1.conf"
    path.write_text(STANZA)
    path.chmod(0o600)
    assert tgt.compare_config(str(path), STANZA) == {"exists": True, "current": True, "changed_secrets": []}


def test_compare_config_wrong_mode_is_not_current_but_keeps_secrets(tmp_path):
    path = tmp_path / "lun1.conf"
    path.write_text(STANZA)
    path.chmod(0o644)
    assert tgt.compare_config(str(path), STANZA) == {"exists": True, "current": False, "changed_secrets": []}


def test_compare_config_file_of_another_owner_is_not_current(tmp_path):
    path = tmp_path / "lun1.conf"
    path.write_text(STANZA)
    path.chmod(0o600)
    with patch.object(tgt.os, "geteuid", return_value=os.geteuid() + 1):
        assert tgt.compare_config(str(path), STANZA)["current"] is False


def test_compare_config_names_only_the_user_whose_secret_changed(tmp_path):
    path = tmp_path / "lun1.conf"
    path.write_text(STANZA)
    path.chmod(0o600)
    status = tgt.compare_config(str(path), STANZA.replace("secret0-secret0", "secret1-secret1"))
    assert status == {"exists": True, "current": False, "changed_secrets": ["nfs-iscsi-user"]}
    assert "secret" not in str(status).replace("changed_secrets", "")


def test_compare_config_against_a_tgt_admin_dump_sees_other_secrets(tmp_path):
    # tgt-admin --dump writes PLEASE_CORRECT_THE_PASSWORD for every secret.
    path = tmp_path / "targets.conf"
    path.write_text(recorded("tgt/tgt-admin-dump.txt"))
    status = tgt.compare_config(str(path), STANZA)
    assert status["changed_secrets"] == ["debian-iscsi-target", "nfs-iscsi-user"]
    assert tgt._config_secrets(recorded("tgt/tgt-admin-dump.txt"))[LUN2] == {
        "nfs-iscsi-user": "PLEASE_CORRECT_THE_PASSWORD"
    }


def test_compare_config_rejects_a_relative_path_and_reports_unreadable_files(tmp_path):
    with pytest.raises(SaltInvocationError, match="config: 'lun1.conf' is not an absolute path"):
        tgt.compare_config("lun1.conf", STANZA)
    with pytest.raises(CommandExecutionError, match="cannot read"):
        tgt.compare_config(str(tmp_path), STANZA)


def test_write_config_writes_mode_0600_once(tmp_path):
    path = tmp_path / "lun1.conf"
    assert tgt.write_config(str(path), STANZA) is True
    assert path.read_text() == STANZA
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_uid == os.geteuid()
    assert tgt.write_config(str(path), STANZA) is False
    assert os.listdir(tmp_path) == ["lun1.conf"]


def test_write_config_replaces_a_readable_file(tmp_path):
    path = tmp_path / "lun1.conf"
    path.write_text("old\n")
    path.chmod(0o644)
    assert tgt.write_config(str(path), STANZA) is True
    assert path.read_text() == STANZA
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_config_into_a_missing_directory_raises(tmp_path):
    with pytest.raises(CommandExecutionError, match="cannot write"):
        tgt.write_config(str(tmp_path / "conf.d" / "lun1.conf"), STANZA)


# --- update (tgt-admin) ------------------------------------------------------


def test_update_reports_added_changed_and_in_use_targets(cmd):
    before = recorded("tgt/tgtadm-show-2targets.txt")
    after = before.replace("        10.252.50.12\n", "")
    cmd.show = [before.split("Target 2:")[0], after]
    out = recorded("tgt/tgt-admin-update-in-use.txt")
    cmd.failures = [(lambda c: c[0] == "tgt-admin", _ok(out))]
    assert tgt.update() == {
        "added": [LUN2],
        "removed": [],
        "changed": {LUN1: ["acls"]},
        "in_use": [LUN1],
    }
    run = cmd.calls.index(["tgt-admin", "--verbose", "--conf", "/etc/tgt/targets.conf", "--update", "ALL"])
    # --verbose prints secrets: the output must stay out of Salt's log.
    assert cmd.levels[run] == "quiet"


def test_update_one_target_with_force_and_another_config(cmd):
    cmd.show = [recorded("tgt/tgtadm-show-2targets.txt"), recorded("tgt/tgtadm-show.txt")]
    assert tgt.update(LUN2, config="/srv/lab/tgt/targets.conf", force=True) == {
        "added": [], "removed": [LUN2], "changed": {}, "in_use": [],
    }
    assert ["tgt-admin", "--verbose", "--conf", "/srv/lab/tgt/targets.conf",
            "--update", LUN2, "--force"] in cmd.calls


def test_update_failure_carries_the_failed_command_with_secrets_masked(cmd):
    cmd.show = recorded("tgt/tgtadm-show.txt")
    failed = {
        "retcode": 22,
        "stdout": recorded("tgt/tgt-admin-update-failed.stdout"),
        "stderr": recorded("tgt/tgt-admin-update-failed.stderr"),
    }
    assert "x-secret-x" in failed["stdout"]
    cmd.failures = [(lambda c: c[0] == "tgt-admin", failed)]
    with pytest.raises(CommandExecutionError) as error:
        tgt.update()
    message = str(error.value)
    assert message.startswith("tgtadm: invalid request")
    assert "--name state --value bogus" in message
    assert "x-secret-x" not in message


def test_update_of_an_unknown_target_says_why(cmd):
    cmd.show = recorded("tgt/tgtadm-show.txt")
    out = recorded("tgt/tgt-admin-update-unknown.stdout")
    cmd.failures = [(lambda c: c[0] == "tgt-admin", {"retcode": 1, "stdout": out, "stderr": ""})]
    with pytest.raises(CommandExecutionError, match="can't continue"):
        tgt.update("iqn.2018-08.es.raulpedroche:nope")


def test_mask_hides_every_password_argument():
    verbose = recorded("tgt/tgt-admin-update-failed.stdout")
    masked = tgt._mask(verbose)
    assert "x-secret-x" not in masked
    assert masked.count("--password=********") == 2


# --- bounded calls -------------------------------------------------------------


def test_every_call_is_bounded_by_default_or_by_call_timeout(cmd):
    cmd.show = recorded("tgt/tgtadm-show.txt")
    tgt.delete_target(LUN1)
    tgt.update(LUN1)
    assert cmd.timeouts == [tgt.CALL_TIMEOUT] * len(cmd.calls) == [10] * 5
    cmd.timeouts.clear()
    tgt.set_account("nfs3-user", "n3w-secret-0003", call_timeout=2.5)
    tgt.bind_initiator(LUN1, "10.252.50.13", call_timeout=2.5)
    assert set(cmd.timeouts) == {2.5}


def test_a_hung_tgtd_raises_naming_the_call_and_its_bound(cmd):
    cmd.failures = [(lambda c: True, timed_out(tgtadm("--mode", "target", "--op", "show"), 3))]
    with pytest.raises(CommandExecutionError) as error:
        tgt.targets(call_timeout=3)
    assert str(error.value) == "tgtadm --mode target --op show did not answer within 3 s (hung tgtd?)"


def test_a_timed_out_call_never_shows_its_secret(cmd):
    # Salt's answer on a timeout repeats the whole command line.
    new = tgtadm("--mode", "account", "--op", "new", "--user", "nfs3-user", "--password", "n3w-secret-0003")
    cmd.failures = [(lambda c: c == new, timed_out(new, 10))]
    assert "n3w-secret-0003" in cmd.failures[0][1]["stdout"]
    with pytest.raises(CommandExecutionError) as error:
        tgt.set_account("nfs3-user", "n3w-secret-0003")
    assert str(error.value) == "tgtadm --mode account --op new did not answer within 10 s (hung tgtd?)"


def test_a_hung_tgt_admin_is_named(cmd):
    cmd.show = recorded("tgt/tgtadm-show.txt")
    cmd.failures = [(lambda c: c[0] == "tgt-admin", timed_out(["tgt-admin", "--update", "ALL"], 10))]
    with pytest.raises(CommandExecutionError, match=r"^tgt-admin --update did not answer within 10 s \(hung tgtd\?\)$"):
        tgt.update()


def test_a_failure_that_is_no_timeout_keeps_its_own_message(cmd):
    # Exit 1 with the bound's wording, but from a call that was not killed:
    # the suffix names another bound.
    cmd.failures = [(lambda c: True, timed_out(tgtadm("--mode", "target", "--op", "show"), 60))]
    with pytest.raises(CommandExecutionError, match="Timed out after 60 seconds"):
        tgt.targets(call_timeout=3)


@pytest.mark.parametrize("call_timeout", [0, -1, "10", True, [10]])
def test_a_call_timeout_that_is_no_bound_is_refused_before_any_call(cmd, call_timeout):
    # 0 would be no limit at all to cmd.run_all.
    with pytest.raises(SaltInvocationError, match=r"^call_timeout: .* is not a number of seconds above 0$"):
        tgt.new_target(LUN1, call_timeout=call_timeout)
    assert cmd.calls == []


# --- backing_store_users ---------------------------------------------------

LSBLK = ("lsblk", "--json", "--list", "--output", "PATH,TYPE,MOUNTPOINTS", "/dev/loop0")
LOSETUP = ("losetup", "--json", "--list", "--output", "NAME,BACK-FILE")


@pytest.mark.parametrize(
    "output, users",
    [
        ("lsblk-unused.json", []),
        ("lsblk-mounted.json", ["/dev/loop0 is mounted at /srv/lab/mnt"]),
        ("lsblk-swap.json", ["/dev/loop0 is swap"]),
        ("lsblk-partitions-in-use.json", ["/dev/loop0p1 is mounted at /srv/lab/mnt", "/dev/loop0p2 is swap"]),
        ("lsblk-holder.json", ["/dev/mapper/vg-data (lvm) is stacked on it"]),
    ],
)
def test_lsblk_shows_what_uses_a_device(output, users):
    assert tgt._lsblk_users(recorded(f"tgt/{output}")) == users


@pytest.fixture
def block_device(monkeypatch):
    """/dev/loop0 is a block device; an exclusive open of it answers ``errno``."""
    answer = {"errno": None}

    def exclusive_open(path, flags):
        assert (path, flags) == ("/dev/loop0", os.O_RDONLY | os.O_EXCL)
        if answer["errno"]:
            raise OSError(answer["errno"], os.strerror(answer["errno"]))
        return 99

    # The module's own os: the real one, but for these three calls.
    fake_os = types.ModuleType("os")
    fake_os.__dict__.update(os.__dict__)
    fake_os.stat = lambda path: os.stat_result((stat.S_IFBLK | 0o660,) + (0,) * 9)
    fake_os.open = exclusive_open
    fake_os.close = lambda handle: None
    monkeypatch.setattr(tgt, "os", fake_os)
    return answer


def test_an_unused_device_has_no_users(cmd, block_device):
    cmd.answers[LSBLK] = recorded("tgt/lsblk-unused.json")
    assert tgt.backing_store_users("/dev/loop0") == []


def test_a_mounted_device_is_named_without_asking_further(cmd, block_device):
    cmd.answers[LSBLK] = recorded("tgt/lsblk-partitions-in-use.json")
    block_device["errno"] = errno.EBUSY
    assert tgt.backing_store_users("/dev/loop0") == [
        "/dev/loop0p1 is mounted at /srv/lab/mnt",
        "/dev/loop0p2 is swap",
    ]


def test_a_device_held_exclusively_names_the_processes_with_it_open(cmd, block_device, tmp_path, monkeypatch):
    # /proc as the kernel lays it out: /proc/PID/fd/N links to what is open.
    for pid, comm, target in (("4242", "mkfs.ext4", "/dev/loop0"), ("77", "bash", "/dev/pts/0")):
        (tmp_path / pid / "fd").mkdir(parents=True)
        (tmp_path / pid / "comm").write_text(f"{comm}\n")
        (tmp_path / pid / "fd" / "3").symlink_to(target)
    (tmp_path / "self").mkdir()
    monkeypatch.setattr(tgt, "_PROC", str(tmp_path))
    cmd.answers[LSBLK] = recorded("tgt/lsblk-unused.json")
    block_device["errno"] = errno.EBUSY
    assert tgt.backing_store_users("/dev/loop0") == [
        "/dev/loop0 is held open exclusively (processes with it open: 4242 (mkfs.ext4))"
    ]
    (tmp_path / "4242" / "fd" / "3").unlink()
    assert tgt.backing_store_users("/dev/loop0") == [
        "/dev/loop0 is held exclusively by something outside this node's mounts (an exclusive open fails)"
    ]


def test_a_device_that_cannot_be_opened_is_an_error(cmd, block_device):
    cmd.answers[LSBLK] = recorded("tgt/lsblk-unused.json")
    block_device["errno"] = errno.EACCES
    with pytest.raises(CommandExecutionError, match="cannot open /dev/loop0: Permission denied"):
        tgt.backing_store_users("/dev/loop0")


def test_proc_swaps_unescapes_spaces():
    assert tgt._parse_swaps(recorded("tgt/proc-swaps-file.txt")) == ["/srv/lab/swap file"]
    assert tgt._parse_swaps(recorded("tgt/proc-swaps-partition.txt")) == ["/dev/loop0p2"]
    assert tgt._parse_swaps(recorded("tgt/proc-swaps-none.txt")) == []


@pytest.fixture
def files(tmp_path, monkeypatch, cmd):
    """The recorded swap file and loop device's file, at a real path."""
    swap_file, back_file = tmp_path / "swap file", tmp_path / "back file.img"
    swap_file.write_text("")
    back_file.write_text("")
    swaps = tmp_path / "swaps"
    escaped = str(swap_file).replace(" ", "\\040")
    swaps.write_text(recorded("tgt/proc-swaps-file.txt").replace("/srv/lab/swap\\040file", escaped))
    monkeypatch.setattr(tgt, "_SWAPS", str(swaps))
    cmd.answers[LOSETUP] = recorded("tgt/losetup-list.json").replace("/srv/lab", str(tmp_path))
    return swap_file, back_file, tmp_path


def test_a_file_in_use_is_named(files):
    swap_file, back_file, folder = files
    assert tgt.backing_store_users(str(swap_file)) == [f"{swap_file} is swap"]
    assert tgt.backing_store_users(str(back_file)) == [f"/dev/loop0 is a loop device over {back_file}"]
    unused = folder / "disk.img"
    unused.write_text("")
    assert tgt.backing_store_users(str(unused)) == []


@pytest.mark.parametrize("path", ["disk.img", "", None])
def test_backing_store_users_wants_an_absolute_path(cmd, path):
    with pytest.raises(SaltInvocationError, match="^path: "):
        tgt.backing_store_users(path)
    assert cmd.calls == []


def test_a_missing_backing_store_is_an_error(cmd, tmp_path):
    with pytest.raises(CommandExecutionError, match="cannot look at .*: No such file or directory"):
        tgt.backing_store_users(str(tmp_path / "nothing"))


def test_backing_store_users_bounds_lsblk(cmd, block_device):
    cmd.answers[LSBLK] = recorded("tgt/lsblk-unused.json")
    assert tgt.backing_store_users("/dev/loop0", call_timeout=4) == []
    assert cmd.calls == [list(LSBLK)] and cmd.timeouts == [4]


def test_backing_store_users_bounds_losetup(cmd, files):
    swap_file, back_file, folder = files
    tgt.backing_store_users(str(back_file))
    assert cmd.calls == [list(LOSETUP)] and cmd.timeouts == [tgt.CALL_TIMEOUT]


def test_a_hung_lsblk_is_named(cmd, block_device):
    cmd.failures = [(lambda c: c[0] == "lsblk", timed_out(list(LSBLK), 3))]
    with pytest.raises(CommandExecutionError, match=r"^lsblk did not answer within 3 s \(hung device\?\)$"):
        tgt.backing_store_users("/dev/loop0", call_timeout=3)
