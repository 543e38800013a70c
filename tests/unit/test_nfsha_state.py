"""
nfsha.mount_released and nfsha.mounted with a mocked loader: which mounts
they release or mount, what they ask the bounded nfsha_mount module to do,
and what they report. The mount.active entries are trimmed from its answer
on the lab's client. Then nfsha.service_on_master.
"""
from unittest.mock import MagicMock, call

import pytest
from salt.exceptions import CommandExecutionError

from tests.conftest import load_salt_module, recorded, timed_out

nfsha = load_salt_module("_states", "nfsha")

VIP_DATA = "192.168.56.10:/data"
OLD_DATA = "192.168.56.9:/data"
OPTS = ["rw", "hard", "_netdev"]


def active(device):
    return {
        "/": {"device": "/dev/vda", "fstype": "ext4", "opts": ["rw", "relatime"]},
        "/data": {"device": device, "fstype": "nfs4", "opts": ["rw", "relatime", "vers=4.2", "hard"]},
    }


NOT_MOUNTED = {"/": active(VIP_DATA)["/"]}


@pytest.fixture
def opts():
    return {"test": False}


@pytest.fixture
def salt():
    return {
        "mount.active": MagicMock(return_value=active(VIP_DATA)),
        "nfsha_mount.umount": MagicMock(return_value=True),
        "nfsha_mount.mount": MagicMock(return_value=True),
        "file.mkdir": MagicMock(return_value=True),
    }


@pytest.fixture(autouse=True)
def loader(monkeypatch, opts, salt):
    monkeypatch.setattr(nfsha, "__opts__", opts, raising=False)
    monkeypatch.setattr(nfsha, "__salt__", salt, raising=False)


def bounded_mount_module(answers):
    """The real nfsha_mount over a cmd.run_all that gives ``answers[argv[0]]``."""
    module = load_salt_module("_modules", "nfsha_mount")
    module.__salt__ = {"cmd.run_all": lambda argv, **kwargs: answers[argv[0]]}
    return module


def test_a_mount_from_the_vip_is_left_alone(salt):
    ret = nfsha.mount_released("/data", VIP_DATA)
    assert ret == {"name": "/data", "changes": {}, "result": True, "comment": f"/data is mounted from {VIP_DATA}"}
    salt["nfsha_mount.umount"].assert_not_called()


def test_nothing_mounted_is_left_alone(salt):
    salt["mount.active"].return_value = NOT_MOUNTED
    ret = nfsha.mount_released("/data", VIP_DATA)
    assert (ret["result"], ret["changes"], ret["comment"]) == (True, {}, "/data is not mounted")
    salt["nfsha_mount.umount"].assert_not_called()


def test_a_mount_from_an_old_address_is_unmounted_within_the_bound(salt):
    salt["mount.active"].return_value = active(OLD_DATA)
    ret = nfsha.mount_released("/data", VIP_DATA, call_timeout=150)
    assert ret["result"] is True
    assert ret["changes"] == {"unmounted": {"old": OLD_DATA, "new": None}}
    assert ret["comment"] == f"/data unmounted from {OLD_DATA}"
    salt["nfsha_mount.umount"].assert_called_once_with("/data", call_timeout=150)


def test_under_test_it_says_what_it_would_unmount(opts, salt):
    opts["test"] = True
    salt["mount.active"].return_value = active(OLD_DATA)
    ret = nfsha.mount_released("/data", VIP_DATA)
    assert ret["result"] is None
    assert ret["changes"] == {"unmounted": {"old": OLD_DATA, "new": None}}
    assert ret["comment"] == f"/data would be unmounted from {OLD_DATA}"
    salt["nfsha_mount.umount"].assert_not_called()


def test_a_busy_mount_fails_with_umounts_message(salt):
    salt["mount.active"].return_value = active(OLD_DATA)
    salt["nfsha_mount.umount"].side_effect = CommandExecutionError(recorded("mount/umount-busy.stderr").strip())
    ret = nfsha.mount_released("/data", VIP_DATA)
    assert ret["result"] is False
    assert ret["changes"] == {}
    assert ret["comment"] == f"Cannot unmount /data from {OLD_DATA}: umount: /data: target is busy."


def test_an_umount_the_old_server_never_answers_fails_with_what_hung_and_how_long(salt):
    salt["mount.active"].return_value = active(OLD_DATA)
    umount = ["umount", "--internal-only", "/data"]
    salt["nfsha_mount.umount"] = bounded_mount_module({"umount": timed_out(umount, 150)}).umount
    ret = nfsha.mount_released("/data", VIP_DATA, call_timeout=150)
    assert (ret["result"], ret["changes"]) == (False, {})
    assert ret["comment"] == (
        f"Cannot unmount /data from {OLD_DATA}: umount /data did not answer within 150 s (server not answering?)"
    )


