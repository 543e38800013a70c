"""
The NFS check (formula/nfsha/files/check-nfs.sh.jinja, keepalived's
check_nfs on the servers) run for real, in a private mount namespace where
its inputs are the test's own: the VRRP state file and the give-up marker
on a tmpfs over /run, /proc/uptime and /proc/fs/nfsd/threads replaced by
files, the NFS service lock a local file that a second flock(1) holds for
"the other server". Only systemctl (nfs-server's queued job) and logger are
stand-ins: no systemd or syslog runs here.
"""
import fcntl
import subprocess
import textwrap

import pytest

from tests.support.render import render

STATE_FILE = "/run/nfsha/vrrp-state"
GAVE_UP = "/run/nfsha/nfs-lock-gave-up"
LOCK_WAIT = 80


@pytest.fixture
def check(tmp_path):
    """Run the check with a VRRP state, uptime, nfsd threads and queued job."""
    lock_file = tmp_path / "nfs.lock"
    script = tmp_path / "check-nfs"
    script.write_text(render("salt://nfsha/files/check-nfs.sh.jinja", {
        "serve_on": "holder", "nfs_server": "nfs-server", "mount_points": [],
        "state_file": STATE_FILE, "gave_up_file": GAVE_UP, "lock_file": lock_file,
        "startup_s": 30, "lock_wait": LOCK_WAIT,
    }))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(f'#!/bin/sh\ncat {tmp_path}/job\n')
    (bin_dir / "logger").write_text(f'#!/bin/sh\necho "$*" >>{tmp_path}/logged\n')
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    run_dir = tmp_path / "run"
    run_dir.mkdir()

    def run(state, up, threads=0, job="", gave_up=False):
        """The check's exit status, and whether the give-up marker is there after it."""
        (tmp_path / "job").write_text(job + "\n")
        (tmp_path / "uptime").write_text(f"{up}.42 1000.00\n")
        (tmp_path / "threads").write_text(f"{threads}\n")
        setup = textwrap.dedent(f"""\
            set -e
            mount --bind {run_dir} /run
            mkdir -p /run/nfsha
            echo '{state}' >{STATE_FILE}
            {f': >{GAVE_UP}' if gave_up else ':'}
            mount --bind {tmp_path}/uptime /proc/uptime
            mount -t tmpfs nfsha-test /proc/fs
            mkdir /proc/fs/nfsd
            cp {tmp_path}/threads /proc/fs/nfsd/threads
            set +e
            PATH={bin_dir}:$PATH sh {script}
            echo "rc=$?"
            [ -e {GAVE_UP} ] && echo gave-up || true
        """)
        out = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", setup],
                             capture_output=True, text=True, timeout=30)
        assert out.stderr == "", out.stderr
        lines = out.stdout.split()
        return int(lines[0].removeprefix("rc=")), "gave-up" in lines

    run.lock_file = lock_file
    run.logged = tmp_path / "logged"
    return run


@pytest.fixture
def other_server(check):
    """The other server's nfsd holds the NFS service lock (closing frees it)."""
    with open(check.lock_file, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield lock


def test_a_new_master_waits_for_the_lock_then_gives_up_the_vip(check, other_server):
    # MASTER since uptime 100: its nfs-server start is queued behind the lock.
    assert check("MASTER 100", up=110) == (0, False)  # starting
    assert check("MASTER 100", up=100 + LOCK_WAIT - 1, job="4711") == (0, False)
    assert check("MASTER 100", up=100 + LOCK_WAIT, job="4711") == (1, True)
    assert check.logged.read_text() == (
        f"-t nfsha-check-nfs nfs-server has waited {LOCK_WAIT} s for the NFS service lock: giving up the VIP\n"
    )


def test_after_giving_up_it_stays_in_fault_while_the_lock_is_held(check, other_server):
    # keepalived's FAULT: the notify script wrote it, the marker stays.
    assert check("FAULT", up=300, gave_up=True) == (1, True)
    assert check("BACKUP", up=303, gave_up=True) == (1, True)
    other_server.close()
    # The lock is free (the other server's nfsd stopped, or OCFS2 recovered
    # it from a dead server): this one may serve again.
    assert check("FAULT", up=306, gave_up=True) == (0, False)


def test_a_master_that_got_the_lock_after_all_forgets_it_gave_up(check):
    # The first of keepalived's two failures made the marker; nfsd then started.
    assert check("MASTER 100", up=400, threads=8, gave_up=True) == (0, False)


def test_a_master_whose_nfsd_stopped_fails_without_giving_up(check):
    # The lock's holder was killed: nfs-server, bound to it, stopped; no job.
    assert check("MASTER 100", up=200) == (1, False)
    # In FAULT, then BACKUP: nothing holds it back from serving again.
    assert check("FAULT", up=206) == (0, False)


def test_a_backup_does_not_touch_the_lock(check, other_server):
    assert check("BACKUP", up=500) == (0, False)
    assert check("", up=500) == (0, False)  # keepalived has not said yet
