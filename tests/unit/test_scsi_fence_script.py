"""
nfsha-scsi-fence's reading of the target (formula/nfsha/files/
scsi-fence.sh.jinja): its functions run in bash against sg_persist's own
outputs, recorded in the lab (tests/recorded/sg3-utils), replayed by a
stand-in sg_persist on PATH. What it does with the target (fence, register,
clear, reboot) runs for real in the lab: tests/e2e/test_failover.py's
frozen-holder, and tgt's side in tests/functional/test_tgt.py.
"""
import subprocess

import pytest

from tests.conftest import ROOT
from tests.support.render import render

RECORDED = ROOT / "tests/recorded/sg3-utils"
MINE, PEER = "0x6e66736800000001", "0x6e66736800000002"
# sg_persist, replaying the recorded answer to READ RESERVATION or READ KEYS.
STAND_IN = """#!/bin/sh
# A unit attention first, as many times as $ATTENTIONS says (sg_persist: exit 6).
count=$(cat "$COUNTER" 2>/dev/null || echo 0)
echo $((count + 1)) >"$COUNTER"
if [ "$count" -lt "${ATTENTIONS:-0}" ]; then echo "PR in (Read reservation): Unit attention" >&2; exit 6; fi
case "$*" in
    *--read-reservation*) cat "$RESERVATION" ;;
    *--read-keys*) cat "$KEYS" ;;
    # PR OUT (register, reserve, preempt, clear): taken, and logged.
    *--out*) echo "$*" >>"$OUTS" ;;
    *) exit 99 ;;
esac
"""


@pytest.fixture
def fence(tmp_path):
    script = render("salt://nfsha/files/scsi-fence.sh.jinja", {
        "device": "/dev/null", "my_key": MINE, "peer_keys": {2: PEER}, "records_dir": tmp_path / "records",
        "call_timeout": 10, "device_wait": 1, "poll_interval": 2, "idle_interval": 30,
    })
    # Its functions, without the command dispatch at the end.
    functions = tmp_path / "functions.sh"
    functions.write_text(script[:script.index("case ${1:-} in")])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sg_persist").write_text(STAND_IN)
    (bin_dir / "sg_persist").chmod(0o755)

    def run(snippet, reservation, keys, attentions=0):
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "RESERVATION": str(reservation), "KEYS": str(keys),
               "COUNTER": str(tmp_path / "calls"), "ATTENTIONS": str(attentions),
               "OUTS": str(tmp_path / "outs")}
        return subprocess.run(["bash", "-c", f"source {functions}; {snippet}"],
                              env=env, capture_output=True, text=True, check=False)
    return run


def recorded(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_no_reservation_reads_no_keys(fence):
    # The daemon's look every few seconds, while all is well: one command.
    ret = fence('read_state; echo "[$holder][$keys]"', RECORDED / "read-reservation-none.txt", "/nonexistent")
    assert ret.returncode == 0, ret.stderr
    assert ret.stdout == "[][]\n"


def test_no_keys_registered_is_an_answer_not_a_failure(fence):
    ret = fence('read_state keys && echo "[$holder][$keys]"',
                RECORDED / "read-reservation-none.txt", RECORDED / "read-keys-none.txt")
    assert ret.returncode == 0, ret.stderr
    assert ret.stdout == "[][]\n"


def test_a_reservation_and_every_registration_are_read(fence):
    # tgt lists one registration per iSCSI session that registered: 11
    # boots of one server with the same key, in the lab.
    ret = fence('read_state; echo "[$holder]"; printf %s "$keys" | sort | uniq -c',
                RECORDED / "read-reservation-held.txt", RECORDED / "read-keys-orphans.txt")
    assert ret.returncode == 0, ret.stderr
    assert ret.stdout.split("\n")[0] == "[0xffffffffffffffff]"
    assert ret.stdout.split("\n")[1].split() == ["11", "0xffffffffffffffff"]


@pytest.mark.parametrize(("holder", "keys", "fenced"), [
    # No reservation: nobody is fenced, whatever is registered.
    (None, [], False),
    # The peer fenced this server: its reservation, this key gone.
    (PEER, [PEER], True),
    # The peer's reservation, this server registered again (after a reboot).
    (PEER, [PEER, MINE], False),
    # This server's own reservation.
    (MINE, [MINE], False),
])
def test_fenced_means_another_servers_reservation_and_this_key_gone(fence, tmp_path, holder, keys, fenced):
    ret = fence("read_state keys && fenced", *target_state(tmp_path, holder, keys))
    assert (ret.returncode == 0) is fenced, ret.stderr


def target_state(tmp_path, holder, keys):
    """READ RESERVATION and READ KEYS answers: the recorded ones, with ``holder`` and ``keys``."""
    held = RECORDED / "read-reservation-held.txt"
    reservation = (recorded(tmp_path, "reservation.txt", held.read_text().replace("0xffffffffffffffff", holder))
                   if holder else RECORDED / "read-reservation-none.txt")
    listed = RECORDED / "read-keys-orphans.txt"
    header = listed.read_text().splitlines()[0].replace("11", str(len(keys)))
    key_file = recorded(tmp_path, "keys.txt", "\n".join([header] + [f"    {k}" for k in keys]) + "\n")
    return reservation, key_file


@pytest.mark.parametrize(("holder", "cleared"), [(MINE, True), (PEER, False)])
def test_only_the_holder_clears_once_every_server_is_back(fence, tmp_path, holder, cleared):
    # Found in the lab: the server fenced while it was out, back and
    # registered, cleared the reservation itself; its holder, which alone
    # records its fences, took it for lost and fenced that server again
    # in the middle of its mount.
    (tmp_path / "livenodes").write_text("1 2\n")
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "2").touch()
    ret = fence(f"livenodes={tmp_path / 'livenodes'}; read_state keys && release",
                *target_state(tmp_path, holder, [PEER, MINE]))
    assert ret.returncode == 0, ret.stderr
    outs = (tmp_path / "outs").read_text().splitlines() if (tmp_path / "outs").exists() else []
    if cleared:
        assert [o.split()[:4] for o in outs] == [["--no-inquiry", "--readonly", "--out", "--register-ignore"],
                                                 ["--no-inquiry", "--readonly", "--out", "--clear"]]
        assert ret.stdout == "every server is back and registered: reservation cleared\n"
        assert list((tmp_path / "records").iterdir()) == []
    else:
        assert outs == [] and ret.stdout == ""
        assert (tmp_path / "records" / "2").exists()


