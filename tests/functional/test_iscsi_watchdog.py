"""
The iSCSI watchdog's script (formula/nfsha/files/iscsi-watchdog.sh.jinja,
what nfsha-iscsi-watchdog.service runs), run for real with bash on session
state files laid out as the kernel's /sys/class/iscsi_session, with a
`journalctl` first on PATH that prints iscsid's lines as recorded in the lab
(tests/recorded/open-iscsi/reopen-loop.journal: `journalctl -u iscsid -o
cat` on nfs1 after a `systemctl restart tgt`, open-iscsi 2.1.8, from the
connection error to the restart that ended the loop) and a `systemctl` that
writes down what it was asked: this host has no iSCSI initiator and no
systemd. In the lab, tests/e2e/test_failover.py runs the real thing.
"""
import subprocess
import time

import pytest

from tests.conftest import ROOT
from tests.support.render import render

STUCK_AFTER = 2
MAX_WAIT = 4
# The script looks once a second and counts in bash's whole seconds.
SLACK = 3
RECORDED = ROOT / "tests/recorded/open-iscsi/reopen-loop.journal"


@pytest.fixture
def watchdog(tmp_path):
    sessions = tmp_path / "iscsi_session"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "systemctl-calls"
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(f'#!/bin/sh\necho "$(date +%s.%N) $*" >>{calls}\n')
    systemctl.chmod(0o755)
    journal = tmp_path / "iscsid.journal"
    journal.write_text("")
    journalctl = bin_dir / "journalctl"
    journalctl.write_text(f'#!/bin/sh\necho journalctl >>{tmp_path / "started"}\n[ "$1" = --unit=iscsid ] && cat {journal}\n')
    journalctl.chmod(0o755)
    # The wait between two looks starts no process (it used to be sleep 1).
    sleep = bin_dir / "sleep"
    sleep.write_text(f'#!/bin/sh\necho sleep >>{tmp_path / "started"}\nexec /bin/sleep "$@"\n')
    sleep.chmod(0o755)
    running = []

    def start(state, lines=""):
        set_state(state)
        journal.write_text(lines)
        script = tmp_path / "nfsha-iscsi-watchdog"
        script.write_text(render("salt://nfsha/files/iscsi-watchdog.sh.jinja", {
            "sessions_dir": sessions, "iscsid": "iscsid",
            "stuck_after": STUCK_AFTER, "max_wait": MAX_WAIT,
        }))
        script.chmod(0o755)
        process = subprocess.Popen([script], env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
                                   stdout=subprocess.PIPE, text=True)
        running.append(process)
        return process

    def set_state(state):
        (sessions / "session1").mkdir(parents=True, exist_ok=True)
        (sessions / "session1" / "state").write_text(f"{state}\n")

    def restarts():
        if not calls.exists():
            return []
        return [(float(at), args) for at, args in (line.split(" ", 1) for line in calls.read_text().splitlines())]

    yield start, set_state, restarts
    for process in running:
        process.kill()
        process.wait()
        process.stdout.close()


def test_a_logged_in_session_is_left_alone_and_costs_no_process(watchdog, tmp_path):
    start, _, restarts = watchdog
    start("LOGGED_IN", RECORDED.read_text())
    time.sleep(STUCK_AFTER + SLACK)
    assert restarts() == []
    assert not (tmp_path / "started").exists()


def test_a_failed_session_that_iscsid_is_not_stuck_on_is_left_to_iscsid(watchdog):
    # A target that is down or still starting: iscsid keeps trying, without
    # the reopen loop's line, or with it for another session only.
    start, _, restarts = watchdog
    start("FAILED", RECORDED.read_text().replace("to session 1,", "to session 2,"))
    time.sleep(STUCK_AFTER + SLACK)
    assert restarts() == []


def test_a_stuck_session_restarts_iscsid_then_less_often(watchdog):
    start, set_state, restarts = watchdog
    began = time.time()
    process = start("FAILED", RECORDED.read_text())
    deadline = time.monotonic() + STUCK_AFTER + MAX_WAIT + 2 * SLACK
    while len(restarts()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    found = restarts()
    assert [args for _, args in found[:2]] == ["restart iscsid"] * 2, found
    first, second = found[0][0], found[1][0]
    assert STUCK_AFTER <= first - began < STUCK_AFTER + SLACK
    # The first restart did not help: the next one waited twice as long.
    assert 2 * STUCK_AFTER <= second - first < 2 * STUCK_AFTER + SLACK
    # Back: no more restarts, and the wait is STUCK_AFTER again.
    set_state("LOGGED_IN")
    time.sleep(2)
    count = len(restarts())
    set_state("FAILED")
    failed = time.time()
    deadline = time.monotonic() + STUCK_AFTER + SLACK
    while len(restarts()) == count and time.monotonic() < deadline:
        time.sleep(0.2)
    assert STUCK_AFTER <= restarts()[count][0] - failed < STUCK_AFTER + SLACK
    process.kill()
    out, _ = process.communicate()
    assert out.splitlines()[0] == (
        f"session1: FAILED for {STUCK_AFTER} s with iscsid stuck re-opening it"
        ' ("can\'t bind conn", open-iscsi #387): restarting iscsid'
    )
