"""
The NFS service lock's script (formula/nfsha/files/nfs-lock.sh.jinja, what
nfsha-nfs-lock.service runs before nfsd may start), run for real with
flock(1) on a local file: it returns once it holds the lock, which its
background sleep keeps; a second one waits until the first lets go. On the
servers the file is on OCFS2, whose o2cb cluster grants flocks across the
nodes (checked in the lab: a lock held on nfs1 kept `flock -w 10` on nfs2
waiting for the whole 10 s).
"""
import os
import shutil
import signal
import subprocess
import time

import pytest

from tests.support.render import render


@pytest.fixture
def lock_script(tmp_path):
    # fence: the SCSI fence's command (nfsha-scsi-fence fence-dead) as a
    # program that succeeds or fails: the fence itself runs in the lab.
    def make(name, fence="true"):
        script = tmp_path / f"{name}.sh"
        script.write_text(render("salt://nfsha/files/nfs-lock.sh.jinja", {
            "lock_file": tmp_path / "nfs.lock", "pid_file": tmp_path / f"{name}.pid",
            "scsi_fence_script": shutil.which(fence),
        }))
        script.chmod(0o755)
        return script
    started = []
    yield make, started
    for pid_file in (tmp_path / "first.pid", tmp_path / "second.pid"):
        if pid_file.exists():
            _kill(int(pid_file.read_text()))
    for process in started:
        process.kill()
        process.wait()


def _kill(pid):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def _wait(process, seconds):
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


def test_a_second_server_waits_until_the_first_lets_go(lock_script, tmp_path):
    make, started = lock_script
    first = subprocess.Popen([make("first")])
    started.append(first)
    # Type=forking: the script returns once the lock is held...
    assert _wait(first, 10) == 0
    holder = int((tmp_path / "first.pid").read_text())
    # ...by its background sleep.
    assert subprocess.run(["flock", "-n", tmp_path / "nfs.lock", "true"]).returncode == 1
    second = subprocess.Popen([make("second")])
    started.append(second)
    assert _wait(second, 2) is None, "the second start did not wait for the lock"
    assert not (tmp_path / "second.pid").exists()
    # systemd stops the first unit: its sleep dies, the second one starts.
    _kill(holder)
    started_at = time.monotonic()
    assert _wait(second, 10) == 0
    assert time.monotonic() - started_at < 5
    assert (tmp_path / "second.pid").exists()


def test_no_nfsd_while_a_dead_server_is_not_fenced(lock_script, tmp_path):
    """The lock is taken, but the fence of a server o2cb declared dead
    fails: the unit's start fails (so nfsd, bound to it, does not start)
    and the lock is free again."""
    make, _ = lock_script
    assert subprocess.run([make("first", fence="false")], timeout=10).returncode != 0
    assert not (tmp_path / "first.pid").exists()
    assert subprocess.run(["flock", "-n", tmp_path / "nfs.lock", "true"]).returncode == 0