# --- mounted: the client's NFS mount, bounded ---


def mounts_after(salt, *answers):
    """mount.active gives each answer in turn (before the mount, after it)."""
    salt["mount.active"].side_effect = list(answers)


def test_a_mount_from_the_device_is_left_alone(salt):
    ret = nfsha.mounted("/data", VIP_DATA, "nfs4", OPTS, mkmnt=True, call_timeout=150)
    assert ret == {"name": "/data", "changes": {}, "result": True, "comment": f"/data is mounted from {VIP_DATA}"}
    salt["nfsha_mount.mount"].assert_not_called()
    salt["nfsha_mount.umount"].assert_not_called()
    salt["file.mkdir"].assert_not_called()


def test_an_unmounted_device_is_mounted_within_the_bound(salt, tmp_path):
    mount_point = str(tmp_path / "data")
    mounts_after(salt, NOT_MOUNTED, {mount_point: active(VIP_DATA)["/data"]})
    ret = nfsha.mounted(mount_point, VIP_DATA, "nfs4", OPTS, mkmnt=True, call_timeout=150)
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"] == {"mounted": {"old": None, "new": VIP_DATA}}
    assert ret["comment"] == f"{mount_point} mounted from {VIP_DATA}"
    salt["file.mkdir"].assert_called_once_with(mount_point)
    salt["nfsha_mount.mount"].assert_called_once_with(mount_point, VIP_DATA, "nfs4", OPTS, call_timeout=150)
    salt["nfsha_mount.umount"].assert_not_called()


def test_an_existing_mount_point_is_not_made_again(salt, tmp_path):
    mounts_after(salt, NOT_MOUNTED, {str(tmp_path): active(VIP_DATA)["/data"]})
    assert nfsha.mounted(str(tmp_path), VIP_DATA, "nfs4", OPTS, mkmnt=True)["result"] is True
    salt["file.mkdir"].assert_not_called()


def test_a_mount_from_an_old_address_is_unmounted_then_mounted(salt):
    mounts_after(salt, active(OLD_DATA), active(VIP_DATA))
    calls = MagicMock()
    calls.attach_mock(salt["nfsha_mount.umount"], "umount")
    calls.attach_mock(salt["nfsha_mount.mount"], "mount")
    ret = nfsha.mounted("/data", VIP_DATA, "nfs4", OPTS, call_timeout=150)
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"] == {"mounted": {"old": OLD_DATA, "new": VIP_DATA}}
    assert ret["comment"] == f"/data mounted from {VIP_DATA}"
    assert calls.mock_calls == [
        call.umount("/data", call_timeout=150),
        call.mount("/data", VIP_DATA, "nfs4", OPTS, call_timeout=150),
    ]


def test_under_test_it_says_what_it_would_mount(opts, salt):
    opts["test"] = True
    salt["mount.active"].return_value = NOT_MOUNTED
    ret = nfsha.mounted("/data", VIP_DATA, "nfs4", OPTS, mkmnt=True)
    assert (ret["result"], ret["comment"]) == (None, f"/data would be mounted from {VIP_DATA}")
    assert ret["changes"] == {"mounted": {"old": None, "new": VIP_DATA}}
    salt["mount.active"].return_value = active(OLD_DATA)
    ret = nfsha.mounted("/data", VIP_DATA, "nfs4", OPTS, mkmnt=True)
    assert ret["comment"] == f"/data would be unmounted from {OLD_DATA} and mounted from {VIP_DATA}"
    salt["nfsha_mount.mount"].assert_not_called()
    salt["nfsha_mount.umount"].assert_not_called()
    salt["file.mkdir"].assert_not_called()


def test_a_server_that_never_answers_fails_the_mount_with_what_hung_and_how_long(salt):
    salt["mount.active"].return_value = NOT_MOUNTED
    mount = ["mount", "-t", "nfs4", "-o", ",".join(OPTS), VIP_DATA, "/data"]
    salt["nfsha_mount.mount"] = bounded_mount_module({"mount": timed_out(mount, 150)}).mount
    ret = nfsha.mounted("/data", VIP_DATA, "nfs4", OPTS, call_timeout=150)
    assert (ret["result"], ret["changes"]) == (False, {})
    assert ret["comment"] == (
        f"Cannot mount {VIP_DATA} on /data: mount /data did not answer within 150 s (server not answering?)"
    )


def test_a_refused_mount_fails_with_mount_nfs4s_own_message(salt):
    mounts_after(salt, active(OLD_DATA))
    salt["nfsha_mount.mount"].side_effect = CommandExecutionError(recorded("mount/mount-nfs4-no-nfs.stderr").strip())
    ret = nfsha.mounted("/data", VIP_DATA, "nfs4", OPTS)
    assert ret["result"] is False
    assert ret["comment"] == f"Cannot mount {VIP_DATA} on /data: mount.nfs4: No such device"
    # The old mount is gone all the same: the changes say so.
    assert ret["changes"] == {"unmounted": {"old": OLD_DATA, "new": None}}


