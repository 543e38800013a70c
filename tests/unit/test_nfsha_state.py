"""
nfsha.mount_released with a mocked loader: which mounts it releases, what it
asks Salt's mount module to do, and what it reports. The mount.active
entries are trimmed from its answer on the lab's client.
"""
from unittest.mock import MagicMock

import pytest

from tests.conftest import load_salt_module

nfsha = load_salt_module("_states", "nfsha")

VIP_DATA = "192.168.56.10:/data"
OLD_DATA = "192.168.56.9:/data"


def active(device):
    return {
        "/": {"device": "/dev/vda", "fstype": "ext4", "opts": ["rw", "relatime"]},
        "/data": {"device": device, "fstype": "nfs4", "opts": ["rw", "relatime", "vers=4.2", "hard"]},
    }


@pytest.fixture
def opts():
    return {"test": False}


@pytest.fixture
def salt():
    return {"mount.active": MagicMock(return_value=active(VIP_DATA)), "mount.umount": MagicMock(return_value=True)}


@pytest.fixture(autouse=True)
def loader(monkeypatch, opts, salt):
    monkeypatch.setattr(nfsha, "__opts__", opts, raising=False)
    monkeypatch.setattr(nfsha, "__salt__", salt, raising=False)


def test_a_mount_from_the_vip_is_left_alone(salt):
    ret = nfsha.mount_released("/data", VIP_DATA)
    assert ret == {"name": "/data", "changes": {}, "result": True, "comment": f"/data is mounted from {VIP_DATA}"}
    salt["mount.umount"].assert_not_called()


def test_nothing_mounted_is_left_alone(salt):
    salt["mount.active"].return_value = {"/": active(VIP_DATA)["/"]}
    ret = nfsha.mount_released("/data", VIP_DATA)
    assert (ret["result"], ret["changes"], ret["comment"]) == (True, {}, "/data is not mounted")
    salt["mount.umount"].assert_not_called()


def test_a_mount_from_an_old_address_is_unmounted(salt):
    salt["mount.active"].return_value = active(OLD_DATA)
    ret = nfsha.mount_released("/data", VIP_DATA)
    assert ret["result"] is True
    assert ret["changes"] == {"unmounted": {"old": OLD_DATA, "new": None}}
    assert ret["comment"] == f"/data unmounted from {OLD_DATA}"
    salt["mount.umount"].assert_called_once_with("/data")


def test_under_test_it_says_what_it_would_unmount(opts, salt):
    opts["test"] = True
    salt["mount.active"].return_value = active(OLD_DATA)
    ret = nfsha.mount_released("/data", VIP_DATA)
    assert ret["result"] is None
    assert ret["changes"] == {"unmounted": {"old": OLD_DATA, "new": None}}
    assert ret["comment"] == f"/data would be unmounted from {OLD_DATA}"
    salt["mount.umount"].assert_not_called()


def test_a_busy_mount_fails_with_umounts_message(salt):
    salt["mount.active"].return_value = active(OLD_DATA)
    # What Salt's mount.umount returns when umount fails: its stderr.
    salt["mount.umount"].return_value = "umount.nfs4: /data: device is busy"
    ret = nfsha.mount_released("/data", VIP_DATA)
    assert ret["result"] is False
    assert ret["changes"] == {}
    assert ret["comment"] == "Cannot unmount /data: umount.nfs4: /data: device is busy"