def test_a_disk_that_does_not_answer_fails_the_reading(fence, tmp_path):
    ret = fence("read_state", "/nonexistent", "/nonexistent")
    assert ret.returncode != 0


def test_a_unit_attention_is_asked_again(fence):
    # Found in the lab: the first command of a server after the other
    # preempted its key gets a unit attention (exit 6), register failed.
    ret = fence('read_state && echo "[$holder]"', RECORDED / "read-reservation-held.txt",
                RECORDED / "read-keys-orphans.txt", attentions=2)
    assert ret.returncode == 0, ret.stderr
    assert ret.stdout == "[0xffffffffffffffff]\n"


def test_three_unit_attentions_in_a_row_are_a_failure(fence, tmp_path):
    ret = fence("read_state", RECORDED / "read-reservation-held.txt", RECORDED / "read-keys-orphans.txt",
                attentions=3)
    assert ret.returncode != 0
    assert (tmp_path / "calls").read_text() == "3\n"


# The kernel's lines the daemon acts on, as nfs1's console printed them in
# the lab's frozen-holder scenario (tests/recorded/kernel/).
KERNEL = ROOT / "tests/recorded/kernel"


def kernel_line(name, pattern):
    line = next(l for l in (KERNEL / name).read_text().splitlines() if pattern in l)
    # journalctl --output=cat prints the message without the console's time stamp.
    return line.split("] ", 1)[1]


def test_an_eviction_fences_the_node_or_leaves_it_pending(fence, tmp_path):
    # The disk does not answer: the fence is left for the next look.
    line = kernel_line("frozen-holder-survivor.txt", "has evicted node")
    ret = fence(f'kernel_said {line!r}; echo "[${{!pending[*]}}]"; guarding && echo guarding',
                "/nonexistent", "/nonexistent")
    assert ret.stdout == "[1]\nguarding\n", ret.stderr


def test_a_refused_write_makes_the_daemon_look_at_once(fence):
    line = kernel_line("frozen-holder-fenced.txt", "reservation conflict")
    ret = fence(f'due 1 || echo idle; kernel_said {line!r}; due 1 && echo due; due 0 || echo "not twice a second"',
                "/nonexistent", "/nonexistent")
    assert ret.stdout == "idle\ndue\nnot twice a second\n", ret.stderr


@pytest.mark.parametrize(("state", "guarding"), [
    # All well: no reservation, nothing fenced by this server.
    (":", False),
    # A reservation held when last read.
    (f"holder={PEER}", True),
    # A fence of this server's on record (the target may have forgotten it).
    ("mkdir -p $records; touch $records/2", True),
    # An eviction whose fence is still to be done.
    ("pending[2]=1", True),
])
def test_the_daemon_looks_often_only_while_a_reservation_may_be_in_force(fence, state, guarding):
    ret = fence(f"{state}; guarding && echo guarding; due 2 && echo due; due 29 || echo waits; due 30 && echo due",
                "/nonexistent", "/nonexistent")
    assert ret.stdout == ("guarding\ndue\ndue\n" if guarding else "waits\ndue\n"), ret.stderr