def test_an_old_mount_that_does_not_unmount_is_never_mounted_over(salt):
    salt["mount.active"].return_value = active(OLD_DATA)
    salt["nfsha_mount.umount"].side_effect = CommandExecutionError(recorded("mount/umount-busy.stderr").strip())
    ret = nfsha.mounted("/data", VIP_DATA, "nfs4", OPTS)
    assert (ret["result"], ret["changes"]) == (False, {})
    assert ret["comment"] == f"Cannot unmount /data from {OLD_DATA}: umount: /data: target is busy."
    salt["nfsha_mount.mount"].assert_not_called()


def test_a_mount_that_exits_0_without_mounting_fails(salt):
    # mount.nfs with bg: the first try failed, the rest go on in the background.
    mounts_after(salt, NOT_MOUNTED, NOT_MOUNTED)
    ret = nfsha.mounted("/data", VIP_DATA, "nfs4", OPTS + ["bg"])
    assert (ret["result"], ret["changes"]) == (False, {})
    assert ret["comment"] == f"mount exited 0 but /data is not mounted from {VIP_DATA}"


# --- service_on_master: nfs-server where keepalived is MASTER, and only there ---


@pytest.fixture
def service(salt, monkeypatch):
    """nfs-server stopped, not enabled; keepalived BACKUP. A start is done at once."""
    salt.update({
        "keepalived.running": MagicMock(return_value=True),
        "keepalived.state": MagicMock(return_value="BACKUP"),
        "service.status": MagicMock(return_value=False),
        "service.enabled": MagicMock(return_value=False),
        "service.show": MagicMock(return_value={"ActiveState": "active", "Job": ""}),
        **{f"service.{act}": MagicMock(return_value=True) for act in ("start", "stop", "disable", "restart", "reload")},
    })
    monkeypatch.setattr(nfsha, "time", Clock())
    return salt


