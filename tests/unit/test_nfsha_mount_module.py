"""
nfsha_mount: the mount and umount a client's NFS mount goes through, each
within its bound, on recorded outputs of util-linux and mount.nfs4.
"""
import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.conftest import load_salt_module, recorded, timed_out

MOUNT = ["mount", "-t", "nfs4", "-o", "rw,hard,_netdev", "192.168.56.10:/data", "/data"]
UMOUNT = ["umount", "--internal-only", "/data"]


class Cmd:
    """cmd.run_all: success, unless ``answers`` holds what an argv gets."""

    def __init__(self):
        self.calls = []
        self.answers = {}

    def __call__(self, argv, **kwargs):
        self.calls.append((argv, kwargs))
        return self.answers.get(tuple(argv), {"pid": 1, "retcode": 0, "stdout": "", "stderr": ""})


@pytest.fixture
def cmd():
    return Cmd()


@pytest.fixture
def module(cmd):
    loaded = load_salt_module("_modules", "nfsha_mount")
    loaded.__salt__ = {"cmd.run_all": cmd}
    return loaded


def failed(stderr_file):
    return {"pid": 1, "retcode": 32, "stdout": "", "stderr": recorded(stderr_file)}


def test_mount_mounts_the_device_with_its_options_within_the_default_bound(module, cmd):
    assert module.mount("/data", "192.168.56.10:/data", "nfs4", ["rw", "hard", "_netdev"]) is True
    assert cmd.calls == [(MOUNT, {"python_shell": False, "timeout": 150})]


def test_umount_makes_the_call_itself_within_the_given_bound(module, cmd):
    assert module.umount("/data", call_timeout=30) is True
    # No umount.nfs4 child: the kill at the bound reaches the one process.
    assert cmd.calls == [(UMOUNT, {"python_shell": False, "timeout": 30})]


def test_a_mount_without_options_passes_none(module, cmd):
    module.mount("/mnt", "tmpfs", "tmpfs")
    assert cmd.calls[0][0] == ["mount", "-t", "tmpfs", "tmpfs", "/mnt"]


def test_a_busy_mount_fails_with_umounts_message(module, cmd):
    cmd.answers[tuple(UMOUNT)] = failed("mount/umount-busy.stderr")
    with pytest.raises(CommandExecutionError, match=r"^umount: /data: target is busy\.$"):
        module.umount("/data")


def test_an_umount_of_nothing_fails_with_umounts_message(module, cmd):
    # Someone unmounted it between the state's look at the mounts and umount.
    cmd.answers[tuple(UMOUNT)] = failed("mount/umount-not-mounted.stderr")
    with pytest.raises(CommandExecutionError, match=r"^umount: /data: not mounted\.$"):
        module.umount("/data")


def test_a_failed_mount_keeps_mount_nfs4s_own_message(module, cmd):
    cmd.answers[tuple(MOUNT)] = failed("mount/mount-nfs4-no-nfs.stderr")
    with pytest.raises(CommandExecutionError, match=r"^mount\.nfs4: No such device$"):
        module.mount("/data", "192.168.56.10:/data", "nfs4", ["rw", "hard", "_netdev"])


def test_a_hung_umount_is_named_with_its_bound(module, cmd):
    cmd.answers[tuple(UMOUNT)] = timed_out(UMOUNT, 150)
    with pytest.raises(CommandExecutionError) as error:
        module.umount("/data")
    assert str(error.value) == "umount /data did not answer within 150 s (server not answering?)"


def test_a_hung_mount_is_named_with_its_bound(module, cmd):
    cmd.answers[tuple(MOUNT)] = timed_out(MOUNT, 20)
    with pytest.raises(CommandExecutionError) as error:
        module.mount("/data", "192.168.56.10:/data", "nfs4", ["rw", "hard", "_netdev"], call_timeout=20)
    assert str(error.value) == "mount /data did not answer within 20 s (server not answering?)"


@pytest.mark.parametrize("call_timeout", [0, -1, "150", True])
def test_a_call_timeout_that_is_no_bound_is_refused_before_any_call(module, cmd, call_timeout):
    with pytest.raises(SaltInvocationError, match=r"^call_timeout: .* is not a number of seconds above 0$"):
        module.umount("/data", call_timeout=call_timeout)
    assert cmd.calls == []