class Clock:
    """time for the state module: sleep moves the clock on, at once."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_the_master_runs_the_service(service):
    service["keepalived.state"].return_value = "MASTER"
    ret = nfsha.service_on_master("nfs-server", "VI_1")
    assert ret == {
        "name": "nfs-server",
        "result": True,
        "changes": {"running": {"old": False, "new": True}},
        "comment": "nfs-server is running and not started at boot: this node's VI_1 is MASTER",
    }
    service["keepalived.state"].assert_called_once_with("VI_1")
    # Queued, then waited for: a start that waits for the NFS lock is bounded.
    service["service.start"].assert_called_once_with("nfs-server", no_block=True)
    service["service.show"].assert_called_once_with("nfs-server")
    service["service.stop"].assert_not_called()


def test_a_backup_stops_it_and_never_starts_it_at_boot(service):
    # What the nfs-kernel-server package leaves: running and enabled.
    service["service.status"].return_value = True
    service["service.enabled"].return_value = True
    ret = nfsha.service_on_master("nfs-server", "VI_1")
    assert ret["result"] is True
    assert ret["changes"] == {"running": {"old": True, "new": False}, "enabled": {"old": True, "new": False}}
    assert ret["comment"] == "nfs-server is stopped and not started at boot: this node's VI_1 is BACKUP"
    service["service.disable"].assert_called_once_with("nfs-server")
    service["service.stop"].assert_called_once_with("nfs-server")
    service["service.start"].assert_not_called()


def test_without_keepalived_it_is_stopped(service):
    # A new cluster: the orchestration's NFS step runs before keepalived's.
    service["service.status"].return_value = True
    service["keepalived.running"].return_value = False
    ret = nfsha.service_on_master("nfs-server", "VI_1")
    assert ret["changes"] == {"running": {"old": True, "new": False}}
    assert ret["comment"] == (
        "nfs-server is stopped and not started at boot: this node's VI_1 is not running (keepalived is stopped)"
    )
    service["keepalived.state"].assert_not_called()
    del service["keepalived.state"]  # not installed: the module does not load
    service["service.status"].return_value = False
    ret = nfsha.service_on_master("nfs-server", "VI_1")
    assert ret["changes"] == {}
    assert ret["comment"].endswith("VI_1 is not running (keepalived is not installed)")


def test_a_vrrp_state_it_cannot_read_fails_and_leaves_nfsd_alone(service):
    # keepalived runs but does not answer: nfsd may be serving the clients.
    service["service.status"].return_value = True
    service["keepalived.state"].side_effect = CommandExecutionError(
        "keepalived (pid 812) wrote no complete /tmp/keepalived.json within 5 s"
    )
    ret = nfsha.service_on_master("nfs-server", "VI_1")
    assert (ret["result"], ret["changes"]) == (False, {})
    assert ret["comment"] == (
        "nfs-server left as it is: cannot read this node's VRRP state:"
        " keepalived (pid 812) wrote no complete /tmp/keepalived.json within 5 s (for 10 s)"
    )
    for act in ("start", "stop", "disable"):
        service[f"service.{act}"].assert_not_called()


def test_init_is_read_again_until_it_settles(service):
    service["service.status"].return_value = True
    service["keepalived.state"].side_effect = ["INIT", "INIT", "BACKUP"]
    ret = nfsha.service_on_master("nfs-server", "VI_1")
    assert (ret["result"], ret["changes"]) == (True, {"running": {"old": True, "new": False}})
    assert service["keepalived.state"].call_count == 3


def test_init_that_does_not_settle_fails(service):
    service["service.status"].return_value = True
    service["keepalived.state"].return_value = "INIT"
    ret = nfsha.service_on_master("nfs-server", "VI_1")
    assert (ret["result"], ret["changes"]) == (False, {})
    assert ret["comment"] == (
        "nfs-server left as it is: cannot read this node's VRRP state: keepalived reports VI_1 as INIT (for 10 s)"
    )
    service["service.stop"].assert_not_called()


def test_a_start_that_waits_for_the_lock_fails_after_its_timeout(service):
    service["keepalived.state"].return_value = "MASTER"
    service["service.show"].return_value = {"ActiveState": "inactive", "Job": "4711"}
    ret = nfsha.service_on_master("nfs-server", "VI_1", start_timeout=80)
    assert (ret["result"], ret["changes"]) == (False, {})
    assert ret["comment"] == (
        "Cannot start nfs-server: this node's VI_1 is MASTER: not running 80 s later"
        " (its start waits for the NFS service lock while another server's nfsd holds it)"
    )
    assert service["service.show"].call_count == 81


@pytest.mark.parametrize("vrrp, running", [("MASTER", True), ("BACKUP", False), ("FAULT", False)])
def test_a_converged_node_changes_nothing(service, vrrp, running):
    service["keepalived.state"].return_value = vrrp
    service["service.status"].return_value = running
    ret = nfsha.service_on_master("nfs-server", "VI_1")
    assert (ret["result"], ret["changes"]) == (True, {})
    for act in ("start", "stop", "disable"):
        service[f"service.{act}"].assert_not_called()


def test_under_test_it_says_what_it_would_do(opts, service):
    opts["test"] = True
    service["keepalived.state"].return_value = "MASTER"
    ret = nfsha.service_on_master("nfs-server", "VI_1")
    assert ret["result"] is None
    assert ret["changes"] == {"running": {"old": False, "new": True}}
    assert ret["comment"] == "nfs-server would be running: this node's VI_1 is MASTER"
    service["service.start"].assert_not_called()


def test_a_failed_start_fails_the_state(service):
    service["keepalived.state"].return_value = "MASTER"
    service["service.start"].return_value = False
    ret = nfsha.service_on_master("nfs-server", "VI_1")
    assert (ret["result"], ret["changes"]) == (False, {})
    assert ret["comment"] == "Cannot start nfs-server: this node's VI_1 is MASTER"


def test_a_cancelled_start_fails_the_state_with_systemds_words(service):
    # keepalived's notify script stopped it meanwhile (this node lost MASTER).
    service["keepalived.state"].return_value = "MASTER"
    service["service.start"].side_effect = CommandExecutionError("Job for nfs-server.service canceled.")
    ret = nfsha.service_on_master("nfs-server", "VI_1")
    assert (ret["result"], ret["changes"]) == (False, {})
    assert ret["comment"] == "Cannot start nfs-server: this node's VI_1 is MASTER: Job for nfs-server.service canceled."


@pytest.mark.parametrize("reload, act", [(False, "restart"), (True, "reload")])
def test_a_watch_restarts_or_reloads_where_it_runs(service, reload, act):
    service["service.status"].return_value = True
    ret = nfsha.mod_watch("nfs-server", sfun="service_on_master", instance="VI_1", reload=reload)
    assert ret == {"name": "nfs-server", "result": True, "changes": {act: "nfs-server"}, "comment": f"nfs-server {act}ed"}
    # A restart, like a start, may wait for the lock: queued and waited for.
    service[f"service.{act}"].assert_called_once_with("nfs-server", **({"no_block": True} if act == "restart" else {}))


def test_a_watch_leaves_a_stopped_service_stopped(service):
    ret = nfsha.mod_watch("nfs-server", sfun="service_on_master", instance="VI_1")
    assert (ret["result"], ret["changes"]) == (True, {})
    assert ret["comment"] == "nfs-server is not running here: nothing to restart"
    service["service.restart"].assert_not_called()
    service["service.start"].assert_not_called()
